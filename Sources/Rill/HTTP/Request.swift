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
    /// The path, without the query string, still percent-encoded.
    public var path: Substring { head.path }
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
