public import HTTPTypes

/// Routes that share a path prefix and middleware — Flask's blueprints.
///
/// ```swift
/// let api = router.group("/api")
/// api.add(middleware: RequireTokenMiddleware())
/// api.get("/users/:id") { request, context in try context.parameter("id") }   // GET /api/users/7
/// ```
///
/// Middleware added to a group wraps every route of the group (and of its subgroups), whenever
/// the route was registered.
public final class RouterGroup: RouterMethods, @unchecked Sendable {
    /// The full prefix of the group, such as `/api/v1`.
    public let prefix: String
    private let router: Router
    private let parents: [RouterGroup]
    private(set) var middleware: [any Middleware] = []

    init(prefix: String, router: Router, parents: [RouterGroup]) {
        self.prefix = prefix
        self.router = router
        self.parents = parents
    }

    /// Adds middleware around every route of this group.
    @discardableResult
    public func add(middleware: any Middleware) -> Self {
        router.preconditionConfigurable()
        self.middleware.append(middleware)
        return self
    }

    /// A subgroup whose prefix is this group's prefix followed by `prefix`.
    public func group(_ prefix: String) -> RouterGroup {
        RouterGroup(prefix: Router.join(self.prefix, prefix), router: router, parents: parents + [self])
    }

    public func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, responder: @escaping Responder) {
        router.register(
            Route(
                method: method, pattern: Router.join(prefix, path), maxBodyBytes: maxBodyBytes, handler: responder,
                groups: parents + [self]))
    }

    public func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, synchronousResponder: @escaping SynchronousResponder) {
        router.register(
            Route(
                method: method, pattern: Router.join(prefix, path), maxBodyBytes: maxBodyBytes,
                synchronousHandler: synchronousResponder, groups: parents + [self]))
    }
}
