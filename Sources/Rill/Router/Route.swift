import HTTPTypes

/// One registered endpoint: its method, pattern, body limit and the responder that runs the
/// handler behind the middleware of the groups it was registered in.
final class Route: @unchecked Sendable {
    let method: HTTPRequest.Method
    let pattern: String
    let maxBodyBytes: Int?
    let handler: Responder
    /// The handler as registered, when it is synchronous (``handler`` then calls it).
    let synchronousHandler: SynchronousResponder?
    /// The groups from outermost to innermost; their middleware wraps the handler.
    let groups: [RouterGroup]
    /// The handler inside its groups' middleware, composed once when the application starts.
    private(set) var responder: Responder
    /// The synchronous handler when no middleware wraps it (set by ``compose(routerHasMiddleware:)``):
    /// the server calls it inline, with no task.
    private(set) var inlineResponder: SynchronousResponder?
    /// Its groups' checks before a body (``RouterGroup/checkBeforeBody(_:)``), outermost first,
    /// as one; nil without any (set by ``compose(routerHasMiddleware:)``).
    private(set) var bodyCheck: BodyCheck?

    init(
        method: HTTPRequest.Method, pattern: String, maxBodyBytes: Int?, handler: @escaping Responder, groups: [RouterGroup],
        synchronousHandler: SynchronousResponder? = nil
    ) {
        self.method = method
        self.pattern = pattern
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
        self.synchronousHandler = synchronousHandler
        self.groups = groups
        responder = handler
    }

    /// A route whose handler is synchronous (it runs inline where no middleware wraps it).
    convenience init(
        method: HTTPRequest.Method, pattern: String, maxBodyBytes: Int?, synchronousHandler: @escaping SynchronousResponder,
        groups: [RouterGroup]
    ) {
        self.init(
            method: method, pattern: pattern, maxBodyBytes: maxBodyBytes,
            // Behind middleware it runs in the request's task: what it left pending (a
            // synchronous `eventStream(for:)`) is resolved here, so middleware sees the real head.
            handler: { request, context in try await synchronousHandler(request, context).resolvingPending() }, groups: groups,
            synchronousHandler: synchronousHandler)
    }

    func compose(routerHasMiddleware: Bool) {
        // A loop, not `reduce`: see `Router.wrap(_:in:)`.
        var composed = handler
        for group in groups.reversed() { composed = Router.wrap(composed, in: group.middleware) }
        responder = composed
        let wrapped = routerHasMiddleware || groups.contains { !$0.middleware.isEmpty }
        inlineResponder = wrapped ? nil : synchronousHandler
        let checks = groups.flatMap(\.bodyChecks)
        if checks.count == 1 {
            bodyCheck = checks[0]
        } else if !checks.isEmpty {
            bodyCheck = { request, context in
                for check in checks { try await check(request, &context) }
            }
        }
    }
}

/// The signature every layer of request handling shares: a request and its context in, a
/// response out.
public typealias Responder = @Sendable (Request, RequestContext) async throws -> Response

/// A handler that answers without suspending: routes registered with one run inline on the
/// connection's loop when no middleware wraps them (no task is created for the request).
public typealias SynchronousResponder = @Sendable (Request, RequestContext) throws -> Response
