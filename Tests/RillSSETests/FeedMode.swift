import RillSSE
import RillTestSupport
import Testing

/// How a test hands a byte stream to the parser. Every parser vector runs under each mode, because
/// a parser that only works on whole buffers fails on real networks (a CR and its LF, or the bytes
/// of one character, arrive in different reads).
enum FeedMode: Sendable, CustomTestStringConvertible {
    /// The whole stream in one `parse` call.
    case whole
    /// One byte per call, through the `UnsafeRawBufferPointer` fast path.
    case byteByByte
    /// Random chunk lengths from 0 to 12 bytes (empty calls included), alternating between the
    /// raw-pointer and the generic `Sequence` entry points.
    case randomSplits(seed: UInt64)
    /// Random chunks wrapped in a sequence without contiguous storage, so the copying path runs.
    case nonContiguous(seed: UInt64)

    static let all: [FeedMode] =
        [.whole, .byteByByte, .nonContiguous(seed: 99)] + (1...8).map { .randomSplits(seed: $0) }

    var testDescription: String {
        switch self {
        case .whole: "whole"
        case .byteByByte: "byte by byte"
        case .randomSplits(let seed): "random splits, seed \(seed)"
        case .nonContiguous(let seed): "non-contiguous chunks, seed \(seed)"
        }
    }

    /// Feeds `bytes` to `parser` in this mode's chunks and returns every event, in order.
    func feed(_ bytes: [UInt8], to parser: inout ServerSentEventParser) -> [MessageEvent] {
        switch self {
        case .whole:
            return parser.parse(bytes)
        case .byteByByte:
            var events: [MessageEvent] = []
            for byte in bytes {
                events += withUnsafeBytes(of: byte) { parser.parse($0) }
            }
            return events
        case .randomSplits(let seed):
            var events: [MessageEvent] = []
            for (index, chunk) in Self.randomChunks(of: bytes, seed: seed).enumerated() {
                if index.isMultiple(of: 2) {
                    events += chunk.withUnsafeBytes { parser.parse($0) }
                } else {
                    events += parser.parse(chunk)
                }
            }
            return events
        case .nonContiguous(let seed):
            var events: [MessageEvent] = []
            for chunk in Self.randomChunks(of: bytes, seed: seed) {
                events += parser.parse(NonContiguousBytes(bytes: Array(chunk)))
            }
            return events
        }
    }

    private static func randomChunks(of bytes: [UInt8], seed: UInt64) -> [ArraySlice<UInt8>] {
        var generator = SeededRandomNumberGenerator(seed: seed)
        var chunks: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset < bytes.count {
            let length = Swift.min(Int.random(in: 0...12, using: &generator), bytes.count - offset)
            chunks.append(bytes[offset..<offset + length])
            offset += length
        }
        return chunks
    }
}

/// A byte sequence that does not offer contiguous storage.
private struct NonContiguousBytes: Sequence {
    var bytes: [UInt8]

    func makeIterator() -> IndexingIterator<[UInt8]> {
        bytes.makeIterator()
    }
}
