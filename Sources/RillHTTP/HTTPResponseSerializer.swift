public import HTTPTypes

/// Writes HTTP/1.1 response heads and chunked-body framing into byte buffers.
///
/// Appends raw bytes (no `String` interpolation) because it runs once per response on the hot
/// path. Header injection is impossible by construction: `HTTPFields` values are legalised by
/// `HTTPTypes` (CR, LF, NUL and other control bytes become spaces), field names are validated
/// tokens, and reason phrases are legalised by `HTTPResponse.Status`, so nothing written here can
/// contain a line break.
public enum HTTPResponseSerializer {
    /// The zero-size chunk plus the empty trailer section that ends a chunked body.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// Appends `HTTP/1.1 200 OK\r\n`, one `name: value\r\n` line per field, and the empty line.
    ///
    /// The reason phrase is `response.status.reasonPhrase`; when that is empty (statuses built
    /// from integer literals, e.g. `HTTPResponse(status: 404)`), the standard phrase for the code
    /// is written instead, if there is one. Framing fields (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`) are the caller's responsibility.
    ///
    /// - Parameter extraFieldLines: raw `name: value\r\n` lines written after the response's own
    ///   fields, for the fields a server manages itself (`Date`, `Content-Length`, `Connection`)
    ///   without building `HTTPField` values on every response.
    public static func writeHead(
        _ response: HTTPResponse,
        version: HTTPVersion = .http1_1,
        extraFieldLines: [UInt8] = [],
        into buffer: inout [UInt8]
    ) {
        writeStatusLineAndFields(response, version: version, into: &buffer)
        buffer.append(contentsOf: extraFieldLines)
        endHead(into: &buffer)
    }

    /// Appends the status line and the response's own field lines but not the empty line that
    /// ends the head, so a server can append the lines it manages itself straight into the same
    /// buffer, then call ``endHead(into:)``. See ``writeHead(_:version:extraFieldLines:into:)``.
    public static func writeStatusLineAndFields(_ response: HTTPResponse, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
        writeStatusLineAndFields(status: response.status, headerFields: response.headerFields, version: version, into: &buffer)
    }

    /// ``writeStatusLineAndFields(_:version:into:)`` from a status and fields, without building
    /// an `HTTPResponse` (whose pseudo-header storage is an allocation per response).
    public static func writeStatusLineAndFields(
        status: HTTPResponse.Status, headerFields: HTTPFields, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]
    ) {
        buffer.append(contentsOf: "HTTP/".utf8)
        buffer.append(digit(version.major))
        buffer.append(UInt8(ascii: "."))
        buffer.append(digit(version.minor))
        buffer.append(HTTPBytes.space)
        let code = status.code
        buffer.append(digit(code / 100))
        buffer.append(digit(code / 10 % 10))
        buffer.append(digit(code % 10))
        buffer.append(HTTPBytes.space)
        let reasonPhrase = status.reasonPhrase
        if reasonPhrase.isEmpty {
            standardReasonPhrase(code)?.withUTF8Buffer { buffer.append(contentsOf: $0) }
        } else {
            // Reason phrases are ISO Latin 1 on the wire; HTTPTypes already replaced every scalar
            // above U+00FF (and every control character) with a space, so each scalar is a byte.
            for scalar in reasonPhrase.unicodeScalars {
                buffer.append(UInt8(truncatingIfNeeded: scalar.value))
            }
        }
        buffer.append(HTTPBytes.cr)
        buffer.append(HTTPBytes.lf)
        for field in headerFields {
            buffer.append(contentsOf: field.name.rawName.utf8)
            buffer.append(HTTPBytes.colon)
            buffer.append(HTTPBytes.space)
            field.withUnsafeBytesOfValue { buffer.append(contentsOf: $0) }
            buffer.append(HTTPBytes.cr)
            buffer.append(HTTPBytes.lf)
        }
    }

    /// Appends the empty line that ends a head.
    public static func endHead(into buffer: inout [UInt8]) {
        buffer.append(HTTPBytes.cr)
        buffer.append(HTTPBytes.lf)
    }

    /// Appends one chunk: the size in lowercase hex, CRLF, the data, CRLF.
    ///
    /// Empty input writes nothing, because a zero-size chunk would end the body; use
    /// ``lastChunk`` for that.
    public static func writeChunk(_ bytes: some Collection<UInt8>, into buffer: inout [UInt8]) {
        let count = bytes.count
        guard count > 0 else { return }
        writeChunkHeader(size: count, into: &buffer)
        buffer.append(contentsOf: bytes)
        buffer.append(contentsOf: chunkTrailer)
    }

    /// Appends the head of a chunk of `size` bytes (size in lowercase hex, CRLF), for a chunk
    /// whose data is appended in pieces; ``chunkTrailer`` follows the data. `size` must be > 0.
    public static func writeChunkHeader(size: Int, into buffer: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxChunkHeaderByteCount) { header in
            buffer.append(contentsOf: header[..<writeChunkHeader(size: size, into: header)])
        }
    }

    /// The longest chunk head `writeChunkHeader(size:into:)` writes: 16 hex digits and CRLF.
    public static let maxChunkHeaderByteCount = 18

    /// Writes the head of a chunk of `size` bytes (size in lowercase hex, CRLF) at the start of
    /// `buffer`, which must hold ``maxChunkHeaderByteCount`` bytes; returns how many it wrote.
    /// `size` must be > 0.
    public static func writeChunkHeader(size: Int, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let digitCount = (Int.bitWidth - size.leadingZeroBitCount + 3) / 4
        for index in 0..<digitCount {
            let nibble = UInt8(truncatingIfNeeded: size >> ((digitCount - 1 - index) * 4)) & 0x0F
            buffer[index] = nibble < 10 ? nibble + UInt8(ascii: "0") : nibble - 10 + UInt8(ascii: "a")
        }
        buffer[digitCount] = HTTPBytes.cr
        buffer[digitCount + 1] = HTTPBytes.lf
        return digitCount + 2
    }

    /// What follows a chunk's data: CRLF.
    public static let chunkTrailer: [UInt8] = [HTTPBytes.cr, HTTPBytes.lf]

    @inline(__always)
    private static func digit(_ value: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: value) &+ UInt8(ascii: "0")
    }

    /// RFC 9110 reason phrases, used only when the status carries none.
    private static func standardReasonPhrase(_ code: Int) -> StaticString? {
        switch code {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 451: "Unavailable For Legal Reasons"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        case 511: "Network Authentication Required"
        default: nil
        }
    }
}
