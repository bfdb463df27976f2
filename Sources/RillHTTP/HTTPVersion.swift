/// An HTTP protocol version as it appears on an HTTP/1.x request or status line.
///
/// The parser only ever produces ``http1_0`` and ``http1_1``; anything else is rejected with
/// ``HTTPParserError/unsupportedVersion`` before a head is built. Requests on HTTP/2 streams
/// carry ``http2``.
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    /// The major version digit, `1` for HTTP/1.1.
    public var major: Int
    /// The minor version digit, `1` for HTTP/1.1.
    public var minor: Int

    /// Creates a version from its two digits.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: no persistent connections unless the client asks for `keep-alive`.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1: persistent connections by default, `Host` required.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// HTTP/2: each request is a stream of a multiplexed connection.
    public static let http2 = HTTPVersion(major: 2, minor: 0)

    /// The version as written on the wire, e.g. `HTTP/1.1`.
    public var description: String {
        "HTTP/\(major).\(minor)"
    }
}
