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
        if let milliseconds = configuration.jitteredRetryMilliseconds(using: &generator) {
            Self.withRetryField(milliseconds: milliseconds) { sink.writeEvents(contentsOf: $0) }
        } else {
            sink.writeEvents(Self.openingComment)
        }
    }

    /// Calls `body` with `retry: N` and the blank line that ends the event, formatted on the
    /// stack: every stream opens with its own jittered value, and building it as an event and
    /// then a chunk cost two allocations per stream (what `ServerSentEvent(retry:)` encodes, byte
    /// for byte). `milliseconds` ≥ 0.
    static func withRetryField<Result>(milliseconds: Int64, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        // Written back to front into the end of the buffer: the blank line, the digits, the name.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            var start = buffer.count - 2
            buffer[start] = UInt8(ascii: "\n")
            buffer[start + 1] = UInt8(ascii: "\n")
            var value = UInt64(max(0, milliseconds))
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            for byte in "retry: ".utf8.reversed() {
                start -= 1
                buffer[start] = byte
            }
            return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[start...])))
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
