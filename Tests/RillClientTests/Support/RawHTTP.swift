import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A response read over a plain POSIX socket, with its chunked body taken apart by hand, so the
/// tests see exactly the bytes and the chunk boundaries Rill put on the wire.
struct RawResponse: Sendable {
    var statusLine: String
    /// Header fields in order, names lowercased.
    var headerFields: [(name: String, value: String)]
    /// The body's chunks, in order, as they were framed (empty when the body was not chunked).
    var chunks: [[UInt8]]
    /// The whole body: the chunks joined, or the raw body when it was not chunked.
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headerFields.first { $0.name == name.lowercased() }?.value
    }
}

/// Sends `GET path` with `Connection: close` to 127.0.0.1:`port`, reads until the server closes
/// (at most `timeout`), and parses the response.
func rawGET(
    port: Int, path: String, headers: [String: String] = [:], timeout: Duration = .seconds(10)
) async throws -> RawResponse {
    let bytes = try await rawExchange(port: port, path: path, headers: headers, timeout: timeout)
    return try parseResponse(bytes)
}

/// Sends `GET path` and returns the raw bytes received: everything until EOF, or, when `until`
/// is given, the bytes received by the time `until` first returns true, after which this client
/// closes the connection itself (a client going away mid-stream).
func rawExchange(
    port: Int, path: String, headers: [String: String] = [:], timeout: Duration = .seconds(10),
    until: (@Sendable ([UInt8]) -> Bool)? = nil
) async throws -> [UInt8] {
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request += "\(name): \(value)\r\n" }
    request += "Connection: close\r\n\r\n"
    return try await onDedicatedThread("raw GET \(path)") { [request] in
        try exchange(port: port, request: Array(request.utf8), timeout: timeout, until: until)
    }
}

/// Connects, writes `request`, and returns everything read until EOF (or until `until` holds).
private func exchange(
    port: Int, request: [UInt8], timeout: Duration, until: (@Sendable ([UInt8]) -> Bool)?
) throws -> [UInt8] {
    let deadline = ContinuousClock.now + timeout
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
    defer { close(fd) }

    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw HarnessError("connect to 127.0.0.1:\(port) failed: errno \(errno)") }

    var written = 0
    while written < request.count {
        let count = request[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard count > 0 else { throw HarnessError("send failed: errno \(errno)") }
        written += count
    }

    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else {
            throw HarnessError("no EOF within the time limit; received so far:\n\(String(decoding: received, as: UTF8.self))")
        }
        var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, Int32(min(remaining.components.seconds * 1000 + 1, 1000)))
        if ready < 0 && errno != EINTR { throw HarnessError("poll failed: errno \(errno)") }
        if ready <= 0 { continue }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            if errno == EINTR { continue }
            throw HarnessError("recv failed: errno \(errno)")
        }
        if count == 0 { return received }
        received.append(contentsOf: buffer[0..<count])
        if let until, until(received) { return received }
    }
}

/// Parses a status line, header fields and a chunked (or close-delimited) body, strictly: every
/// line must end in CRLF and every chunk size must match its data.
private func parseResponse(_ bytes: [UInt8]) throws -> RawResponse {
    var index = 0
    func line() throws -> String {
        var end = index
        while end + 1 < bytes.count, !(bytes[end] == 13 && bytes[end + 1] == 10) { end += 1 }
        guard end + 1 < bytes.count else { throw HarnessError("a line of the response does not end in CRLF") }
        defer { index = end + 2 }
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }

    let statusLine = try line()
    var headerFields: [(name: String, value: String)] = []
    while true {
        let field = try line()
        if field.isEmpty { break }
        guard let colon = field.firstIndex(of: ":") else { throw HarnessError("malformed header line \(field)") }
        headerFields.append(
            (field[..<colon].lowercased(), field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    var response = RawResponse(statusLine: statusLine, headerFields: headerFields, chunks: [], body: [])
    guard response.header("transfer-encoding")?.lowercased() == "chunked" else {
        response.body = Array(bytes[index...])
        return response
    }
    while true {
        let sizeLine = try line()
        let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        guard let size = Int(sizeText, radix: 16) else { throw HarnessError("bad chunk size line \(sizeLine)") }
        if size == 0 {
            guard try line().isEmpty else { throw HarnessError("trailers after the last chunk") }
            guard index == bytes.count else { throw HarnessError("\(bytes.count - index) bytes after the last chunk") }
            return response
        }
        guard index + size + 2 <= bytes.count, bytes[index + size] == 13, bytes[index + size + 1] == 10 else {
            throw HarnessError("chunk of \(size) bytes is truncated or not followed by CRLF")
        }
        let chunk = Array(bytes[index..<(index + size)])
        response.chunks.append(chunk)
        response.body += chunk
        index += size + 2
    }
}
