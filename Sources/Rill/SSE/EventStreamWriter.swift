import RillHTTP

/// Sends events on an open ``EventStream``. Runs on the event loop.
public struct EventStreamWriter: Sendable {
    let sink: any ResponseBodySink
    /// The stream's effective configuration.
    public let configuration: EventStreamConfiguration

    /// Starts the stream's heartbeats and writes its opening bytes: `retry:` if configured
    /// (spread by ``EventStreamConfiguration/retryJitter``), else a comment, so the head and a first chunk are flushed and the client reaches OPEN.
    mutating func open() throws {
        sink.beginEventStream(configuration)
        var generator = JitterRandomNumberGenerator()
        if let retry = configuration.jitteredRetry(using: &generator) {
            sink.writeEvents(try ServerSentEvent(retry: retry).encoded())
        } else {
            sink.writeEvents(Self.openingComment)
        }
    }

    /// The comment that opens a stream without `retry:`. One shared array: the server frames
    /// it once for every stream.
    static let openingComment: [UInt8] = Array(":ok\n\n".utf8)

    /// Sends `event` as one chunk in one write.
    ///
    /// - Throws: `ServerSentEventError` for an invalid event (nothing is sent),
    ///   ``ConnectionClosedError`` once the client is gone or was disconnected for falling more
    ///   than ``EventStreamConfiguration/maxQueuedBytes`` behind.
    public mutating func send(_ event: ServerSentEvent) async throws {
        try sendNow(event)
        if configuration.slowClientPolicy == .wait { try await sink.waitUntilWritable() }
    }

    /// Sends already-encoded event bytes (one or more complete events) as one chunk.
    public mutating func send(encoded bytes: [UInt8]) async throws {
        try sendNow(encoded: bytes)
        if configuration.slowClientPolicy == .wait { try await sink.waitUntilWritable() }
    }

    /// Sends a comment line (invisible to `EventSource` listeners).
    public mutating func sendComment(_ text: String) async throws {
        try await send(encoded: ServerSentEvent.encodedComment(text))
    }

    /// Whether the server is shutting down (the stream may send a last event and return).
    public var isServerShuttingDown: Bool { sink.isShuttingDown }

    mutating func sendNow(_ event: ServerSentEvent) throws {
        try sendNow(encoded: try event.encoded())
    }

    mutating func sendNow(encoded bytes: [UInt8]) throws {
        if sink.isClosed { throw ConnectionClosedError() }
        sink.writeEvents(bytes)
        if configuration.slowClientPolicy == .disconnect && sink.queuedBytes > configuration.maxQueuedBytes {
            sink.disconnectSlowClient()
            throw ConnectionClosedError()
        }
    }
}
