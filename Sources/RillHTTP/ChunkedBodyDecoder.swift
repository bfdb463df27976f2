/// Decodes a chunked message body (RFC 9112 §7.1) as its bytes arrive: body data is handed
/// out as it comes (never buffered), trailer field lines are collected within a bound. Strict,
/// as a client that checks a server must be: every line ends in CRLF (a bare CR or LF is an
/// error), a chunk size is 1–15 hex digits, optionally followed by blanks and a `;` extension
/// (skipped), and chunk data is followed by CRLF.
///
/// One decoder serves every client of the project that reads a chunked body — the test
/// client's `HTTPResponseReader` (and the SSE test stream through it) and `rill-load`'s
/// harness, whose per-byte loop is its hot path.
///
/// ```swift
/// var decoder = ChunkedBodyDecoder()
/// let used = try decoder.decode(bytes) { data in body.append(contentsOf: data) }
/// if decoder.isComplete { /* bytes[used...] belong to the next response */ }
/// ```
public struct ChunkedBodyDecoder: Sendable {
    /// Why a chunked body was rejected.
    public enum Failure: Error, Sendable, Equatable {
        /// A chunk-size line that is not hex digits (at most 15) with an optional extension.
        case malformedChunkSize
        /// Chunk data not followed by CRLF.
        case missingChunkDataEnd
        /// A CR not followed by LF, or an LF without its CR.
        case bareLineEnd
        /// The trailer section is longer than the decoder's limit.
        case trailersTooLarge
    }

    private enum State: Sendable {
        case size(value: Int, digits: Int)
        /// After the digits: blanks, then an extension up to the CR.
        case sizeTail(value: Int, inExtension: Bool)
        case sizeLF(size: Int)
        case data(remaining: Int)
        case dataCR
        case dataLF
        /// Trailer lines until an empty one; `line` holds the current line's bytes.
        case trailerLine
        case trailerLF
        case complete
    }

    /// The most bytes the trailer section may take.
    public let maxTrailerBytes: Int
    private var state = State.size(value: 0, digits: 0)
    private var line: [UInt8] = []
    private var trailerBytes = 0
    /// The trailer field lines (`name: value`, without their CRLF), once complete.
    public private(set) var trailerLines: [[UInt8]] = []
    /// Chunks of data received so far (the last, empty chunk not counted).
    public private(set) var chunkCount = 0
    /// Body bytes handed out so far.
    public private(set) var bodyByteCount = 0

    /// A decoder for one body.
    public init(maxTrailerBytes: Int = 16 * 1024) {
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Whether the last chunk and the trailer section arrived: the body is complete.
    public var isComplete: Bool { if case .complete = state { true } else { false } }

    /// Consumes `bytes` up to the end of the body; data goes to `body`, in pieces that alias
    /// `bytes`. Returns how many bytes were consumed: all of them unless the body completed
    /// inside them (what follows belongs to the next message).
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer, body: (UnsafeRawBufferPointer) -> Void
    ) throws(Failure) -> Int {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch state {
            case .complete:
                return index
            case .size(let value, let digits):
                if let digit = Self.hexValue(byte) {
                    guard digits < 15 else { throw .malformedChunkSize }
                    state = .size(value: value &* 16 &+ digit, digits: digits + 1)
                } else {
                    guard digits > 0 else { throw .malformedChunkSize }
                    state = .sizeTail(value: value, inExtension: false)
                    continue
                }
                index += 1
            case .sizeTail(let value, let inExtension):
                index += 1
                if byte == 13 {
                    state = .sizeLF(size: value)
                } else if byte == 10 {
                    throw .bareLineEnd
                } else if inExtension {
                    // Extension bytes are skipped up to the CR.
                } else if byte == 59 {  // `;` starts an extension
                    state = .sizeTail(value: value, inExtension: true)
                } else if byte != 32 && byte != 9 {
                    throw .malformedChunkSize
                }
            case .sizeLF(let size):
                guard byte == 10 else { throw .bareLineEnd }
                index += 1
                if size == 0 {
                    state = .trailerLine
                } else {
                    state = .data(remaining: size)
                    chunkCount += 1
                }
            case .data(let remaining):
                let take = min(remaining, bytes.count - index)
                body(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                bodyByteCount += take
                index += take
                state = take == remaining ? .dataCR : .data(remaining: remaining - take)
            case .dataCR:
                guard byte == 13 else { throw .missingChunkDataEnd }
                state = .dataLF
                index += 1
            case .dataLF:
                guard byte == 10 else { throw .missingChunkDataEnd }
                state = .size(value: 0, digits: 0)
                index += 1
            case .trailerLine:
                index += 1
                trailerBytes += 1
                guard trailerBytes <= maxTrailerBytes else { throw .trailersTooLarge }
                if byte == 13 {
                    state = .trailerLF
                } else if byte == 10 {
                    throw .bareLineEnd
                } else {
                    line.append(byte)
                }
            case .trailerLF:
                guard byte == 10 else { throw .bareLineEnd }
                index += 1
                if line.isEmpty {
                    state = .complete
                    return index
                }
                trailerLines.append(line)
                line = []
                state = .trailerLine
            }
        }
        return index
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte &- 48)
        case 65...70: Int(byte &- 55)
        case 97...102: Int(byte &- 87)
        default: nil
        }
    }
}
