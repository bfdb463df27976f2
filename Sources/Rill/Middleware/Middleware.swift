/// Code that runs around handlers: it sees the request first and the response (or error) last.
///
/// ```swift
/// struct RequireToken: Middleware {
///     func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
///         guard request.headerFields[.authorization] == "Bearer secret" else { throw HTTPError(.unauthorized) }
///         return try await next(request, context)
///     }
/// }
/// ```
public protocol Middleware: Sendable {
    /// Handles `request`, usually by calling `next` and returning (or adapting) its response.
    func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response
}

/// Middleware from a closure.
public struct ClosureMiddleware: Middleware {
    private let body: @Sendable (Request, RequestContext, Responder) async throws -> Response

    /// Wraps `body`, which receives the request, the context and the next responder.
    public init(_ body: @escaping @Sendable (Request, RequestContext, Responder) async throws -> Response) {
        self.body = body
    }

    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        try await body(request, context, next)
    }
}
