public import Rill
import RillHTTP

/// An incremental HTTP/1.x response parser for test clients: bytes in, complete responses out.
///
/// It is strict where a lenient client would hide a server bug: every line must end in CRLF,
/// header names must be tokens directly followed by `:`, and `Content-Length` must be one
/// decimal number (or repeated identical values). It understands every framing a server may use
/// (RFC 9112 §6.3):
/// - no body for responses to `HEAD`, for `1xx`, `204` and `304`;
/// - `Transfer-Encoding` ending in `chunked`, with chunk extensions and trailer fields;
/// - `Content-Length`;
/// - otherwise the body runs until the connection closes (call ``finish()`` at EOF).
///
/// Interim (`1xx`) responses are returned as responses of their own, before the final one.
///
/// ```swift
/// var reader = HTTPResponseReader()
/// reader.append(Array("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi".utf8))
/// let response = try reader.next()   // status 200, bodyText "hi"
/// ```
public struct HTTPResponseReader: Sendable {
    /// The most bytes a status line plus header section (or a trailer section) may take.
    public var maxHeadBytes: Int

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the next CRLF resumes (never before `readIndex`).
    private var scanIndex = 0
    private var state = State.statusLine
    private var partial = Partial()
    /// Bytes of the head (or trailer section) consumed so far.
    private var headByteCount = 0
    /// Streaming use (``head(forRequestMethod:)``): parsing stops once the head is complete.
    private var stopsAfterHead = false
    /// The response completed while streaming (a body that ended, or none): handed out by
    /// ``takeBody(forRequestMethod:)``.
    private var completedWhileStreaming: TestResponse?

    private enum State: Sendable {
        case statusLine
        case headerLines
        case contentLength(remaining: Int)
        /// A chunked body, read by RillHTTP's ``ChunkedBodyDecoder``.
        case chunked(ChunkedBodyDecoder)
        case untilClose
        case failed(HTTPResponseReaderError)
    }

    private struct Partial: Sendable {
        var version = HTTPVersion.http1_1
        var status: HTTPResponse.Status = .ok
        var headerFields = HTTPFields()
        var trailerFields = HTTPFields()
        var body: [UInt8] = []
    }

    /// Creates a reader with an empty buffer.
    ///
    /// - Parameter maxHeadBytes: the limit for a status line plus headers, and for trailers.
    public init(maxHeadBytes: Int = 1024 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Bytes appended but not yet consumed by a response.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether no response is partly parsed (nothing of the next response has been consumed).
    public var isAtResponseBoundary: Bool {
        if case .statusLine = state { return true }
        return false
    }

    /// Appends received bytes; parse them with ``next(forRequestMethod:)``.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Removes and returns the bytes appended but not consumed yet. Only meaningful at a response
    /// boundary (for example to read raw bytes after the last expected response).
    public mutating func takeBufferedBytes() -> [UInt8] {
        let rest = Array(buffer[readIndex...])
        buffer.removeAll(keepingCapacity: true)
        readIndex = 0
        scanIndex = 0
        return rest
    }

    /// Returns the next complete response, or nil when more bytes are needed.
    ///
    /// - Parameter method: the method of the request this response answers; a response to
    ///   `HEAD` has no body whatever its `Content-Length` says. Pass the same method until the
    ///   response is returned.
    /// - Throws: ``HTTPResponseReaderError`` when the bytes are not a valid response; the error
    ///   is final and thrown again by later calls.
    public mutating func next(forRequestMethod method: HTTPRequest.Method = .get) throws(HTTPResponseReaderError) -> TestResponse? {
        do {
            return try parse(method: method)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// The input ended (the peer closed). Completes a body that runs until the connection
    /// closes; returns nil when the input ended cleanly between responses.
    ///
    /// - Throws: ``HTTPResponseReaderError/unexpectedEndOfInput`` when a response was cut short.
    public mutating func finish() throws(HTTPResponseReaderError) -> TestResponse? {
        switch state {
        case .failed(let error):
            throw error
        case .untilClose:
            partial.body.append(contentsOf: buffer[readIndex...])
            readIndex = buffer.count
            scanIndex = readIndex
            return complete()
        case .statusLine where bufferedByteCount == 0:
            return nil
        default:
            state = .failed(.unexpectedEndOfInput)
            throw .unexpectedEndOfInput
        }
    }

    // MARK: - Streaming a body that may never end

    /// The head of the next response, once it is complete (nil while more bytes are needed);
    /// its body is then read with ``takeBody(forRequestMethod:)`` as it arrives — for responses
    /// whose body may never end, such as an event stream.
    ///
    /// - Throws: ``HTTPResponseReaderError`` as ``next(forRequestMethod:)`` does.
    public mutating func head(
        forRequestMethod method: HTTPRequest.Method = .get
    ) throws(HTTPResponseReaderError) -> (status: HTTPResponse.Status, headerFields: HTTPFields)? {
        stopsAfterHead = true
        defer { stopsAfterHead = false }
        if let response = try next(forRequestMethod: method) {
            completedWhileStreaming = response  // a response without a body
            return (response.status, response.headerFields)
        }
        switch state {
        case .statusLine, .headerLines, .failed: return nil
        default: return (partial.status, partial.headerFields)
        }
    }

    /// The body bytes of the response whose ``head(forRequestMethod:)`` was returned, decoded
    /// (de-chunked) as far as they arrived, and whether the body is complete. Call
    /// ``finish()`` at EOF for a body that runs until the connection closes.
    public mutating func takeBody(
        forRequestMethod method: HTTPRequest.Method = .get
    ) throws(HTTPResponseReaderError) -> (bytes: [UInt8], isComplete: Bool) {
        if let response = completedWhileStreaming {
            completedWhileStreaming = nil
            return (response.body, true)
        }
        if let response = try next(forRequestMethod: method) { return (response.body, true) }
        let bytes = partial.body
        partial.body.removeAll(keepingCapacity: true)
        return (bytes, false)
    }

    // MARK: - Parsing

    private mutating func parse(method: HTTPRequest.Method) throws(HTTPResponseReaderError) -> TestResponse? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .statusLine:
                guard let line = try nextLine() else { return nil }
                partial = Partial()
                try parseStatusLine(line)
                state = .headerLines
            case .headerLines:
                guard let line = try nextLine() else { return nil }
                if line.isEmpty {
                    if let response = try startBody(method: method) { return response }
                    if stopsAfterHead { return nil }
                } else {
                    try Self.parseField(line, into: &partial.headerFields)
                }
            case .contentLength(let remaining):
                let count = min(remaining, bufferedByteCount)
                partial.body.append(contentsOf: buffer[readIndex..<readIndex + count])
                consume(count)
                if count == remaining { return complete() }
                state = .contentLength(remaining: remaining - count)
                return nil
            case .chunked(var decoder):
                var data: [UInt8] = []
                let start = readIndex
                let result = buffer.withUnsafeBytes { raw in
                    Result { () throws(ChunkedBodyDecoder.Failure) in
                        try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[start...])) { data.append(contentsOf: $0) }
                    }
                }
                partial.body.append(contentsOf: data)
                let used: Int
                switch result {
                case .success(let count): used = count
                case .failure(let failure): throw Self.readerError(failure)
                }
                consume(used)
                state = .chunked(decoder)
                guard decoder.isComplete else { return nil }
                for line in decoder.trailerLines { try Self.parseField(line[...], into: &partial.trailerFields) }
                return complete()
            case .untilClose:
                partial.body.append(contentsOf: buffer[readIndex...])
                consume(bufferedByteCount)
                return nil
            }
        }
    }

    /// Decides the body framing once the head is complete; returns the response if it has no body.
    private mutating func startBody(method: HTTPRequest.Method) throws(HTTPResponseReaderError) -> TestResponse? {
        if method == .head || !partial.status.permitsBody {
            return complete()
        }
        let fields = partial.headerFields
        let transferCodings = fields[values: .transferEncoding]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingASCIISpaces().lowercased() }
            .filter { !$0.isEmpty }
        if !transferCodings.isEmpty {
            if fields[.contentLength] != nil { throw .conflictingFraming }
            state = transferCodings.last == "chunked" ? .chunked(ChunkedBodyDecoder(maxTrailerBytes: maxHeadBytes)) : .untilClose
            return nil
        }
        let lengths = fields[values: .contentLength].flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingASCIISpaces() }
        if let first = lengths.first {
            guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.allSatisfy(Self.isDigit),
                first.utf8.count <= 18, let length = Int(first)
            else { throw .invalidContentLength(lengths.joined(separator: ", ")) }
            if length == 0 { return complete() }
            state = .contentLength(remaining: length)
            return nil
        }
        state = .untilClose
        return nil
    }

    private mutating func complete() -> TestResponse {
        let response = TestResponse(
            status: partial.status, headerFields: partial.headerFields, body: partial.body,
            trailerFields: partial.trailerFields, version: partial.version)
        partial = Partial()
        state = .statusLine
        headByteCount = 0
        return response
    }

    private mutating func parseStatusLine(_ line: ArraySlice<UInt8>) throws(HTTPResponseReaderError) {
        // HTTP-version SP 3DIGIT SP [ reason-phrase ]; tolerate a missing final SP.
        let bytes = Array(line)
        let text = String(decoding: bytes, as: UTF8.self)
        guard bytes.count >= 12, bytes.starts(with: Array("HTTP/".utf8)),
            Self.isDigit(bytes[5]), bytes[6] == UInt8(ascii: "."), Self.isDigit(bytes[7]), bytes[8] == Self.space,
            Self.isDigit(bytes[9]), Self.isDigit(bytes[10]), Self.isDigit(bytes[11]),
            bytes.count == 12 || bytes[12] == Self.space
        else { throw .malformedStatusLine(text) }
        partial.version = HTTPVersion(major: Int(bytes[5] - Self.zero), minor: Int(bytes[7] - Self.zero))
        let code = Int(bytes[9] - Self.zero) * 100 + Int(bytes[10] - Self.zero) * 10 + Int(bytes[11] - Self.zero)
        guard code >= 100 else { throw .malformedStatusLine(text) }
        let reason = bytes.count > 13 ? String(decoding: bytes[13...], as: UTF8.self) : ""
        partial.status = HTTPResponse.Status(code: code, reasonPhrase: reason)
    }

    private static func parseField(_ line: ArraySlice<UInt8>, into fields: inout HTTPFields) throws(HTTPResponseReaderError) {
        let text = String(decoding: line, as: UTF8.self)
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line[..<colon].allSatisfy(isTokenCharacter)
        else { throw .malformedHeader(text) }
        let value = line[line.index(after: colon)...].trimmingASCIISpaces()
        guard value.allSatisfy({ $0 == tab || ($0 >= 0x20 && $0 != 0x7F) }),
            let name = HTTPField.Name(String(decoding: line[..<colon], as: UTF8.self))
        else { throw .malformedHeader(text) }
        fields.append(HTTPField(name: name, value: String(decoding: value, as: UTF8.self)))
    }

    /// The reader's error for what the chunked-body decoder rejected.
    private static func readerError(_ failure: ChunkedBodyDecoder.Failure) -> HTTPResponseReaderError {
        switch failure {
        case .malformedChunkSize: .malformedChunk("bad chunk size line")
        case .missingChunkDataEnd: .malformedChunk("chunk data is not followed by CRLF")
        case .bareLineEnd: .malformedChunk("a chunk line does not end in CRLF")
        case .trailersTooLarge: .headTooLarge
        }
    }

    // MARK: - Bytes

    /// The next CRLF-terminated line (without the CRLF), or nil when it is not complete yet.
    private mutating func nextLine() throws(HTTPResponseReaderError) -> ArraySlice<UInt8>? {
        var index = max(scanIndex, readIndex)
        while index < buffer.count {
            if buffer[index] == Self.lf {
                guard index > readIndex, buffer[index - 1] == Self.cr else { throw .bareLineFeed }
                let line = buffer[readIndex..<index - 1]
                let length = index + 1 - readIndex
                headByteCount += length
                guard headByteCount <= maxHeadBytes else { throw .headTooLarge }
                if line.contains(Self.cr) { throw .bareCarriageReturn }
                consume(length)
                return line
            }
            index += 1
        }
        scanIndex = index
        guard headByteCount + (buffer.count - readIndex) <= maxHeadBytes else { throw .headTooLarge }
        return nil
    }

    private mutating func consume(_ count: Int) {
        readIndex += count
        if scanIndex < readIndex { scanIndex = readIndex }
    }

    private mutating func compactIfWorthwhile() {
        guard readIndex > 0 else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 64 * 1024 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let zero = UInt8(ascii: "0")

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= zero && byte <= UInt8(ascii: "9") }

    /// RFC 9110 tchar.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), zero...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// Why ``HTTPResponseReader`` rejected a response.
public enum HTTPResponseReaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status line is not `HTTP/x.y NNN reason`.
    case malformedStatusLine(String)
    /// A header or trailer line is not `name: value` (or has whitespace before the colon).
    case malformedHeader(String)
    /// A line ended in a bare LF instead of CRLF.
    case bareLineFeed
    /// A CR appeared inside a line.
    case bareCarriageReturn
    /// The head (or trailer section) is larger than ``HTTPResponseReader/maxHeadBytes``.
    case headTooLarge
    /// `Content-Length` is not a single non-negative decimal number.
    case invalidContentLength(String)
    /// Both `Content-Length` and `Transfer-Encoding` were sent.
    case conflictingFraming
    /// The chunked framing is invalid.
    case malformedChunk(String)
    /// The connection closed in the middle of a response.
    case unexpectedEndOfInput

    /// What went wrong, for test failure messages.
    public var description: String {
        switch self {
        case .malformedStatusLine(let line): "malformed status line \"\(line)\""
        case .malformedHeader(let line): "malformed header line \"\(line)\""
        case .bareLineFeed: "a line ends in a bare LF"
        case .bareCarriageReturn: "a bare CR inside a line"
        case .headTooLarge: "the response head is too large"
        case .invalidContentLength(let value): "invalid Content-Length \"\(value)\""
        case .conflictingFraming: "both Content-Length and Transfer-Encoding"
        case .malformedChunk(let reason): "malformed chunked body: \(reason)"
        case .unexpectedEndOfInput: "the connection closed in the middle of a response"
        }
    }
}

extension ArraySlice where Element == UInt8 {
    fileprivate func trimmingASCIISpaces() -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var slice = self.drop(while: isSpace)
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }
}

extension StringProtocol {
    fileprivate func trimmingASCIISpaces() -> String {
        String(decoding: Array(utf8)[...].trimmingASCIISpaces(), as: UTF8.self)
    }
}
