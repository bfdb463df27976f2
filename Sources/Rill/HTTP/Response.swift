public import HTTPTypes

/// An HTTP response: status, header fields and a body.
///
/// Handlers usually return plain values (`String`, bytes, a status, an `Encodable` value) and
/// let the framework build the `Response`; build one yourself for full control.
public struct Response: Sendable {
    /// The status.
    public var status: HTTPResponse.Status
    /// The header fields. `Content-Length`, `Transfer-Encoding`, `Date`, `Server` and
    /// `Connection` are managed by the server.
    public var headerFields: HTTPFields
    /// The body.
    public var body: ResponseBody

    /// Creates a response.
    public init(status: HTTPResponse.Status = .ok, headerFields: HTTPFields = [:], body: ResponseBody = .empty) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }
}
