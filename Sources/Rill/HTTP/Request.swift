public import HTTPTypes
public import RillHTTP

/// An HTTP request as a handler sees it: method, path, query, header fields and the body.
///
/// The body is read completely (up to the route's body limit) before the handler runs.
public struct Request: Sendable {
    /// The parsed request head as it arrived.
    public let head: HTTPRequestHead
    /// The request body; empty when the request had none.
    public var body: [UInt8]

    /// Creates a request from a parsed head and its body.
    public init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
        self.query = URLQuery(head.query ?? "")
    }

    /// The request method.
    public var method: HTTPRequest.Method { head.method }
    /// The path, without the query string, exactly as sent: still percent-encoded, with any
    /// empty segments. The router does not match this text but ``routingPath``: a middleware
    /// that decides by path (authorization, rate limits) must read ``routingPath`` too, or
    /// `/admin` guarded by `path.hasPrefix("/admin")` is reached as `//admin` or `/%61dmin`.
    public var path: Substring { head.path }
    /// The path as the router matches it: each segment percent-decoded, empty segments dropped
    /// (`//a/` is `/a`), joined with `/` after a leading `/`; a `/` or `%` that a segment
    /// decodes to is written `%2F` or `%25`, so the text splits back into the same segments.
    /// nil when a segment cannot be decoded strictly (a bad escape, `%00`, invalid UTF-8): the
    /// router answers such a path with 400.
    ///
    /// ```swift
    /// struct AdminOnly: Middleware {
    ///     func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
    ///         if request.routingPath?.hasPrefix("/admin/") ?? true { try requireAdmin(request) }
    ///         return try await next(request, context)
    ///     }
    /// }
    /// ```
    public var routingPath: String? {
        var result = ""
        for segment in PathSegments(head.path) {
            guard let decoded = PercentDecoding.decodePathSegment(segment) else { return nil }
            result.append("/")
            for character in decoded.unicodeScalars {
                switch character {
                case "/": result.append("%2F")
                case "%": result.append("%25")
                default: result.unicodeScalars.append(character)
                }
            }
        }
        return result.isEmpty ? "/" : result
    }
    /// The host the request is for: the authority of an absolute-form target
    /// (`GET http://example.com/a`), which replaces the `Host` field (RFC 9112 §3.2.2), or the
    /// `Host` field; nil when there is neither (an HTTP/1.0 request without `Host`).
    public var host: Substring? { head.authority }
    /// The request-target as sent, such as `/search?q=rill`.
    public var target: String { head.target }
    /// The header fields.
    public var headerFields: HTTPFields { head.headerFields }
    /// The decoded query parameters.
    public let query: URLQuery
    /// The HTTP version of the request.
    public var version: HTTPVersion { head.version }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
