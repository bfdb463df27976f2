public import HTTPTypes
import RillHTTP

/// Maps method and path to handlers.
///
/// ```swift
/// let router = Router()
/// router.get("/hello") { request, context in "Hello" }
/// router.get("/users/:id") { request, context in try context.parameter("id") }
/// router.get("/files/**") { request, context in context.parameters.catchAll ?? "" }
/// let api = router.group("/api")
/// api.post("/echo") { request, context in request.bodyText }
/// ```
///
/// Patterns: literal segments, `:name` parameters, `*` for any one segment, and a trailing
/// `**` that captures the rest of the path. An unknown path answers 404; a known path without
/// a handler for the method answers 405 with an `Allow` header. `HEAD` falls back to `GET`.
///
/// - Important: configure the router before the application starts; it is read-only after.
public final class Router: RouterMethods, @unchecked Sendable {
    private var trie = RouterTrie<RoutesByMethod>()
    private var middleware: [any Middleware] = []
    private var routes: [Route] = []
    private var frozen = false
    /// The methods some route answers, set when the router freezes: with the standard ones, the
    /// methods it recognizes (any other is a 501).
    private var routedMethods: Set<HTTPRequest.Method> = []

    /// Creates an empty router.
    public init() {}

    /// Adds middleware around every request, including those that end in 404 or 405.
    @discardableResult
    public func add(middleware: any Middleware) -> Self {
        preconditionConfigurable()
        self.middleware.append(middleware)
        return self
    }

    /// A group of routes under `prefix`.
    public func group(_ prefix: String) -> RouterGroup {
        RouterGroup(prefix: Self.join("", prefix), router: self, parents: [])
    }

    public func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, responder: @escaping Responder) {
        register(Route(method: method, pattern: Self.join("", path), maxBodyBytes: maxBodyBytes, handler: responder, groups: []))
    }

    public func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, synchronousResponder: @escaping SynchronousResponder) {
        register(
            Route(
                method: method, pattern: Self.join("", path), maxBodyBytes: maxBodyBytes, synchronousHandler: synchronousResponder,
                groups: []))
    }

    func register(_ route: Route) {
        preconditionConfigurable()
        routes.append(route)
        trie.update(route.pattern, default: RoutesByMethod()) { routes in routes[route.method] = route }
    }

    /// Lets go of every route, group and middleware, and so of their handlers, which often
    /// capture the application: called once the application has shut down, so that an
    /// application whose routes capture it is freed. The router answers nothing afterwards.
    func releaseHandlers() {
        trie = RouterTrie()
        middleware = []
        routes = []
    }

    func preconditionConfigurable() {
        precondition(!frozen, "routes and middleware must be added before the application starts")
    }

    static func join(_ prefix: String, _ path: String) -> String {
        let left = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        let right = path.hasPrefix("/") ? path : "/" + path
        return left + right
    }

    /// The route for `method` and `path`, with its captured parameters.
    func resolve(method: HTTPRequest.Method, path: Substring) -> RouteMatch {
        if path == "*" {
            // `OPTIONS *` (the parser takes the asterisk-form for OPTIONS only) asks about the
            // server as a whole (RFC 9110 §9.3.7): every method some route answers. Never
            // matched against the routes: `*` is no path, and a `/:name` route would take it.
            return .options(Self.allowedMethods(routes.map(\.method)))
        }
        guard let (routes, parameters) = trie.resolve(path) else { return .notFound }
        if let route = routes[method] ?? (method == .head ? routes[.get] : nil) {
            return .found(route, parameters)
        }
        let allowed = Self.allowedMethods(routes.methods)
        return method == .options ? .options(allowed) : .methodNotAllowed(allowed)
    }

    /// What an `Allow` field lists for a resource with routes for `methods`: those, `HEAD`
    /// where `GET` is routed, and `OPTIONS`, which the router answers itself; sorted.
    static func allowedMethods(_ methods: some Sequence<HTTPRequest.Method>) -> [String] {
        var allowed = Set(methods)
        if allowed.contains(.get) { allowed.insert(.head) }
        allowed.insert(.options)
        return allowed.map(\.rawValue).sorted()
    }

    enum RouteMatch {
        case found(Route, Parameters)
        case notFound
        case methodNotAllowed([String])
        /// An `OPTIONS` request for a resource with routes but no `OPTIONS` route of its own:
        /// answered `204` with the `Allow` field (RFC 9110 §9.3.7).
        case options([String])
    }

    /// What a request with this head may send as its body: its route's limit (nil: the
    /// server's default, `defaultMaxBodyBytes`). Screened first (``screen(_:context:defaultMaxBodyBytes:)``)
    /// when its route checks heads before bodies; when its `Content-Length` is over the limit
    /// (the 413 then goes through the middleware, so that a CORS middleware adds its fields);
    /// and when no route takes it and the client waits for `100 Continue` or declares too
    /// large a body: the 404 or 405 is the answer it waits for, not an invitation to send the
    /// body.
    func bodyAdmission(for head: HTTPRequestHead, defaultMaxBodyBytes: Int? = nil) -> BodyAdmission {
        guard head.bodyFraming != .none else { return BodyAdmission(maxBytes: nil) }
        switch resolve(method: head.method, path: head.path) {
        case .found(let route, _):
            let tooLarge = Self.declaresMore(head, than: route.maxBodyBytes ?? defaultMaxBodyBytes)
            return BodyAdmission(maxBytes: route.maxBodyBytes, isScreened: route.bodyCheck != nil || tooLarge)
        case .notFound, .methodNotAllowed:
            return BodyAdmission(maxBytes: nil, isScreened: head.expectsContinue || Self.declaresMore(head, than: defaultMaxBodyBytes))
        case .options: return BodyAdmission(maxBytes: nil)
        }
    }

    /// Whether `head`'s `Content-Length` is over `limit` (nil: no limit known here).
    private static func declaresMore(_ head: HTTPRequestHead, than limit: Int?) -> Bool {
        guard let limit, case .contentLength(let length) = head.bodyFraming else { return false }
        return length > limit
    }

    /// The verdict on a request whose head arrived and whose body waits (its admission was
    /// screened): its route's checks to run, or the 413, 404 or 405 that answers it.
    func screen(_ request: Request, context: RequestContext, defaultMaxBodyBytes: Int? = nil) -> HeadScreening {
        switch resolve(method: request.method, path: request.path) {
        case .found(let route, let parameters):
            var context = context
            context.parameters = parameters
            if Self.declaresMore(request.head, than: route.maxBodyBytes ?? defaultMaxBodyBytes) {
                let tooLarge = HTTPError(.contentTooLarge, message: "the request body is larger than allowed")
                return verdict(of: { _, _ in throw tooLarge }, on: request, context: context, behind: route.groups)
            }
            guard let check = route.bodyCheck else { return .admit }
            return verdict(of: check, on: request, context: context, behind: route.groups)
        case .options:
            return .admit
        case .notFound, .methodNotAllowed:
            do {
                _ = try route(request, context: context)
                return .admit
            } catch {
                return verdict(of: { _, _ in throw error }, on: request, context: context, behind: [])
            }
        }
    }

    /// Runs `check` on `request`; what it throws is answered as if the handler had thrown it,
    /// behind the router's middleware and `groups'`.
    private func verdict(
        of check: @escaping BodyCheck, on request: Request, context: RequestContext, behind groups: [RouterGroup]
    ) -> HeadScreening {
        let routerMiddleware = middleware
        return .screen {
            var checked = context
            do {
                try await check(request, &checked)
                return .admitted(checked.storage)
            } catch {
                var responder: Responder = { _, _ in throw error }
                for group in groups.reversed() { responder = Self.wrap(responder, in: group.middleware) }
                responder = Self.wrap(responder, in: routerMiddleware)
                do {
                    return .refused(try await responder(request, context))
                } catch {
                    return .refused(HTTPConnection.response(for: error, of: request, context: context))
                }
            }
        }
    }

    /// Freezes the router and composes middleware and handlers into one responder.
    func makeResponder() -> Responder {
        frozen = true
        routedMethods = Set(routes.map(\.method))
        // Compose each route's group middleware once, not per request.
        let hasMiddleware = !middleware.isEmpty
        for route in routes { route.compose(routerHasMiddleware: hasMiddleware) }
        let endpoint: Responder = { [self] request, context in
            let (responder, routed) = try self.route(request, context: context)
            return try await responder(request, routed)
        }
        return Self.wrap(endpoint, in: middleware)
    }

    /// How the server runs `request`'s handler: a synchronous route that no middleware wraps
    /// inline; a route behind no router middleware through its own responder (the router's
    /// responder would resolve the path again); anything else (router middleware, 404, 405)
    /// through the router's responder. Read-only after ``makeResponder()``, so any thread may ask.
    func dispatch(_ request: Request) -> RequestDispatch {
        guard middleware.isEmpty, case .found(let route, let parameters) = resolve(method: request.method, path: request.path) else {
            return .responder
        }
        if let inline = route.inlineResponder { return .inline(inline, parameters) }
        return .route(route.responder, parameters)
    }

    /// The responder of the route `request` matches and the context with its path parameters,
    /// or the 404/405 error. Synchronous and out of line, so that none of it sits in the
    /// request's async frames (measured: inlined into the endpoint closure it made a 752-byte
    /// frame, a task-allocator slab per request).
    @inline(never)
    private func route(_ request: Request, context: RequestContext) throws -> (Responder, RequestContext) {
        switch resolve(method: request.method, path: request.path) {
        case .found(let route, let parameters):
            var context = context
            context.parameters = parameters
            return (route.responder, context)
        case .notFound:
            try refuseUnrecognizedMethod(request.method)
            // A path no route could take because it cannot be decoded is the client's error.
            guard request.routingPath != nil else {
                throw HTTPError(.badRequest, message: "the path has a malformed percent-escape, an encoded NUL or bytes that are not UTF-8")
            }
            throw HTTPError(.notFound, message: "no route for \(request.path)")
        case .methodNotAllowed(let allowed):
            try refuseUnrecognizedMethod(request.method)
            var fields = HTTPFields()
            fields[.allow] = allowed.joined(separator: ", ")
            throw HTTPError(.methodNotAllowed, message: "\(request.method) is not allowed here", headerFields: fields)
        case .options(let allowed):
            return (Self.optionsResponder(allowing: allowed), context)
        }
    }

    /// The methods of RFC 9110 (§9) and PATCH (RFC 5789): what a server recognizes whether or
    /// not it serves them.
    private static let standardMethods: Set<HTTPRequest.Method> = [
        .get, .head, .post, .put, .delete, .connect, .options, .trace, .patch,
    ]

    /// A method neither standard nor answered by any route is not recognized: 501 (RFC 9110
    /// §15.6.2), not 405 (a method the resource does not allow).
    private func refuseUnrecognizedMethod(_ method: HTTPRequest.Method) throws {
        guard !Self.standardMethods.contains(method), !routedMethods.contains(method) else { return }
        throw HTTPError(.notImplemented, message: "the method \(method) is not implemented by this server")
    }

    /// A responder that answers `204 No Content` with an `Allow` field listing `allowed`.
    private static func optionsResponder(allowing allowed: [String]) -> Responder {
        var fields = HTTPFields()
        fields[.allow] = allowed.joined(separator: ", ")
        let response = Response(status: .noContent, headerFields: fields)
        return { _, _ in response }
    }

    /// `responder` behind `middleware` (the first one outermost). A plain loop, not `reduce`:
    /// passing the closures through a generic function would wrap each in a pair of
    /// reabstraction thunks — two extra async frames (400 bytes each) on every request, even
    /// with no middleware at all.
    static func wrap(_ responder: @escaping Responder, in middleware: [any Middleware]) -> Responder {
        var wrapped = responder
        for middleware in middleware.reversed() {
            let next = wrapped
            wrapped = { request, context in try await middleware.handle(request, context: context, next: next) }
        }
        return wrapped
    }
}
