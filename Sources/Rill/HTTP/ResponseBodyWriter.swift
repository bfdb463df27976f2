/// Writes a streamed response body. Each write becomes one HTTP chunk and leaves in one socket
/// write; ``write(_:)-([UInt8])`` suspends while the client has more than the server's high-water mark of
/// bytes queued, and resumes once it drained to the low-water mark.
///
/// - Important: use the writer only inside the body closure it was passed to; it runs on the
///   event loop.
public struct ResponseBodyWriter: Sendable {
    let sink: any ResponseBodySink

    /// Writes `bytes` as one chunk.
    ///
    /// - Throws: ``ConnectionClosedError`` once the client is gone, `CancellationError` when the
    ///   handler was cancelled while waiting for the client to drain.
    public mutating func write(_ bytes: [UInt8]) async throws {
        try await sink.writeBodyChunk(bytes)
    }

    /// Writes UTF-8 text as one chunk.
    public mutating func write(_ text: String) async throws {
        try await sink.writeBodyChunk(Array(text.utf8))
    }

    /// Bytes written to the socket layer that the client has not received yet.
    public var queuedBytes: Int { sink.queuedBytes }
}

/// Thrown by writes after the client disconnected (or the server closed the connection).
public struct ConnectionClosedError: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "the connection is closed" }
}
