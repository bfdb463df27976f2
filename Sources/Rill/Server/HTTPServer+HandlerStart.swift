/// How a complete request's handling starts (HTTP/1.1 connections and HTTP/2 streams alike).
enum HandlerStart {
    /// A synchronous handler that no middleware wraps already answered (never a pending response).
    case answered(Response)
    /// The responder to run in the request's task: the route's (already resolved) or the router's.
    case inTask(Responder)
}

extension HTTPServer {
    /// Starts handling `request` (``Router/dispatch(_:)``): a synchronous handler that no middleware
    /// wraps runs now, on the loop, and its response (or the answer to its error) is returned;
    /// otherwise the responder for the request's task. `context` gets the route's path parameters.
    func startHandling(_ request: Request, context: inout RequestContext) -> HandlerStart {
        switch dispatch(request) {
        case .inline(let handler, let parameters):
            context.parameters = parameters
            do {
                let response = try handler(request, context)
                // A synchronous `eventStream(for:)` that needs the authorization hook or a remote
                // broker finishes in the request's task, before the head.
                guard case .pending(let resolve) = response.body.storage else { return .answered(response) }
                return .inTask { _, _ in try await resolve() }
            } catch {
                return .answered(HTTPConnection.response(for: error, of: request, context: context))
            }
        case .route(let routeResponder, let parameters):
            context.parameters = parameters
            return .inTask(routeResponder)
        case .responder:
            return .inTask(responder)
        }
    }
}
