package import HTTPTypes

/// An incremental, strict HTTP/1.1 request parser (RFC 9112) working on raw bytes.
///
/// Pull model: the connection ``append(_:)``s whatever it read from the socket, then calls
/// ``next()`` until it returns `nil` (more bytes needed). Each request yields one `.head`, zero or
/// more `.body` events and one `.end`; pipelined requests follow in order.
///
/// The parser is strict wherever leniency enables request smuggling or resource exhaustion:
/// - whitespace between a field name and its colon, obs-fold, bare CR and control bytes → 400;
/// - `Content-Length` together with `Transfer-Encoding`, or disagreeing lengths → 400;
/// - `Transfer-Encoding` not ending with `chunked` → 400 (the body's length is unknown);
///   codings before a final `chunked` → 501 (we do not decode `gzip` etc.), `chunked` twice → 400;
/// - chunked framing requires CRLF everywhere (no bare LF), bounded size digits and extensions.
///
/// It is lenient only where RFC 9112 explicitly allows it and no framing ambiguity results:
/// - a bare LF terminates request and header lines (§2.2), because hand-written clients (`nc`,
///   scripts) send it and the head is never forwarded by us, so no other parser disagrees;
/// - up to two empty lines before a request line are skipped (§2.2), which some clients send
///   after a POST body.
///
/// Any thrown error is final: the parser keeps throwing it and drops further input, because the
/// position of the next request in the stream is no longer known.
public struct HTTPRequestParser: Sendable {
    /// Bounds that keep a single connection from consuming unbounded memory or CPU.
    public struct Limits: Sendable {
        /// The maximum size of request line plus header section, line terminators included.
        /// Exceeding it (or sending that many bytes without finishing the head) → 431.
        public var maxHeaderBytes: Int
        /// The maximum length of the request-target → 414.
        public var maxTargetBytes: Int
        /// The default maximum body size (decoded size for chunked bodies) → 413.
        /// ``HTTPRequestParser/setBodyLimit(forCurrentRequest:)`` overrides it per request.
        public var maxBodyBytes: Int
        /// The maximum number of header fields in one request → 431.
        public var maxHeaderCount: Int

        /// Creates limits; the defaults match common reverse-proxy defaults.
        public init(
            maxHeaderBytes: Int = 16 * 1024,
            maxTargetBytes: Int = 8 * 1024,
            maxBodyBytes: Int = 1024 * 1024,
            maxHeaderCount: Int = 100
        ) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxTargetBytes = maxTargetBytes
            self.maxBodyBytes = maxBodyBytes
            self.maxHeaderCount = maxHeaderCount
        }
    }

    /// The limits applied to requests; a new `maxBodyBytes` takes effect from the next head.
    public var limits: Limits

    /// A chunk-size line (size, extensions, CRLF) longer than this is rejected. Extensions carry
    /// no meaning for us, and unbounded ones are a known memory/CPU attack.
    private static let maxChunkSizeLineBytes = 4 * 1024
    /// More hex digits than fit in 64 bits cannot be a sane chunk size.
    private static let maxChunkSizeDigits = 16
    /// RFC 9112 §2.2 lets servers skip "at least one" empty line before a request; two covers
    /// every real client and bounds the work a peer can cause with empty lines.
    private static let maxLeadingEmptyLines = 2
    /// Consumed bytes are only moved out of the buffer once at least this many accumulated, so
    /// compaction cost stays amortised instead of happening on every append.
    private static let compactionThresholdBytes = 4 * 1024
    /// When the buffer empties we keep its storage for the next request unless a large body made
    /// it grow past this, so idle keep-alive connections do not pin big allocations.
    private static let retainedCapacityBytes = 64 * 1024

    /// Received bytes; `buffer[readIndex...]` is not yet consumed.
    @usableFromInline var buffer: [UInt8] = []
    /// Start of the unconsumed bytes.
    @usableFromInline var readIndex = 0
    /// Where the search for the current line's LF resumes, so a line trickling in byte by byte
    /// is scanned once in total instead of once per append (`readIndex <= scanIndex`).
    private var scanIndex = 0

    // `@usableFromInline`: read by the inlinable ``hasPartialRequest``.
    @usableFromInline var state: State = .requestLine
    private var builder = HeadBuilder()
    /// An earlier request's header fields, handed back once its response was written
    /// (``recycleHeaderFields(_:)``): the next head's fields reuse their storage.
    private var spareFields = HTTPFields()
    private var hasSpareFields = false
    /// The body limit of the request in progress (see ``setBodyLimit(forCurrentRequest:)``).
    private var currentBodyLimit: Int
    /// Bytes of the head consumed so far (request line plus complete header lines).
    private var headByteCount = 0
    private var leadingEmptyLineCount = 0
    /// Offsets from `readIndex` of the first two spaces of the incomplete request line, found
    /// while scanning for its LF; `-1` until seen.
    private var firstSpaceOffset = -1
    private var secondSpaceOffset = -1
    /// Decoded bytes of the current chunked body announced so far, checked against the limit.
    private var chunkedBodyByteCount = 0
    /// Bytes of the current trailer section, bounded by `maxHeaderBytes`.
    private var trailerByteCount = 0

    @usableFromInline enum State: Sendable {
        case requestLine
        case headerLines
        /// The head was returned; `.end` is due next.
        case endPending
        /// The head was returned; the length is checked against the (possibly overridden) limit
        /// on the next call.
        case contentLengthUnchecked(Int)
        case contentLengthBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        /// The CRLF that must follow chunk data.
        case chunkDataEnd
        case trailerLines
        case failed(HTTPParserError)

        /// Waiting for the first byte of a request line: nothing of a message has been consumed
        /// (a request line already parsed counts as a message begun, though its bytes left the
        /// buffer).
        @inlinable var isRequestLine: Bool {
            if case .requestLine = self { return true }
            return false
        }
    }

    private enum LineSearch {
        case found(lineFeedIndex: Int)
        case needMoreBytes
        case tooLong
    }

    /// Creates a parser with empty buffers.
    public init(limits: Limits = .init()) {
        self.limits = limits
        self.currentBodyLimit = limits.maxBodyBytes
    }

    /// Bytes received but not yet consumed by ``next()``; the integrator stops reading from the
    /// socket while this is large (backpressure).
    @inlinable public var bufferedByteCount: Int {
        buffer.count - readIndex
    }

    /// The bytes of the request line and header section of the last head returned (or being
    /// parsed), for accounting what a queued request holds.
    public var lastHeadByteCount: Int { headByteCount }
    /// Whether the request being read (or the one that failed) is a `HEAD`: set as soon as the
    /// space after its method is seen, before any other check of the line, and kept through
    /// its head and body, so that every error of that request (414, 505, 413…) knows. An error
    /// response to it carries no body (RFC 9110 §9.3.2).
    package private(set) var headInProgressIsHEAD = false

    /// Whether part of a request has been received and not yet returned in full: a request line
    /// or header lines consumed, a body in progress, or unparsed bytes buffered.
    @inlinable public var hasPartialRequest: Bool {
        !state.isRequestLine || buffer.count > readIndex
    }

    /// Appends received bytes; parsing happens in ``next()``.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard prepareForAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes from any sequence (a convenience for tests and small inputs).
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        guard prepareForAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Overrides the body limit for the request whose head was just returned (per-route limits).
    /// Applies until the next head, which starts again from ``Limits/maxBodyBytes``.
    public mutating func setBodyLimit(forCurrentRequest bytes: Int) {
        currentBodyLimit = bytes
    }

    /// Returns the next parse event, or `nil` when more bytes are needed.
    ///
    /// After an error is thrown the parser stays failed: every later call throws the same error.
    public mutating func next() throws(HTTPParserError) -> HTTPParserEvent? {
        do throws(HTTPParserError) {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    // MARK: - Buffer management

    /// Frees the receive buffer when every byte in it was consumed (a connection that will read
    /// nothing for a long time, such as an event stream, should not hold it).
    public mutating func releaseBufferIfConsumed() {
        guard readIndex == buffer.count else { return }
        buffer = []
        readIndex = 0
        scanIndex = 0
    }

    /// Takes header fields whose storage the next head may reuse (a request's whose response is
    /// done, or empty ones a caller kept), so that it does not allocate its own: a keep-alive
    /// connection's requests then allocate nothing for their fields. Fields still held
    /// elsewhere are never changed: the storage is reused only if nothing else refers to it
    /// when the next head starts (copy-on-write), and is copied otherwise, as without it.
    package mutating func recycleHeaderFields(_ fields: HTTPFields) {
        guard fields.count <= HeadBuilder.expectedFieldCount * 4 else { return }
        spareFields = fields
        hasSpareFields = true
    }

    /// The fields ``recycleHeaderFields(_:)`` gave and no head has used yet (or nil), so that
    /// the caller can keep their storage elsewhere while the connection is idle.
    package mutating func takeSpareHeaderFields() -> HTTPFields? {
        guard hasSpareFields else { return nil }
        hasSpareFields = false
        var fields = HTTPFields()
        swap(&fields, &spareFields)
        return fields
    }

    /// Whether the next head would reuse recycled fields.
    package var hasSpareHeaderFields: Bool { hasSpareFields }

    /// The head's first field line: the recycled fields become the builder's, still holding the
    /// earlier request's fields, which the head's own overwrite (``HeadBuilder/staleFieldCount``).
    private mutating func adoptSpareFields() {
        var fields = HTTPFields()
        swap(&fields, &spareFields)
        hasSpareFields = false
        builder.staleFieldCount = fields.count
        builder.fields = fields
    }

    /// Whether the parser holds no receive buffer yet (or gave it back): a caller with a spare
    /// one may lend it (``adoptBuffer(_:)``), sparing the allocation of the first read.
    package var hasNoBuffer: Bool { buffer.capacity == 0 }

    /// Takes `spare`'s storage as the receive buffer (emptied) when the parser has none; leaves
    /// `spare` empty.
    package mutating func adoptBuffer(_ spare: inout [UInt8]) {
        guard buffer.capacity == 0 else { return }
        spare.removeAll(keepingCapacity: true)
        swap(&buffer, &spare)
        readIndex = 0
        scanIndex = 0
    }

    /// The receive buffer, emptied, when every byte in it was consumed (as
    /// ``releaseBufferIfConsumed()``, but handed to the caller for another parser); nil otherwise.
    package mutating func takeBufferIfConsumed() -> [UInt8]? {
        guard buffer.capacity > 0, readIndex == buffer.count else { return nil }
        var taken: [UInt8] = []
        swap(&taken, &buffer)
        readIndex = 0
        scanIndex = 0
        taken.removeAll(keepingCapacity: true)
        return taken
    }

    /// Compacts consumed bytes; returns `false` when input must be dropped (failed parser).
    private mutating func prepareForAppend() -> Bool {
        if case .failed = state { return false }
        if readIndex == buffer.count {
            if readIndex > 0 || buffer.capacity > Self.retainedCapacityBytes {
                buffer.removeAll(keepingCapacity: buffer.capacity <= Self.retainedCapacityBytes)
                readIndex = 0
                scanIndex = 0
            }
        } else if readIndex >= Self.compactionThresholdBytes, readIndex >= buffer.count - readIndex {
            // At most half the buffer moves, and only after 4 KiB were consumed: amortised O(1).
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
        return true
    }

    private mutating func consume(_ count: Int) {
        readIndex += count
        scanIndex = readIndex
    }

    /// Copies `count` unconsumed bytes out as a body event.
    private mutating func takeBody(_ count: Int) -> HTTPParserEvent {
        let bytes = Array(buffer[readIndex..<(readIndex + count)])
        consume(count)
        return .body(bytes)
    }

    /// Searches for the LF that ends the current line, which may be at most `maxLineBytes` long
    /// including its terminator. Bytes already searched are not searched again.
    private mutating func findLine(maxLineBytes: Int) -> LineSearch {
        let available = buffer.count - readIndex
        let windowEnd = maxLineBytes >= available ? buffer.count : readIndex + max(0, maxLineBytes)
        let from = min(scanIndex, windowEnd)
        let found = buffer.withUnsafeBufferPointer { bytes in
            HTTPBytes.firstLineFeed(in: bytes, range: from..<windowEnd)
        }
        if let found {
            return .found(lineFeedIndex: found)
        }
        scanIndex = windowEnd
        return windowEnd - readIndex >= maxLineBytes ? .tooLong : .needMoreBytes
    }

    // MARK: - State machine

    private mutating func step() throws(HTTPParserError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error

            case .requestLine, .headerLines:
                return try parseHead()

            case .endPending:
                state = .requestLine
                return .end

            case .contentLengthUnchecked(let length):
                // Checked here, not when the head is parsed, so a route can raise or lower the
                // limit after seeing the head.
                guard length <= currentBodyLimit else { throw .bodyTooLarge }
                state = length == 0 ? .endPending : .contentLengthBody(remaining: length)

            case .contentLengthBody(let remaining):
                let available = buffer.count - readIndex
                guard available > 0 else { return nil }
                let count = min(available, remaining)
                state = count == remaining ? .endPending : .contentLengthBody(remaining: remaining - count)
                return takeBody(count)

            case .chunkSizeLine:
                guard let size = try parseChunkSizeLine() else { return nil }
                state = size == 0 ? .trailerLines : .chunkData(remaining: size)

            case .chunkData(let remaining):
                let available = buffer.count - readIndex
                guard available > 0 else { return nil }
                let count = min(available, remaining)
                state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return takeBody(count)

            case .chunkDataEnd:
                let available = buffer.count - readIndex
                guard available > 0 else { return nil }
                guard buffer[readIndex] == HTTPBytes.cr else {
                    throw .malformedChunk(reason: "chunk data not followed by CRLF")
                }
                guard available > 1 else { return nil }
                guard buffer[readIndex + 1] == HTTPBytes.lf else {
                    throw .malformedChunk(reason: "chunk data not followed by CRLF")
                }
                consume(2)
                state = .chunkSizeLine

            case .trailerLines:
                guard try parseTrailerLines() else { return nil }
                state = .requestLine
                return .end
            }
        }
    }

    // MARK: - Head

    private mutating func parseHead() throws(HTTPParserError) -> HTTPParserEvent? {
        while true {
            if case .requestLine = state {
                guard let lineFeed = try scanRequestLine() else { return nil }
                let lineByteCount = lineFeed + 1 - readIndex
                let lineEnd = lineEndStrippingCR(lineFeed)
                let firstSpace = firstSpaceOffset
                let secondSpace = secondSpaceOffset
                firstSpaceOffset = -1
                secondSpaceOffset = -1
                if lineEnd == readIndex {
                    leadingEmptyLineCount += 1
                    guard leadingEmptyLineCount <= Self.maxLeadingEmptyLines else {
                        throw .malformedRequestLine(reason: "too many empty lines before the request line")
                    }
                    consume(lineByteCount)
                    continue
                }
                try parseRequestLine(
                    lineStart: readIndex,
                    lineEnd: lineEnd,
                    lineFeed: lineFeed,
                    firstSpace: firstSpace,
                    secondSpace: secondSpace
                )
                headByteCount = lineByteCount
                consume(lineByteCount)
                state = .headerLines
            } else {
                let lineFeed: Int
                switch findLine(maxLineBytes: limits.maxHeaderBytes - headByteCount) {
                case .found(let index): lineFeed = index
                case .needMoreBytes: return nil
                case .tooLong: throw .headersTooLarge
                }
                let lineByteCount = lineFeed + 1 - readIndex
                headByteCount += lineByteCount
                let lineEnd = lineEndStrippingCR(lineFeed)
                if lineEnd == readIndex {
                    consume(lineByteCount)
                    return .head(try finishHead())
                }
                builder.fieldCount += 1
                guard builder.fieldCount <= limits.maxHeaderCount else { throw .headersTooLarge }
                if builder.fieldCount == 1 && hasSpareFields { adoptSpareFields() }
                let lineStart = readIndex
                try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) in
                    try builder.addField(bytes, lineStart..<lineEnd)
                }
                consume(lineByteCount)
            }
        }
    }

    /// Head lines may end in CRLF or a bare LF; returns the index where the line content ends.
    private func lineEndStrippingCR(_ lineFeed: Int) -> Int {
        lineFeed > readIndex && buffer[lineFeed - 1] == HTTPBytes.cr ? lineFeed - 1 : lineFeed
    }

    /// Scans the incomplete request line for its LF, remembering the first two spaces on the way
    /// and rejecting non-token method bytes immediately, so garbage such as a TLS ClientHello on
    /// the plain-text port fails on its first byte instead of after 16 KiB.
    private mutating func scanRequestLine() throws(HTTPParserError) -> Int? {
        let maxLineBytes = limits.maxHeaderBytes
        let available = buffer.count - readIndex
        let windowEnd = maxLineBytes >= available ? buffer.count : readIndex + max(0, maxLineBytes)
        let lineStart = readIndex
        var firstSpace = firstSpaceOffset
        var secondSpace = secondSpaceOffset
        let from = min(scanIndex, windowEnd)
        let found = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) -> Int? in
            var index = from
            while index < windowEnd {
                let byte = bytes[index]
                if byte == HTTPBytes.lf { return index }
                if byte == HTTPBytes.space {
                    if firstSpace < 0 {
                        firstSpace = index - lineStart
                    } else if secondSpace < 0 {
                        secondSpace = index - lineStart
                    }
                } else if firstSpace < 0, byte != HTTPBytes.cr, !HTTPBytes.isTokenByte(byte) {
                    throw .malformedRequestLine(reason: "invalid character in method")
                }
                index += 1
            }
            return nil
        }
        if firstSpaceOffset < 0 {
            // A new request line: its method decides whether its errors may carry a body.
            headInProgressIsHEAD =
                firstSpace == 4 && buffer[lineStart] == UInt8(ascii: "H") && buffer[lineStart + 1] == UInt8(ascii: "E")
                && buffer[lineStart + 2] == UInt8(ascii: "A") && buffer[lineStart + 3] == UInt8(ascii: "D")
        }
        firstSpaceOffset = firstSpace
        secondSpaceOffset = secondSpace
        if let found { return found }
        scanIndex = windowEnd
        // Report an overlong target as 414 as soon as it is certain, exactly as the complete-line
        // check in parseRequestLine would, so whole and trickled input fail identically.
        if firstSpace >= 0 {
            let targetEnd = secondSpace >= 0 ? secondSpace : windowEnd - lineStart
            if targetEnd - firstSpace - 1 > limits.maxTargetBytes { throw .uriTooLong }
        }
        if windowEnd - readIndex >= maxLineBytes { throw .headersTooLarge }
        return nil
    }

    /// Validates `method SP request-target SP HTTP-version` and stores the parts in the builder.
    private mutating func parseRequestLine(
        lineStart: Int,
        lineEnd: Int,
        lineFeed: Int,
        firstSpace: Int,
        secondSpace: Int
    ) throws(HTTPParserError) {
        guard firstSpace >= 0 else { throw .malformedRequestLine(reason: "missing request-target") }
        let targetStart = lineStart + firstSpace + 1
        // Same rule as the early check in scanRequestLine: without a second space everything up
        // to the LF would have been target bytes.
        let targetEnd = secondSpace >= 0 ? lineStart + secondSpace : lineFeed
        guard targetEnd - targetStart <= limits.maxTargetBytes else { throw .uriTooLong }
        guard firstSpace > 0 else { throw .malformedRequestLine(reason: "empty method") }
        guard secondSpace >= 0, lineStart + secondSpace < lineEnd else {
            throw .malformedRequestLine(reason: "missing HTTP version")
        }
        guard targetEnd > targetStart else {
            throw .malformedRequestLine(reason: "empty request-target (more than one space)")
        }
        let isOptions: Bool
        (builder.version, builder.method, isOptions) = try buffer.withUnsafeBufferPointer {
            bytes throws(HTTPParserError) in
            // The version is checked first so that the HTTP/2 preface ("PRI * HTTP/2.0") gets
            // 505 even though "*" is not a valid target for PRI.
            let version = try Self.parseVersion(
                UnsafeBufferPointer(rebasing: bytes[(lineStart + secondSpace + 1)..<lineEnd]))
            let (method, isOptions) = try Self.parseMethod(
                UnsafeBufferPointer(rebasing: bytes[lineStart..<(lineStart + firstSpace)]))
            return (version, method, isOptions)
        }
        builder.target = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) in
            try Self.parseTarget(
                UnsafeBufferPointer(rebasing: bytes[targetStart..<targetEnd]), isOptions: isOptions)
        }
    }

    /// `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive (RFC 9112 §2.3).
    private static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) -> HTTPVersion {
        let zero = UInt8(ascii: "0")
        guard bytes.count == 8,
            HTTPBytes.equals(UnsafeBufferPointer(rebasing: bytes[0..<5]), "HTTP/"),
            bytes[5] &- zero < 10, bytes[6] == UInt8(ascii: "."), bytes[7] &- zero < 10
        else {
            throw .malformedRequestLine(reason: "invalid HTTP version")
        }
        let major = Int(bytes[5] - zero)
        let minor = Int(bytes[7] - zero)
        guard major == 1 else { throw .unsupportedVersion }
        // A later HTTP/1.x is read as the highest this server conforms to (RFC 9110 §2.5).
        return HTTPVersion(major: 1, minor: min(minor, 1))
    }

    /// Returns the method, using prebuilt values for the common ones to avoid a `String`.
    private static func parseMethod(
        _ bytes: UnsafeBufferPointer<UInt8>
    ) throws(HTTPParserError) -> (HTTPRequest.Method, isOptions: Bool) {
        switch bytes.count {
        case 3:
            if HTTPBytes.equals(bytes, "GET") { return (.get, false) }
            if HTTPBytes.equals(bytes, "PUT") { return (.put, false) }
        case 4:
            if HTTPBytes.equals(bytes, "POST") { return (.post, false) }
            if HTTPBytes.equals(bytes, "HEAD") { return (.head, false) }
        case 5:
            if HTTPBytes.equals(bytes, "PATCH") { return (.patch, false) }
        case 6:
            if HTTPBytes.equals(bytes, "DELETE") { return (.delete, false) }
        case 7:
            if HTTPBytes.equals(bytes, "OPTIONS") { return (.options, true) }
        default:
            break
        }
        // Methods are case-sensitive tokens; HTTPRequest.Method validates the token characters
        // (the scan already did, but CR is let through there and must be caught here).
        guard let method = HTTPRequest.Method(String(decoding: bytes, as: UTF8.self)) else {
            throw .malformedRequestLine(reason: "invalid method")
        }
        return (method, false)
    }

    /// Whether `value` is a `Host` this parser takes (`uri-host [":" port]`, no userinfo, an IP
    /// literal that is one): HTTP/2's `:authority` and `host` are held to it too.
    package static func isValidHost(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { HTTPBytes.isValidHost($0) }
    }

    /// Whether `byte` may appear in a request-target: printable ASCII other than `#` (a target is
    /// a URI, RFC 3986, and `#` starts a fragment, never sent). HTTP/2's `:path` is held to it too.
    package static func isRequestTargetByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "#")
    }

    /// Accepts origin-form (`/path?query`), asterisk-form (`*`, OPTIONS only) and absolute-form
    /// (`http://host/path`). Authority-form (CONNECT) is rejected: Rill is not a proxy.
    private static func parseTarget(
        _ bytes: UnsafeBufferPointer<UInt8>,
        isOptions: Bool
    ) throws(HTTPParserError) -> String {
        // Only printable ASCII: a target is a URI (RFC 3986), and restricting it means `target`
        // is byte-identical to the wire (no UTF-8 repair). "#" starts a fragment, which is never
        // sent in a request-target.
        for byte in bytes where !Self.isRequestTargetByte(byte) {
            throw .malformedRequestLine(reason: "invalid character in request-target")
        }
        switch bytes[0] {
        case UInt8(ascii: "/"):
            break
        case UInt8(ascii: "*"):
            guard bytes.count == 1, isOptions else {
                throw .malformedRequestLine(reason: "asterisk-form is only allowed for OPTIONS")
            }
        default:
            let schemeEnd: Int
            if bytes.count > 7,
                HTTPBytes.equalsCaseInsensitive(UnsafeBufferPointer(rebasing: bytes[0..<7]), "http://")
            {
                schemeEnd = 7
            } else if bytes.count > 8,
                HTTPBytes.equalsCaseInsensitive(UnsafeBufferPointer(rebasing: bytes[0..<8]), "https://")
            {
                schemeEnd = 8
            } else {
                throw .malformedRequestLine(reason: "request-target is not origin-form or absolute-form")
            }
            guard bytes[schemeEnd] != UInt8(ascii: "/"), bytes[schemeEnd] != UInt8(ascii: "?") else {
                throw .malformedRequestLine(reason: "absolute-form target without authority")
            }
            // The authority replaces Host (RFC 9112 §3.2.2), so it must be a plain host[:port]:
            // userinfo is an error in an http(s) URI (RFC 9110 §4.2.4), and would let
            // "http://trusted@evil/" read differently by different components.
            var end = schemeEnd
            while end < bytes.count, bytes[end] != UInt8(ascii: "/"), bytes[end] != UInt8(ascii: "?") {
                guard bytes[end] != UInt8(ascii: "@") else {
                    throw .malformedRequestLine(reason: "userinfo in the request-target's authority")
                }
                end += 1
            }
            guard HTTPBytes.isValidHost(UnsafeBufferPointer(rebasing: bytes[schemeEnd..<end])) else {
                throw .malformedRequestLine(reason: "invalid authority in the request-target")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Derives framing and connection properties, resets per-request state and returns the head.
    private mutating func finishHead() throws(HTTPParserError) -> HTTPRequestHead {
        let bodyFraming: BodyFraming
        if builder.sawTransferEncoding {
            guard builder.contentLength == nil else { throw .conflictingFraming }
            // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            guard builder.version != .http1_0 else {
                throw .malformedHeader(reason: "Transfer-Encoding in an HTTP/1.0 request")
            }
            // Exactly one coding, "chunked". Chunked not the final one (gzip alone; chunked,
            // gzip; identity): the body's length cannot be known, 400 (RFC 9112 §6.3). Chunked
            // twice: a framing no sender may produce (§6.1), 400. Chunked last after other
            // codings (gzip, chunked): 501, we decode no other coding. All close the connection.
            guard builder.lastTransferCodingIsChunked else {
                throw .malformedHeader(reason: "Transfer-Encoding must end with chunked")
            }
            guard builder.chunkedCodingCount == 1 else {
                throw .malformedHeader(reason: "Transfer-Encoding applies chunked more than once")
            }
            guard builder.transferCodingCount == 1 else { throw .unsupportedTransferEncoding }
            bodyFraming = .chunked
        } else if let length = builder.contentLength {
            bodyFraming = .contentLength(length)
        } else {
            bodyFraming = .none
        }
        let isHTTP11 = builder.version == .http1_1
        guard builder.hostCount > 0 || !isHTTP11 else { throw .missingHost }

        // Recycled fields this head did not overwrite (it has fewer than the earlier one) go.
        if builder.fieldCount < builder.staleFieldCount {
            builder.fields.removeSubrange(builder.fieldCount..<builder.staleFieldCount)
        }
        let head = HTTPRequestHead(
            method: builder.method,
            target: builder.target,
            version: builder.version,
            headerFields: builder.fields,
            bodyFraming: bodyFraming,
            keepAlive: isHTTP11
                ? !builder.connectionClose
                : builder.connectionKeepAlive && !builder.connectionClose,
            expectsContinue: isHTTP11 && builder.expectsContinue
        )
        builder = HeadBuilder()
        leadingEmptyLineCount = 0
        currentBodyLimit = limits.maxBodyBytes
        switch bodyFraming {
        case .none:
            state = .endPending
        case .contentLength(let length):
            state = .contentLengthUnchecked(length)
        case .chunked:
            chunkedBodyByteCount = 0
            trailerByteCount = 0
            state = .chunkSizeLine
        }
        return head
    }

    // MARK: - Chunked body

    /// Parses `chunk-size [ chunk-ext ] CRLF`; returns the size, or `nil` if the line is
    /// incomplete.
    private mutating func parseChunkSizeLine() throws(HTTPParserError) -> Int? {
        let lineFeed: Int
        switch findLine(maxLineBytes: Self.maxChunkSizeLineBytes) {
        case .found(let index): lineFeed = index
        case .needMoreBytes: return nil
        case .tooLong: throw .malformedChunk(reason: "chunk size line too long")
        }
        guard lineFeed > readIndex, buffer[lineFeed - 1] == HTTPBytes.cr else {
            throw .malformedChunk(reason: "chunk size line not terminated by CRLF")
        }
        let lineStart = readIndex
        let size = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) in
            try Self.parseChunkSize(UnsafeBufferPointer(rebasing: bytes[lineStart..<(lineFeed - 1)]))
        }
        guard size <= UInt64(Int.max), Int(size) <= currentBodyLimit - chunkedBodyByteCount else {
            throw .bodyTooLarge
        }
        chunkedBodyByteCount += Int(size)
        consume(lineFeed + 1 - readIndex)
        return Int(size)
    }

    /// `chunk-size = 1*HEXDIG`, then nothing or `BWS ";" chunk-ext` (ignored, but validated so a
    /// CR or control byte cannot hide in it).
    private static func parseChunkSize(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) -> UInt64 {
        var size: UInt64 = 0
        var index = 0
        digits: while index < line.count {
            let byte = line[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: break digits
            }
            // No sign, no "0x", no leading-zero padding beyond 64 bits: anything a lenient
            // parser might read differently is refused.
            guard index < maxChunkSizeDigits else {
                throw .malformedChunk(reason: "chunk size has more than 16 hex digits")
            }
            size = size << 4 | UInt64(digit)
            index += 1
        }
        guard index > 0 else { throw .malformedChunk(reason: "missing chunk size") }
        guard index < line.count else { return size }
        try validateChunkExtensions(UnsafeBufferPointer(rebasing: line[index...]))
        return size
    }

    /// Checks `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )` (RFC 9112 §7.1.1),
    /// where a name is a token and a value a token or a quoted-string. Extensions are ignored,
    /// but a lenient reading is where request-smuggling parsers disagree (an empty name, an
    /// unterminated quote hiding a CRLF), so anything off the grammar is refused.
    private static func validateChunkExtensions(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) {
        var index = 0
        func skipWhitespace() {
            while index < bytes.count, bytes[index] == HTTPBytes.space || bytes[index] == HTTPBytes.tab { index += 1 }
        }
        func token() -> Bool {
            let start = index
            while index < bytes.count, HTTPBytes.isTokenByte(bytes[index]) { index += 1 }
            return index > start
        }
        while index < bytes.count {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == HTTPBytes.semicolon else {
                throw .malformedChunk(reason: "invalid character after chunk size")
            }
            index += 1
            skipWhitespace()
            guard token() else { throw .malformedChunk(reason: "chunk extension without a name") }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { continue }
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\"") {
                        closed = true
                        break
                    }
                    if byte == UInt8(ascii: "\\") {
                        guard index < bytes.count, HTTPBytes.isFieldValueByte(bytes[index]) else {
                            throw .malformedChunk(reason: "invalid quoted-pair in chunk extension")
                        }
                        index += 1
                    } else if !HTTPBytes.isFieldValueByte(byte) {
                        throw .malformedChunk(reason: "invalid character in chunk extension")
                    }
                }
                guard closed else { throw .malformedChunk(reason: "unterminated quoted string in chunk extension") }
            } else if !token() {
                throw .malformedChunk(reason: "chunk extension without a value after =")
            }
        }
    }

    /// Parses and discards the trailer section after the last chunk; returns `true` once the
    /// terminating empty line was consumed.
    private mutating func parseTrailerLines() throws(HTTPParserError) -> Bool {
        while true {
            let lineFeed: Int
            switch findLine(maxLineBytes: limits.maxHeaderBytes - trailerByteCount) {
            case .found(let index): lineFeed = index
            case .needMoreBytes: return false
            case .tooLong: throw .headersTooLarge
            }
            guard lineFeed > readIndex, buffer[lineFeed - 1] == HTTPBytes.cr else {
                throw .malformedChunk(reason: "trailer line not terminated by CRLF")
            }
            let lineByteCount = lineFeed + 1 - readIndex
            trailerByteCount += lineByteCount
            let lineStart = readIndex
            let lineEnd = lineFeed - 1
            consume(lineByteCount)
            if lineEnd == lineStart { return true }
            // Trailers are discarded (we never merge them into the head), but they are still
            // validated so a malformed trailer cannot desynchronise a downstream reader.
            _ = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) in
                try HeadBuilder.splitField(bytes, lineStart..<lineEnd)
            }
        }
    }
}

/// The parts of a head collected line by line until the empty line arrives.
private struct HeadBuilder {
    /// Typical browsers send 10–15 fields, load generators 2–5.
    static let expectedFieldCount = 16

    var method: HTTPRequest.Method = .get
    var target = ""
    var version: HTTPVersion = .http1_1
    var fields = HTTPFields()
    /// How many of `fields` are an earlier request's (recycled storage, not emptied): the
    /// fields added overwrite them in place, one by one (`HTTPFields`' inlinable subscript
    /// setter, which does nothing for an equal field: a client repeats most of its fields on
    /// every request), and the finished head drops those left over. Emptying the storage first
    /// would cost more: `HTTPFields` removes through its generic `replaceSubrange`, which is not
    /// inlinable (a runtime generic-metadata lookup and a generic copy per call).
    var staleFieldCount = 0
    /// The head's field lines so far, counted before each is added: every one that does not
    /// fail the head is in `fields`, at `fieldCount - 1`.
    var fieldCount = 0
    var contentLength: Int?
    var sawTransferEncoding = false
    var transferCodingCount = 0
    /// How many of the codings are `chunked`.
    var chunkedCodingCount = 0
    var lastTransferCodingIsChunked = false
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    var expectsContinue = false

    /// Splits `field-name ":" OWS field-value OWS`, validating both parts (RFC 9112 §5).
    /// Returns the name range and the trimmed value range.
    static func splitField(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ line: Range<Int>
    ) throws(HTTPParserError) -> (name: Range<Int>, value: Range<Int>, valueIsASCII: Bool) {
        let first = bytes[line.lowerBound]
        if first == HTTPBytes.space || first == HTTPBytes.tab {
            // obs-fold: RFC 9112 §5.2 lets a server reject it; unfolding differently from a
            // proxy is a smuggling vector.
            throw .malformedHeader(reason: "obsolete line folding")
        }
        var index = line.lowerBound
        while index < line.upperBound {
            let byte = bytes[index]
            if byte == HTTPBytes.colon { break }
            guard HTTPBytes.isTokenByte(byte) else {
                if byte == HTTPBytes.space || byte == HTTPBytes.tab {
                    // RFC 9112 §5.1: MUST reject; proxies disagree on what such a name means.
                    throw .malformedHeader(reason: "whitespace between field name and colon")
                }
                throw .malformedHeader(reason: "invalid character in field name")
            }
            index += 1
        }
        guard index < line.upperBound else { throw .malformedHeader(reason: "missing colon") }
        guard index > line.lowerBound else { throw .malformedHeader(reason: "empty field name") }
        let value = HTTPBytes.trimmingWhitespace(bytes, (index + 1)..<line.upperBound)
        let (isValid, isASCII) = HTTPBytes.validateFieldValue(bytes, value)
        guard isValid else { throw .malformedHeader(reason: "invalid character in field value") }
        return (line.lowerBound..<index, value, isASCII)
    }

    /// Validates one header line, records framing-relevant values and appends the field.
    mutating func addField(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) throws(HTTPParserError) {
        let (nameRange, valueRange, valueIsASCII) = try Self.splitField(bytes, line)
        let nameBytes = UnsafeBufferPointer(rebasing: bytes[nameRange])
        let valueBytes = UnsafeBufferPointer(rebasing: bytes[valueRange])
        let (knownName, role) = KnownHeaderName.lookUp(nameBytes)
        switch role {
        case .other:
            break
        case .host:
            hostCount += 1
            // RFC 9112 §3.2: more than one Host line MUST be rejected with 400.
            guard hostCount == 1 else { throw .malformedHeader(reason: "more than one Host field") }
            // RFC 9112 §3.2: and so must a Host whose value is not a host[:port].
            guard HTTPBytes.isValidHost(valueBytes) else { throw .malformedHeader(reason: "invalid Host") }
        case .contentLength:
            try recordContentLength(valueBytes)
        case .transferEncoding:
            sawTransferEncoding = true
            Self.forEachListElement(valueBytes) { element in
                transferCodingCount += 1
                lastTransferCodingIsChunked = HTTPBytes.equalsCaseInsensitive(element, "chunked")
                if lastTransferCodingIsChunked { chunkedCodingCount += 1 }
            }
        case .connection:
            Self.forEachListElement(valueBytes) { element in
                if HTTPBytes.equalsCaseInsensitive(element, "close") {
                    connectionClose = true
                } else if HTTPBytes.equalsCaseInsensitive(element, "keep-alive") {
                    connectionKeepAlive = true
                }
            }
        case .expect:
            Self.forEachListElement(valueBytes) { element in
                if HTTPBytes.equalsCaseInsensitive(element, "100-continue") { expectsContinue = true }
            }
        }
        let name: HTTPField.Name
        if let knownName {
            name = knownName
        } else if let parsed = HTTPField.Name(String(decoding: nameBytes, as: UTF8.self)) {
            name = parsed
        } else {
            throw .malformedHeader(reason: "invalid field name")
        }
        // The value was validated above (no CR/LF/NUL/CTL, trimmed), so HTTPField keeps it as is.
        // ASCII values (nearly all) go through String, whose validation HTTPTypes runs as a tight
        // specialised loop; the byte-collection initialiser costs a generic UTF-8 validation per
        // field. obs-text values keep the byte path so non-UTF-8 bytes survive unrepaired.
        let field =
            valueIsASCII
            ? HTTPField(name: name, value: String(decoding: valueBytes, as: UTF8.self))
            : HTTPField(name: name, value: valueBytes)
        let position = fieldCount - 1
        if position < staleFieldCount {
            let earlier = fields[position].name
            if earlier != field.name || earlier.rawName == field.name.rawName {
                fields[position] = field
            } else {
                // The same name spelled in another case: `HTTPField`'s `==` ignores case, so the
                // setter would keep the earlier spelling. Rare enough for the generic path.
                fields.replaceSubrange(position..<position + 1, with: CollectionOfOne(field))
            }
            return
        }
        if fields.isEmpty {
            // One allocation for a typical browser request instead of growing 1, 2, 4, 8, 16.
            fields.reserveCapacity(Self.expectedFieldCount)
        }
        fields.append(field)
    }

    /// `Content-Length = 1*DIGIT`, possibly repeated as a list or across fields. Identical
    /// repetitions are accepted (RFC 9110 §8.6); differing ones make the length ambiguous.
    private mutating func recordContentLength(_ value: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) {
        // `<=` so that an empty value or a trailing comma yields an empty element (rejected).
        var index = 0
        while index <= value.count {
            var end = index
            while end < value.count, value[end] != HTTPBytes.comma { end += 1 }
            let element = HTTPBytes.trimmingWhitespace(value, index..<end)
            guard !element.isEmpty else { throw .invalidContentLength }
            var length = 0
            for position in element {
                let digit = value[position] &- UInt8(ascii: "0")
                guard digit < 10 else { throw .invalidContentLength }
                let (shifted, overflow1) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = shifted.addingReportingOverflow(Int(digit))
                guard !overflow1, !overflow2 else { throw .invalidContentLength }
                length = sum
            }
            if let existing = contentLength, existing != length { throw .conflictingFraming }
            contentLength = length
            index = end + 1
        }
    }

    /// Calls `body` with each non-empty, OWS-trimmed element of a comma-separated list; empty
    /// elements are skipped as RFC 9110 §5.6.1 requires.
    private static func forEachListElement(
        _ value: UnsafeBufferPointer<UInt8>,
        _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        var index = 0
        while index < value.count {
            var end = index
            while end < value.count, value[end] != HTTPBytes.comma { end += 1 }
            let element = HTTPBytes.trimmingWhitespace(value, index..<end)
            if !element.isEmpty { body(UnsafeBufferPointer(rebasing: value[element])) }
            index = end + 1
        }
    }
}
