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
        case chunkSize(value: Int, digits: Int, inExtension: Bool)
        case chunkSizeLF(size: Int)
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        /// After the last chunk: trailer lines until an empty one. `lineLength` counts the
        /// current line's bytes.
        case trailers(lineLength: Int, sawCR: Bool)
        case identity(remaining: Int?)
        case ended
    }

    private var state = State.head
    private var headBuffer: [UInt8] = []
    private(set) var head: Head?
    /// The body is complete (last chunk, or Content-Length reached): the server ended the stream.
    var isEnded: Bool { if case .ended = state { true } else { false } }
    /// Body bytes delivered so far (without chunk framing).
    private(set) var bodyBytes = 0
    /// Chunks received so far.
    private(set) var chunks = 0

    /// Consumes `bytes`; body bytes go to `body`. Returns true when this call completed the head.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, body: (UnsafeRawBufferPointer) -> Void) throws(Failure) -> Bool {
        var index = 0
        var completedHead = false
        if case .head = state {
            // Find the blank line; the head is small and arrives once, so buffering it is cheap.
            let start = max(0, headBuffer.count - 3)
            headBuffer.append(contentsOf: bytes)
            guard let end = Self.findHeadEnd(headBuffer, from: start) else {
                if headBuffer.count > Self.maxHeadBytes { throw .headTooLarge }
                return false
            }
            let parsed = try Self.parseHead(headBuffer[0..<end])
            head = parsed
            index = bytes.count - (headBuffer.count - (end + 4))
            headBuffer = []
            completedHead = true
            if parsed.chunked {
                state = .chunkSize(value: 0, digits: 0, inExtension: false)
            } else {
                state = .identity(remaining: parsed.contentLength)
                if parsed.contentLength == 0 { state = .ended }
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch state {
            case .head, .ended:
                return completedHead
            case .chunkSize(let value, let digits, let inExtension):
                if byte == 13 {
                    guard digits > 0 else { throw .malformedChunk }
                    state = .chunkSizeLF(size: value)
                } else if inExtension {
                    // Extension bytes are skipped up to the CR.
                } else if byte == 59 {  // ';' starts a chunk extension
                    state = .chunkSize(value: value, digits: digits, inExtension: true)
                } else if let digit = Self.hexValue(byte), digits < 15 {
                    state = .chunkSize(value: value * 16 + digit, digits: digits + 1, inExtension: false)
                } else {
                    throw .malformedChunk
                }
                index += 1
            case .chunkSizeLF(let size):
                guard byte == 10 else { throw .malformedChunk }
                index += 1
                if size == 0 {
                    state = .trailers(lineLength: 0, sawCR: false)
                } else {
                    state = .chunkData(remaining: size)
                    chunks += 1
                }
            case .chunkData(let remaining):
                let take = min(remaining, bytes.count - index)
                body(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                bodyBytes += take
                index += take
                state = take == remaining ? .chunkDataCR : .chunkData(remaining: remaining - take)
            case .chunkDataCR:
                guard byte == 13 else { throw .malformedChunk }
                state = .chunkDataLF
                index += 1
            case .chunkDataLF:
                guard byte == 10 else { throw .malformedChunk }
                state = .chunkSize(value: 0, digits: 0, inExtension: false)
                index += 1
            case .trailers(let lineLength, let sawCR):
                index += 1
                if byte == 13 {
                    state = .trailers(lineLength: lineLength, sawCR: true)
                } else if byte == 10 && sawCR {
                    state = lineLength == 0 ? .ended : .trailers(lineLength: 0, sawCR: false)
                } else {
                    state = .trailers(lineLength: lineLength + 1, sawCR: false)
                }
            case .identity(let remaining):
                let take = min(remaining ?? Int.max, bytes.count - index)
                body(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                bodyBytes += take
                index += take
                if let remaining {
                    state = take == remaining ? .ended : .identity(remaining: remaining - take)
                }
            }
        }
        return completedHead
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 65...70: Int(byte - 55)
        case 97...102: Int(byte - 87)
        default: nil
        }
    }

    private static func findHeadEnd(_ buffer: [UInt8], from start: Int) -> Int? {
        guard buffer.count >= 4 else { return nil }
        var index = start
        while index + 3 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>) throws(Failure) -> Head {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)[...]
        guard let statusLine = lines.popFirst() else { throw .malformedHead }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else { throw .malformedHead }
        var head = Head(status: status, contentType: "", chunked: false, contentLength: nil)
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedHead }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
            switch name {
            case "content-type": head.contentType = String(value)
            case "transfer-encoding": head.chunked = value.lowercased().contains("chunked")
            case "content-length": head.contentLength = Int(value)
            default: break
            }
        }
        if head.chunked { head.contentLength = nil }
        return head
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
