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
    /// Unowned: the router's routes keep their groups (their middleware is read when the
    /// application starts), so a strong reference back would keep both alive for ever. A group
    /// is used while its router's application is.
    private unowned let router: Router
    private let parents: [RouterGroup]
    private(set) var middleware: [any Middleware] = []
    private(set) var bodyChecks: [BodyCheck] = []

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

    /// Adds a check that runs on the head of every request to this group's routes (and its
    /// subgroups') that announces a body, before any of that body is received: throw — an
    /// ``HTTPError``, typically 401 or 403 — to refuse the request unread. The refusal is sent
    /// with `Connection: close` (the body is never read), and a client that sent
    /// `Expect: 100-continue` gets it instead of `100 Continue`.
    ///
    /// ```swift
    /// let uploads = router.group("/uploads")
    /// uploads.checkBeforeBody { request, context in
    ///     guard let user = try await sessions.user(for: request) else { throw HTTPError(.unauthorized) }
    ///     context.storage[UserKey.self] = user  // the handler finds it
    /// }
    /// uploads.post("/", maxBodyBytes: 64 << 20) { request, context in
    ///     let user = try context.storage[UserKey.self] ?? sessions.requireUser(for: request)  // bodyless: not checked
    ///     …
    /// }
    /// ```
    ///
    /// What the check stores in the context's ``RequestContext/storage`` — a user, a JWT's
    /// claims (RillJWT's `authenticate(_:context:)` keeps them there) — reaches the handler, so
    /// a credential is verified once; the request id it sees is the handler's.
    ///
    /// Without it, every request body is received whole before middleware or the handler runs,
    /// so unauthenticated clients can fill the server's budget for bodies in flight
    /// (``ServerConfiguration/maxReceivingRequestBodyBytes``) and have authorized uploads
    /// refused with 503. The check keeps them out; it does not replace the route's own
    /// authorization: requests without a body skip it. What it throws is answered as the
    /// handler's error would be, through the router's and the groups' middleware (a CORS
    /// middleware still adds its fields). The request it sees has an empty body and the
    /// route's path parameters. Checks of outer groups run first.
    /// Applies to HTTP/1.1 and HTTP/2 requests alike; an HTTP/1.1 request pipelined behind
    /// another is checked once the responses before it are written (its body waits meanwhile).
    /// To refuse a publisher the channel authorization hook would refuse, call
    /// ``RequestContext/authorizePublish(to:for:)`` here.
    @discardableResult
    public func checkBeforeBody(_ check: @escaping BodyCheck) -> Self {
        router.preconditionConfigurable()
        bodyChecks.append(check)
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
