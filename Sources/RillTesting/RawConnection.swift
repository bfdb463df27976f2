public import Rill
import RillCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP client on a plain POSIX socket, for tests that need exact control over the
/// bytes: pipelining, partial requests, malformed input, slow readers, half-closes.
///
/// Every blocking call is bounded: it fails with ``TestClientError/timedOut(waitingFor:)`` when
/// ``timeout`` passes without what it waits for. Run conversations with
/// ``onDedicatedThread(_:)`` from async tests so the concurrency pool stays free.
///
/// ```swift
/// let connection = try RawConnection(port: port)
/// try connection.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
/// let response = try connection.readResponse()
/// #expect(response.bodyText == "Hello")
/// ```
///
/// - Important: not thread-safe; use one connection from one thread at a time. Only ``close()``
///   may be called from anywhere, any number of times: the descriptor is closed exactly once
///   (a second `close(2)` of a reused descriptor number would close another test's socket).
public final class RawConnection: @unchecked Sendable {
    /// The server port this connection is connected to.
    public let port: Int
    /// The bound on every blocking call.
    public var timeout: Duration

    /// The socket; -1 once closed. Swapped atomically so it is closed exactly once.
    private let descriptor: Atomic<Int32>
    private var fd: Int32 { descriptor.load(ordering: .acquiring) }
    private var reader = HTTPResponseReader()
    private var receivedEndOfInput = false

    /// Connects to `host:port` (IPv4).
    ///
    /// - Parameters:
    ///   - host: a numeric IPv4 address, or `localhost`.
    ///   - timeout: the bound on connecting and on every later blocking call.
    ///   - receiveBufferBytes: when set, the socket's `SO_RCVBUF` (set before connecting), to
    ///     make backpressure appear sooner.
    /// - Throws: ``TestClientError/system(call:errno:)`` (for example `ECONNREFUSED`).
    public init(host: String = "127.0.0.1", port: Int, timeout: Duration = .seconds(5), receiveBufferBytes: Int? = nil) throws {
        self.port = port
        self.timeout = timeout
        // Close-on-exec: a test that spawns a process (redis-server, a browser) must not hand it
        // this socket, or closing it here would not close the connection.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        descriptor = Atomic(fd)
        guard fd >= 0 else { throw TestClientError.system(call: "socket", errno: errno) }
        var time = Self.timeval(timeout)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        // On Linux SO_SNDTIMEO bounds connect() as well as send().
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        if let receiveBufferBytes {
            var size = Int32(receiveBufferBytes)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            // deinit runs after a throwing init too: close() leaves it nothing to close again.
            close()
            throw TestClientError.system(call: "inet_pton", errno: EINVAL)
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let error = errno
            close()
            throw TestClientError.system(call: "connect", errno: error)
        }
    }

    deinit { close() }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { fd < 0 }

    /// The connection's own port (the one the server sees as the client's), nil once closed.
    public var localPort: Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return rc == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    /// Closes the socket (idempotent).
    public func close() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Closes the socket with `SO_LINGER` 0, so the peer sees a reset instead of a clean close.
    public func reset() {
        let fd = self.fd
        guard fd >= 0 else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    /// Half-closes: the server reads EOF, the connection can still receive.
    public func shutdownWrite() {
        let fd = self.fd
        guard fd >= 0 else { return }
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    // MARK: Sending

    /// Sends all of `bytes` (blocking while the kernel's send buffer is full, up to ``timeout``).
    public func send(_ bytes: [UInt8]) throws {
        let fd = self.fd
        guard fd >= 0 else { throw TestClientError.system(call: "send", errno: EBADF) }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                let error = errno
                if error == EINTR { continue }
                if error == EAGAIN || error == EWOULDBLOCK { throw TestClientError.timedOut(waitingFor: "send") }
                if error == ECONNRESET || error == EPIPE { throw TestClientError.connectionReset }
                throw TestClientError.system(call: "send", errno: error)
            }
            offset += sent
        }
    }

    /// Sends `text` as UTF-8.
    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    // MARK: Receiving

    /// Reads until at least `count` bytes arrived (returning everything read, possibly more), or
    /// the peer closed (returning what arrived). Bytes that ``readResponse(forRequestMethod:)``
    /// read beyond its response come first.
    ///
    /// - Throws: ``TestClientError/timedOut(waitingFor:)`` when ``timeout`` passes first.
    public func receive(atLeast count: Int) throws -> [UInt8] {
        var result = reader.takeBufferedBytes()
        let deadline = ContinuousClock.now + timeout
        while result.count < count, !receivedEndOfInput {
            guard let bytes = try receiveSome(before: deadline, waitingFor: "\(count) bytes") else { break }
            result.append(contentsOf: bytes)
        }
        return result
    }

    /// Reads until the peer closes the connection and returns everything.
    ///
    /// - Throws: ``TestClientError/timedOut(waitingFor:)`` when the peer is still open after
    ///   ``timeout``.
    public func receiveUntilClose() throws -> [UInt8] {
        var result = reader.takeBufferedBytes()
        let deadline = ContinuousClock.now + timeout
        while !receivedEndOfInput {
            guard let bytes = try receiveSome(before: deadline, waitingFor: "the server to close") else { break }
            result.append(contentsOf: bytes)
        }
        return result
    }

    /// Reads one response (an interim `1xx` response counts as one).
    ///
    /// - Parameter method: the request's method; responses to `HEAD` have no body.
    /// - Throws: ``HTTPResponseReaderError`` for an invalid response,
    ///   ``TestClientError/connectionClosed`` when the server closed before sending a complete
    ///   one, ``TestClientError/timedOut(waitingFor:)``.
    public func readResponse(forRequestMethod method: HTTPRequest.Method = .get) throws -> TestResponse {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let response = try reader.next(forRequestMethod: method) { return response }
            if receivedEndOfInput {
                let wasAtBoundary = reader.isAtResponseBoundary && reader.bufferedByteCount == 0
                if let response = try reader.finish() { return response }
                if wasAtBoundary { throw TestClientError.connectionClosed }
                throw HTTPResponseReaderError.unexpectedEndOfInput
            }
            if let bytes = try receiveSome(before: deadline, waitingFor: "a response") {
                reader.append(bytes)
            }
        }
    }

    /// Reads `count` responses in order (for pipelined requests).
    public func readResponses(_ count: Int, forRequestMethod method: HTTPRequest.Method = .get) throws -> [TestResponse] {
        try (0..<count).map { _ in try readResponse(forRequestMethod: method) }
    }

    /// Whether the peer closes (or resets) the connection within `duration`. Bytes that arrive
    /// meanwhile are read and discarded.
    public func isClosedByPeer(within duration: Duration) -> Bool {
        _ = reader.takeBufferedBytes()
        let deadline = ContinuousClock.now + duration
        while !receivedEndOfInput {
            do {
                guard try receiveSome(before: deadline, waitingFor: "close") != nil else { return true }
            } catch TestClientError.connectionReset {
                return true
            } catch {
                return false
            }
        }
        return true
    }

    /// One `recv` after waiting until readable; nil at EOF.
    private func receiveSome(before deadline: ContinuousClock.Instant, waitingFor what: String) throws -> [UInt8]? {
        let fd = self.fd
        guard fd >= 0 else { throw TestClientError.system(call: "recv", errno: EBADF) }
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestClientError.timedOut(waitingFor: what) }
            var pollDescriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollDescriptor, 1, Self.milliseconds(remaining))
            if ready < 0 {
                if errno == EINTR { continue }
                throw TestClientError.system(call: "poll", errno: errno)
            }
            if ready == 0 { throw TestClientError.timedOut(waitingFor: what) }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 { return Array(chunk[0..<count]) }
            if count == 0 {
                receivedEndOfInput = true
                return nil
            }
            let error = errno
            if error == EINTR || error == EAGAIN || error == EWOULDBLOCK { continue }
            if error == ECONNRESET {
                receivedEndOfInput = true
                throw TestClientError.connectionReset
            }
            throw TestClientError.system(call: "recv", errno: error)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(1, duration.millisecondsRoundingUp))
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
