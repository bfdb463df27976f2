import RillHTTP

/// Sends events on an open ``EventStream``. Runs on the event loop.
public struct EventStreamWriter: Sendable {
    let connection: HTTPConnection
    /// The stream's effective configuration.
    public let configuration: EventStreamConfiguration

    /// Writes the opening bytes: `retry:` if configured, else a comment, so the head and a first
    /// chunk are flushed and the client reaches OPEN.
    mutating func open() throws {
        try connection.openEventStream(configuration)
    }

    /// Sends `event` as one chunk in one write.
    ///
    /// - Throws: `ServerSentEventError` for an invalid event (nothing is sent),
    ///   ``ConnectionClosedError`` once the client is gone or was disconnected for falling more
    ///   than ``EventStreamConfiguration/maxQueuedBytes`` behind.
    public mutating func send(_ event: ServerSentEvent) async throws {
        try sendNow(event)
        if configuration.slowClientPolicy == .wait { try await connection.waitUntilWritable() }
    }

    /// Sends already-encoded event bytes (one or more complete events) as one chunk.
    public mutating func send(encoded bytes: [UInt8]) async throws {
        try checkOpen()
        connection.writeEventChunk(bytes)
        try applyPolicy()
        if configuration.slowClientPolicy == .wait { try await connection.waitUntilWritable() }
    }

    /// Sends a comment line (invisible to `EventSource` listeners).
    public mutating func sendComment(_ text: String) async throws {
        try await send(encoded: ServerSentEvent.encodedComment(text))
    }

    /// Whether the server is shutting down (the stream may send a last event and return).
    public var isServerShuttingDown: Bool { connection.isShuttingDown }

    mutating func sendNow(_ event: ServerSentEvent) throws {
        try checkOpen()
        let bytes = try event.encoded()
        connection.writeEventChunk(bytes)
        try applyPolicy()
    }

    private func checkOpen() throws {
        if connection.isClosed { throw ConnectionClosedError() }
    }

    private func applyPolicy() throws {
        if configuration.slowClientPolicy == .disconnect && connection.queuedBytes > configuration.maxQueuedBytes {
            connection.disconnectSlowClient()
            throw ConnectionClosedError()
        }
    }
}
