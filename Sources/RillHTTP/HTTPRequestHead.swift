public import HTTPTypes

/// The request line and header section of one HTTP/1.x request, validated by
/// ``HTTPRequestParser``.
///
/// The framing-related properties (``bodyFraming``, ``keepAlive``, ``expectsContinue``) are
/// derived from the header fields once, while parsing, so the integrator never re-parses them.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The request method; unknown methods are kept as long as they are valid tokens.
    public var method: HTTPRequest.Method
    /// The request-target exactly as sent, e.g. `/a/b?x=1`, `*` or `http://host/a`.
    ///
    /// The parser only accepts printable ASCII here, so this string is byte-identical to the wire.
    public var target: String
    /// The protocol version of the request, HTTP/1.0 or HTTP/1.1.
    public var version: HTTPVersion
    /// All header fields in arrival order, including framing fields such as `Content-Length`.
    public var headerFields: HTTPFields
    /// How the body is delimited.
    public var bodyFraming: BodyFraming
    /// Whether the connection may stay open after the response (RFC 9112 §9.3).
    ///
    /// HTTP/1.1: `true` unless a `Connection` field lists `close`.
    /// HTTP/1.0: `false` unless a `Connection` field lists `keep-alive` (and not `close`).
    public var keepAlive: Bool
    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` and waits before sending its body.
    public var expectsContinue: Bool

    /// Creates a head from its parts; the parser is the usual source, this exists for tests and
    /// for synthesising requests in-process.
    public init(
        method: HTTPRequest.Method,
        target: String,
        version: HTTPVersion = .http1_1,
        headerFields: HTTPFields = [:],
        bodyFraming: BodyFraming = .none,
        keepAlive: Bool = true,
        expectsContinue: Bool = false
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headerFields = headerFields
        self.bodyFraming = bodyFraming
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }

    /// The path component of ``target``, without the query.
    ///
    /// For absolute-form targets (`http://host/a?b`) this is the path after the authority, or `/`
    /// when the URI has no path; for the asterisk-form it is `*`. Percent-encoding is left intact.
    public var path: Substring {
        let pathAndQuery = Self.pathAndQuery(of: target)
        let utf8 = pathAndQuery.utf8
        let end = utf8.firstIndex(of: UInt8(ascii: "?")) ?? utf8.endIndex
        let path = pathAndQuery[..<end]
        // "http://host?x" has an empty path; RFC 9112 §3.2.1 says it means "/".
        return path.isEmpty ? "/" : path
    }

    /// The host the request is for: the authority of an absolute-form target
    /// (`http://example.com:8080/a` → `example.com:8080`), which RFC 9112 §3.2.2 says replaces
    /// any `Host` field, or else the `Host` field's value; nil when there is neither (HTTP/1.0).
    public var authority: Substring? {
        let utf8 = target.utf8
        guard let first = utf8.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "*") else {
            return headerFields[Self.hostField].map { $0[...] }
        }
        let pathAndQuery = Self.pathAndQuery(of: target)
        guard let separator = utf8.firstRange(of: "://".utf8) else { return nil }
        return target[separator.upperBound..<pathAndQuery.startIndex]
    }

    /// `Host`, which swift-http-types leaves unnamed (it maps it to `:authority` for HTTP/2).
    private static let hostField = HTTPField.Name("Host")!

    /// The query component of ``target`` (after the first `?`), or `nil` when there is no `?`.
    public var query: Substring? {
        let pathAndQuery = Self.pathAndQuery(of: target)
        let utf8 = pathAndQuery.utf8
        guard let questionMark = utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        return pathAndQuery[utf8.index(after: questionMark)...]
    }

    /// Strips `scheme://authority` from an absolute-form target; other forms are returned whole.
    private static func pathAndQuery(of target: String) -> Substring {
        let utf8 = target.utf8
        // Origin-form is the overwhelmingly common case: one byte check and done.
        guard let first = utf8.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "*") else {
            return target[...]
        }
        // Absolute-form: the parser has verified the target starts with "http://" or "https://".
        var index = utf8.startIndex
        var slashes = 0
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                slashes += 1
                if slashes == 2 { break }
            }
            index = utf8.index(after: index)
        }
        guard index != utf8.endIndex else { return target[target.endIndex...] }
        index = utf8.index(after: index)
        while index != utf8.endIndex, utf8[index] != UInt8(ascii: "/"), utf8[index] != UInt8(ascii: "?") {
            index = utf8.index(after: index)
        }
        return target[index...]
    }
}
