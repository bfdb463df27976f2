/// The body of a ``Response``: nothing, a byte buffer sent in one write, or a stream written by
/// a closure under backpressure.
///
/// ```swift
/// let body = ResponseBody { writer in
///     for await line in lines {
///         try await writer.write(Array(line.utf8))   // suspends while the client is slow
///     }
/// }
/// ```
public struct ResponseBody: Sendable {
    enum Storage: Sendable {
        case empty
        case bytes([UInt8])
        /// UTF-8 text, copied straight into the response's write buffer (no array of its own).
        case text(String)
        case stream(@Sendable (inout ResponseBodyWriter) async throws -> Void)
        /// Server-Sent Events: written through the sink's event-stream support (heartbeats,
        /// slow-client cap, shutdown farewell).
        case eventStream(@Sendable (any ResponseBodySink) async throws -> Void)
        /// Server-Sent Events relayed from a broker subscription: by the connection itself on
        /// the live server, with no task per stream.
        indirect case subscription(SubscriptionRelay)
        /// A response that needs a suspension to finish (a synchronous
        /// `RequestContext.eventStream(for:)` that could not subscribe at once): the framework
        /// resolves it (``Response/resolvingPending()``) before anything reads its head, so no
        /// middleware, client or connection ever sees this case.
        case pending(@Sendable () async throws -> Response)
    }

    let storage: Storage
    /// The exact length of a ``init(byteCount:_:)`` stream, sent as `Content-Length`.
    private var streamedByteCount: Int?

    /// No body.
    public static let empty = ResponseBody(storage: .empty)

    /// A body of bytes, sent with `Content-Length` in the same write as the head.
    public static func bytes(_ bytes: [UInt8]) -> ResponseBody { ResponseBody(storage: .bytes(bytes)) }

    /// A UTF-8 text body.
    public static func text(_ text: String) -> ResponseBody { ResponseBody(storage: .text(text)) }

    /// A streamed body (chunked encoding) produced by `write`. The closure runs on the event
    /// loop; ``ResponseBodyWriter/write(_:)-([UInt8])`` suspends while the client reads slower than the
    /// closure writes, and throws once the client is gone.
    public init(_ write: @escaping @Sendable (inout ResponseBodyWriter) async throws -> Void) {
        storage = .stream(write)
    }

    /// A streamed body of exactly `byteCount` bytes, sent with `Content-Length` rather than
    /// chunked (a `HEAD` answer carries the same length without running `write`). The closure
    /// writes with the same backpressure as ``init(_:)``; writing more than `byteCount`, or
    /// ending short of it, throws ``ResponseBodyLengthError`` and the connection closes, since
    /// the head already promised the length.
    ///
    /// ```swift
    /// let body = ResponseBody(byteCount: 10) { writer in
    ///     try await writer.write(Array("0123456789".utf8))
    /// }
    /// ```
    public init(byteCount: Int, _ write: @escaping @Sendable (inout ResponseBodyWriter) async throws -> Void) {
        precondition(byteCount >= 0, "byteCount must not be negative")
        storage = .stream(write)
        streamedByteCount = byteCount
    }

    init(storage: Storage) { self.storage = storage }

    /// The byte count when known in advance: the bytes, or the declared length of a stream;
    /// nil for a stream of unknown length.
    public var byteCount: Int? {
        switch storage {
        case .empty: 0
        case .bytes(let bytes): bytes.count
        case .text(let text): text.utf8.count
        case .stream: streamedByteCount
        case .eventStream, .subscription, .pending: nil
        }
    }

    /// Whether the body is an event stream (written by a task or relayed from a subscription).
    var isEndless: Bool {
        switch storage {
        case .eventStream, .subscription: true
        case .empty, .bytes, .text, .stream, .pending: false
        }
    }
}

extension ResponseBody {
    /// The whole body when it is known in advance (empty or bytes); nil for a streamed body.
    package var bytes: [UInt8]? {
        switch storage {
        case .empty: []
        case .bytes(let bytes): bytes
        case .text(let text): Array(text.utf8)
        case .stream, .eventStream, .subscription, .pending: nil
        }
    }

    /// The length of a body known in advance (empty, bytes or text); nil for a streamed one,
    /// even one of declared length.
    package var knownByteCount: Int? {
        if case .stream = storage { return nil }
        return byteCount
    }

    /// Appends a body known in advance to `buffer` (text without an intermediate array);
    /// nothing for a streamed one.
    package func appendKnownBytes(to buffer: inout [UInt8]) {
        switch storage {
        case .bytes(let bytes): buffer.append(contentsOf: bytes)
        case .text(let text): buffer.append(contentsOf: text.utf8)
        case .empty, .stream, .eventStream, .subscription, .pending: break
        }
    }

    /// Writes a streamed body to `sink` until it ends (the client leaving ends it with
    /// ``ConnectionClosedError`` or cancellation). A relayed subscription is iterated here,
    /// for sinks without a relay of their own (the live connection has one). Does nothing for
    /// a body known in advance.
    package func write(to sink: any ResponseBodySink) async throws {
        switch storage {
        case .empty, .bytes, .text:
            return
        case .stream(let produce):
            var writer = ResponseBodyWriter(sink: sink, remainingByteCount: streamedByteCount)
            try await produce(&writer)
            try writer.finish()
        case .eventStream(let produce):
            try await produce(sink)
        case .subscription(let relay):
            try await relay.iterate(into: sink)
        case .pending:
            // Resolved before the head, always; a head written for it would be the wrong one.
            throw UnresolvedResponseError()
        }
    }
}
