import RillHTTP

/// `HTTPRequestParser` on request heads a browser or `curl` would send. One parser is reused
/// across requests, as on a keep-alive connection: each call appends one whole request and
/// pulls events until its `.end`.
public struct HTTPParsingWorkload {
    /// A browser-style `GET` head: request line with a query, six header fields, 314 bytes.
    public static let getRequest = Array(
        ("GET /api/v1/users/42/posts?limit=20&sort=desc HTTP/1.1\r\n"
            + "Host: api.example.com\r\n"
            + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
            + "Accept: application/json, text/plain, */*\r\n"
            + "Accept-Encoding: gzip, deflate, br\r\n"
            + "Connection: keep-alive\r\n"
            + "Cookie: session=3f2a9c1e7b5d4a60; theme=dark\r\n"
            + "\r\n").utf8)

    /// A `curl`-style JSON `POST`: a 146-byte head (five fields) and a 56-byte `Content-Length` body.
    public static let postRequest: [UInt8] = {
        let body = #"{"channel":"news","message":"hello, world","priority":3}"#
        return Array(
            ("POST /api/v1/messages HTTP/1.1\r\n"
                + "Host: api.example.com\r\n"
                + "User-Agent: curl/8.5.0\r\n"
                + "Accept: */*\r\n"
                + "Content-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n"
                + "\r\n" + body).utf8)
    }()

    private var parser = HTTPRequestParser()

    public init() {}

    /// Parses one request appended in a single buffer (what one socket read usually holds).
    /// Returns header count + body bytes, so the result depends on everything parsed.
    public mutating func parseWhole(_ request: [UInt8]) -> Int {
        request.withUnsafeBytes { parser.append($0) }
        return drain()
    }

    /// Parses one request appended one byte at a time, calling `next()` after every byte
    /// (the worst case: a client trickling its head in).
    public mutating func parseByteByByte(_ request: [UInt8]) -> Int {
        var result = 0
        request.withUnsafeBytes { bytes in
            for index in 0..<bytes.count {
                parser.append(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + 1)]))
                result &+= drain(untilEnd: false)
            }
        }
        return result
    }

    private mutating func drain(untilEnd: Bool = true) -> Int {
        var result = 0
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let head): result &+= head.headerFields.count
                case .body(let bytes): result &+= bytes.count
                case .end: return result
                }
            }
        } catch {
            fatalError("benchmark request failed to parse: \(error)")
        }
        precondition(!untilEnd, "request incomplete")
        return result
    }
}
