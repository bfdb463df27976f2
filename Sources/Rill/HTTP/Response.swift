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

extension Response {
    /// Whether the response still has to be finished in a task (see ``resolvingPending()``).
    package var isPending: Bool {
        if case .pending = body.storage { return true }
        return false
    }

    /// The finished response: a pending one (a synchronous `RequestContext.eventStream(for:)`
    /// that needs the authorization hook or a remote broker) is resolved now, on the caller's
    /// loop; any other is returned as it is. Every path from a handler to a head goes through it
    /// (the route's wrappers, the server's request task, the in-process test client).
    package func resolvingPending() async throws -> Response {
        guard case .pending(let resolve) = body.storage else { return self }
        return try await resolve()
    }
}

/// A pending response reached a body writer unresolved (a framework bug, never a client's doing):
/// the connection closes rather than send a head that is not the response's.
struct UnresolvedResponseError: Error, CustomStringConvertible {
    var description: String { "a pending response was written before it was resolved" }
}
