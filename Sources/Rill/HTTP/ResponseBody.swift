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
        case stream(@Sendable (inout ResponseBodyWriter) async throws -> Void)
        /// Server-Sent Events: written through the connection's event-stream support
        /// (heartbeats, slow-client cap, shutdown farewell).
        case eventStream(@Sendable (HTTPConnection) async throws -> Void)
        /// Server-Sent Events relayed from a broker subscription by the connection itself.
        case subscription(SubscriptionRelay)
    }

    let storage: Storage

    /// No body.
    public static let empty = ResponseBody(storage: .empty)

    /// A body of bytes, sent with `Content-Length` in the same write as the head.
    public static func bytes(_ bytes: [UInt8]) -> ResponseBody { ResponseBody(storage: .bytes(bytes)) }

    /// A UTF-8 text body.
    public static func text(_ text: String) -> ResponseBody { ResponseBody(storage: .bytes(Array(text.utf8))) }

    /// A streamed body (chunked encoding) produced by `write`. The closure runs on the event
    /// loop; ``ResponseBodyWriter/write(_:)-([UInt8])`` suspends while the client reads slower than the
    /// closure writes, and throws once the client is gone.
    public init(_ write: @escaping @Sendable (inout ResponseBodyWriter) async throws -> Void) {
        storage = .stream(write)
    }

    init(storage: Storage) { self.storage = storage }

    /// The byte count when known in advance (nil for a stream).
    public var byteCount: Int? {
        switch storage {
        case .empty: 0
        case .bytes(let bytes): bytes.count
        case .stream, .eventStream, .subscription: nil
        }
    }
}
