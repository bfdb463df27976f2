import RillHTTP

/// Decodes one streamed HTTP/1.1 response as it arrives: the head, then the body (chunked, with
/// a `Content-Length`, or until the connection closes), handing body bytes to a callback. Pure:
/// no I/O, bounded memory (only the head is buffered, at most ``maxHeadBytes``).
struct ResponseDecoder {
    /// The parsed response head.
    struct Head {
        var status: Int
        var contentType: String
        var chunked: Bool
        var contentLength: Int?
    }

    enum Failure: Error, Equatable {
        case headTooLarge, malformedHead, malformedChunk
    }

    static let maxHeadBytes = 16 * 1024

    private enum State {
        case head
        /// The body is chunked: RillHTTP's decoder reads it.
        case chunked
        case identity(remaining: Int?)
        case ended
    }

    private var state = State.head
    private var headBuffer: [UInt8] = []
    private var chunkedBody = ChunkedBodyDecoder()
    private var identityBytes = 0
    private(set) var head: Head?
    /// The body is complete (last chunk, or Content-Length reached): the server ended the stream.
    var isEnded: Bool { if case .ended = state { true } else { false } }
    /// Body bytes delivered so far (without chunk framing).
    var bodyBytes: Int { identityBytes + chunkedBody.bodyByteCount }
    /// Chunks received so far.
    var chunks: Int { chunkedBody.chunkCount }

    /// Consumes `bytes`; body bytes go to `body`. Returns true when this call completed the head.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, body: (UnsafeRawBufferPointer) -> Void) throws(Failure) -> Bool {
        var index = 0
        var completedHead = false
        if case .head = state {
            // The head is small and usually arrives in one read: parse it in place, and buffer
            // only a head split over several reads.
            let parsed: Head
            if headBuffer.isEmpty, let found = try Self.completeHead(in: bytes, from: 0) {
                parsed = found.head
                index = found.end + 4
            } else {
                let start = max(0, headBuffer.count - 3)
                headBuffer.append(contentsOf: bytes)
                // (Array.withUnsafeBytes rethrows untyped errors: carry the Failure out in a Result.)
                let result = headBuffer.withUnsafeBytes { buffer in
                    Result { () throws(Failure) in try Self.completeHead(in: buffer, from: start) }
                }
                guard let found = try result.get() else {
                    if headBuffer.count > Self.maxHeadBytes { throw .headTooLarge }
                    return false
                }
                parsed = found.head
                index = bytes.count - (headBuffer.count - (found.end + 4))
                headBuffer = []
            }
            head = parsed
            completedHead = true
            if parsed.chunked {
                state = .chunked
            } else {
                state = .identity(remaining: parsed.contentLength)
                if parsed.contentLength == 0 { state = .ended }
            }
        }
        while index < bytes.count {
            switch state {
            case .head, .ended:
                return completedHead
            case .chunked:
                do {
                    index += try chunkedBody.decode(UnsafeRawBufferPointer(rebasing: bytes[index...]), body: body)
                } catch {
                    throw .malformedChunk
                }
                if chunkedBody.isComplete { state = .ended }
            case .identity(let remaining):
                let take = min(remaining ?? Int.max, bytes.count - index)
                body(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                identityBytes += take
                index += take
                if let remaining {
                    state = take == remaining ? .ended : .identity(remaining: remaining - take)
                }
            }
        }
        return completedHead
    }

    /// The parsed head and the offset of the `CRLF CRLF` that ends it, if `buffer` holds it
    /// (searching from `start`).
    private static func completeHead(in buffer: UnsafeRawBufferPointer, from start: Int) throws(Failure) -> (end: Int, head: Head)? {
        guard let end = findHeadEnd(buffer, from: start) else { return nil }
        if end > maxHeadBytes { throw .headTooLarge }
        return (end, try parseHead(UnsafeRawBufferPointer(rebasing: buffer[0..<end])))
    }

    /// The offset of the `CRLF CRLF` that ends the head, searching from `start`.
    private static func findHeadEnd(_ buffer: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index + 3 < buffer.count {
            if buffer[index + 3] == 10 && buffer[index + 2] == 13 && buffer[index + 1] == 10 && buffer[index] == 13 {
                return index
            }
            // A match at index + 1 needs an LF at index + 2: skip it otherwise.
            index += buffer[index + 2] == 10 ? 1 : 2
        }
        return nil
    }

    /// Parses the status line and the three fields the harness needs, byte by byte: the head of
    /// every cycle goes through here, and the harness must stay cheaper than what it measures.
    private static func parseHead(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> Head {
        var lines = HeadLines(bytes)
        guard let statusLine = lines.next() else { throw .malformedHead }
        // "HTTP/1.x SSS reason"
        guard statusLine.count >= 12,
            statusLine.starts(with: "HTTP/1.".utf8), statusLine[8] == 32,
            let status = decimal(UnsafeRawBufferPointer(rebasing: statusLine[9..<12])),
            statusLine.count == 12 || statusLine[12] == 32
        else { throw .malformedHead }
        var head = Head(status: status, contentType: "", chunked: false, contentLength: nil)
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: 58) else { throw .malformedHead }
            let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
            var valueStart = colon + 1
            while valueStart < line.count, line[valueStart] == 32 || line[valueStart] == 9 { valueStart += 1 }
            let value = UnsafeRawBufferPointer(rebasing: line[valueStart...])
            if equalsLowercase(name, "content-type") {
                head.contentType = String(decoding: value, as: UTF8.self)
            } else if equalsLowercase(name, "transfer-encoding") {
                head.chunked = containsLowercase(value, "chunked")
            } else if equalsLowercase(name, "content-length") {
                head.contentLength = decimal(trimmingTrailingSpace(value))
            }
        }
        if head.chunked { head.contentLength = nil }
        return head
    }

    /// The lines of a head (split at CRLF).
    private struct HeadLines: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func next() -> UnsafeRawBufferPointer? {
            guard position <= bytes.count else { return nil }
            var end = position
            while end + 1 < bytes.count, !(bytes[end] == 13 && bytes[end + 1] == 10) { end += 1 }
            if end + 1 >= bytes.count { end = bytes.count }
            let line = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
            position = end + 2
            return line
        }
    }

    /// A non-negative decimal of at most 18 digits, or nil.
    private static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }

    /// `bytes` equals `lowercase` (ASCII, already lowercase) ignoring case.
    private static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count where lowercased(bytes[index]) != expected[index] { return false }
        return true
    }

    /// `bytes` contains `lowercase` (ASCII, already lowercase) ignoring case.
    private static func containsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        for start in 0...(bytes.count - count)
        where equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]), lowercase) {
            return true
        }
        return false
    }

    private static func trimmingTrailingSpace(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 32 || bytes[end - 1] == 9 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[0..<end])
    }
}

/// Counts the lines of a `text/event-stream` body that are comments (heartbeats and the opening
/// comment start with `:`), across chunk boundaries, without buffering.
struct CommentCounter {
    private var atLineStart = true
    private var lineIsComment = false
    private var lastWasCR = false
    private(set) var comments = 0

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if byte == 10 {
                if lastWasCR {
                    lastWasCR = false
                    continue
                }
                endLine()
            } else if byte == 13 {
                lastWasCR = true
                endLine()
            } else {
                lastWasCR = false
                if atLineStart {
                    lineIsComment = byte == 58
                    atLineStart = false
                }
            }
        }
    }

    private mutating func endLine() {
        if !atLineStart && lineIsComment { comments += 1 }
        atLineStart = true
        lineIsComment = false
    }
}
