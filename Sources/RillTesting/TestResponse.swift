public import Rill

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A response as a test client received it.
///
/// ```swift
/// let response = try await client.get("/users/7")
/// #expect(response.status == .ok)
/// let user = try response.decode(User.self)
/// ```
public struct TestResponse: Sendable, Equatable {
    /// The status (for a live response, with the reason phrase the server sent).
    public var status: HTTPResponse.Status
    /// The header fields. In `.router` mode these are only the fields the handler set: the
    /// server adds `Content-Length`, `Date`, `Server` and `Connection` on the wire.
    public var headerFields: HTTPFields
    /// The body, decoded from its framing (no chunk sizes).
    public var body: [UInt8]
    /// Trailer fields of a chunked body (empty otherwise).
    public var trailerFields: HTTPFields
    /// The protocol version of the status line (HTTP/1.1 in `.router` mode).
    public var version: HTTPVersion

    /// Creates a response.
    public init(
        status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = [],
        trailerFields: HTTPFields = [:], version: HTTPVersion = .http1_1
    ) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
        self.trailerFields = trailerFields
        self.version = version
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Decodes the body as JSON.
    ///
    /// ```swift
    /// struct Failure: Decodable { struct Detail: Decodable { var status: Int; var message: String? }; var error: Detail }
    /// let failure = try response.decode(Failure.self)
    /// ```
    public func decode<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(T.self, from: Data(body))
    }
}

extension TestResponse: CustomStringConvertible {
    /// The status line, the header fields and up to 200 bytes of body, for failure messages.
    public var description: String {
        var text = "\(version) \(status.code) \(status.reasonPhrase)\n"
        for field in headerFields { text += "\(field.name): \(field.value)\n" }
        let preview = String(decoding: body.prefix(200), as: UTF8.self)
        text += "\n" + preview + (body.count > 200 ? "… (\(body.count) bytes)" : "")
        return text
    }
}
