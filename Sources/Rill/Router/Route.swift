import HTTPTypes

/// One registered endpoint: its method, pattern, body limit and the responder that runs the
/// handler behind the middleware of the groups it was registered in.
final class Route: @unchecked Sendable {
    let method: HTTPRequest.Method
    let pattern: String
    let maxBodyBytes: Int?
    let handler: Responder
    /// The groups from outermost to innermost; their middleware wraps the handler.
    let groups: [RouterGroup]
    /// The handler inside its groups' middleware, composed once when the application starts.
    private(set) var responder: Responder

    init(method: HTTPRequest.Method, pattern: String, maxBodyBytes: Int?, handler: @escaping Responder, groups: [RouterGroup]) {
        self.method = method
        self.pattern = pattern
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
        self.groups = groups
        responder = handler
    }

    func compose() {
        // A loop, not `reduce`: see `Router.wrap(_:in:)`.
        var composed = handler
        for group in groups.reversed() { composed = Router.wrap(composed, in: group.middleware) }
        responder = composed
    }
}

/// The signature every layer of request handling shares: a request and its context in, a
/// response out.
public typealias Responder = @Sendable (Request, RequestContext) async throws -> Response
