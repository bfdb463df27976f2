import RillHTTP

/// Sends events on an open ``EventStream``. Runs on the event loop.
public struct EventStreamWriter: Sendable {
    let sink: any ResponseBodySink
    /// The stream's effective configuration.
    public let configuration: EventStreamConfiguration

    /// Starts the stream's heartbeats and writes its opening bytes: `retry:` if configured
    /// (spread by ``EventStreamConfiguration/retryJitter``), else a comment, so the head and a
    /// first chunk are flushed and the client reaches OPEN; and the stream's `position`, if
    /// any (unless ``EventStreamConfiguration/opensWithPosition`` is off), as an `id:` field in
    /// the same block, which sets the client's last event id without dispatching an event.
    mutating func open(position: String? = nil) throws {
        let position = configuration.opensWithPosition ? position : nil
        sink.beginEventStream(configuration)
        var generator = JitterRandomNumberGenerator()
        let retry = configuration.jitteredRetryMilliseconds(using: &generator)
        if position == nil && retry == nil {
            sink.writeEvents(Self.openingComment)
        } else {
            Self.withOpeningFields(id: position, retryMilliseconds: retry) { sink.writeEvents(contentsOf: $0) }
        }
    }

    /// Calls `body` with a stream's opening block — the opening comment (`:ok`) when there is no
    /// `retryMilliseconds`, `id: …` when there is an `id`, `retry: N` — and the blank line that
    /// ends it, formatted on the stack: every stream opens with its own position and jittered
    /// value, and building them as an event and then a chunk cost two allocations per stream.
    /// After the comment, byte for byte what `ServerSentEvent(id:retry:)` encodes. `id` holds
    /// no line break (a broker's position id); `retryMilliseconds` ≥ 0.
    static func withOpeningFields<Result>(id: String?, retryMilliseconds: Int64?, _ body: (UnsafeRawBufferPointer) -> Result)
        -> Result
    {
        let idByteCount = id?.utf8.count ?? 0
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40 + idByteCount) { buffer in
            var end = 0
            func append(_ bytes: some Sequence<UInt8>) {
                for byte in bytes {
                    buffer[end] = byte
                    end += 1
                }
            }
            if retryMilliseconds == nil { append(openingComment.dropLast()) }  // ":ok\n"
            if let id {
                append(idByteCount > 0 ? "id: ".utf8 : "id:".utf8)
                append(id.utf8)
                append(CollectionOfOne(UInt8(ascii: "\n")))
            }
            if let retryMilliseconds {
                append("retry: ".utf8)
                var value = UInt64(max(0, retryMilliseconds))
                var count = 1
                var rest = value / 10
                while rest > 0 {
                    count += 1
                    rest /= 10
                }
                for offset in (0..<count).reversed() {
                    buffer[end + offset] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                end += count
                append(CollectionOfOne(UInt8(ascii: "\n")))
            }
            append(CollectionOfOne(UInt8(ascii: "\n")))
            return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<end])))
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
