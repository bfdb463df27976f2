/// Writes a streamed response body. Each write becomes one HTTP chunk and leaves in one socket
/// write; ``write(_:)-([UInt8])`` suspends while the client has more than the server's high-water mark of
/// bytes queued, and resumes once it drained to the low-water mark.
///
/// - Important: use the writer only inside the body closure it was passed to; it runs on the
///   event loop.
public struct ResponseBodyWriter: Sendable {
    let sink: any ResponseBodySink
    /// What a body of declared length (``ResponseBody/init(byteCount:_:)``) still has to
    /// write; nil for a chunked body.
    private var remainingByteCount: Int?

    init(sink: any ResponseBodySink, remainingByteCount: Int? = nil) {
        self.sink = sink
        self.remainingByteCount = remainingByteCount
    }

    /// Writes `bytes` as one chunk.
    ///
    /// - Throws: ``ConnectionClosedError`` once the client is gone, `CancellationError` when the
    ///   handler was cancelled while waiting for the client to drain, ``ResponseBodyLengthError``
    ///   past the declared length of a ``ResponseBody/init(byteCount:_:)`` body.
    public mutating func write(_ bytes: [UInt8]) async throws {
        if let remaining = remainingByteCount {
            guard bytes.count <= remaining else { throw ResponseBodyLengthError(missingByteCount: remaining - bytes.count) }
            remainingByteCount = remaining - bytes.count
        }
        try await sink.writeBodyChunk(bytes)
    }

    /// Writes UTF-8 text as one chunk.
    public mutating func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Throws when a body of declared length ended short of it.
    func finish() throws {
        if let remaining = remainingByteCount, remaining != 0 { throw ResponseBodyLengthError(missingByteCount: remaining) }
    }

    /// Bytes written to the socket layer that the client has not received yet.
    public var queuedBytes: Int { sink.queuedBytes }
}

/// Thrown by writes after the client disconnected (or the server closed the connection).
public struct ConnectionClosedError: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "the connection is closed" }
}

/// A body of declared length (``ResponseBody/init(byteCount:_:)``) wrote more or fewer bytes than
/// it declared: the connection is closed, as the head already promised the length.
public struct ResponseBodyLengthError: Error, Sendable, CustomStringConvertible {
    /// The bytes the body still owed when it ended (positive), or minus the bytes it wrote too
    /// many (negative).
    public let missingByteCount: Int

    public var description: String {
        missingByteCount > 0
            ? "the body ended \(missingByteCount) bytes short of its declared length"
            : "the body wrote \(-missingByteCount) bytes past its declared length"
    }
}
