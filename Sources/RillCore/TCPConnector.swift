internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

/// Opens client-side TCP connections on an `EventLoop`: the counterpart of ``TCPListener``, for
/// load generators, test clients and outbound connections.
///
/// A connection that succeeds is a ``TCPStream`` exactly like an accepted one (same reads from
/// the loop's shared buffer, same writes, same close rules). Loop-confined: call it on the loop's
/// thread; the completion also runs there.
///
/// ```swift
/// TCPConnector.connect(loop: loop, host: "127.0.0.1", port: 8080, timeout: .seconds(5)) { result in
///     switch result {
///     case .success(let stream): stream.delegate = client; stream.startReading()
///     case .failure(let error): print(error)   // ECONNREFUSED, ETIMEDOUT, EMFILE, ...
///     }
/// }
/// ```
public enum TCPConnector {
    /// Connects to `host`:`port` and calls `completion` on the loop thread, exactly once.
    ///
    /// - Parameters:
    ///   - loop: the loop that owns the connection; must be the current thread's loop.
    ///   - host: a numeric IPv4 or IPv6 address, `localhost`, or a host name. A name is resolved
    ///     with the system resolver, which blocks the loop: resolve once and pass a numeric
    ///     address when connecting many times (see ``resolve(host:port:)``).
    ///   - port: the server's port.
    ///   - timeout: how long the connect may take before it fails with `ETIMEDOUT`; nil waits as
    ///     long as the kernel does.
    ///   - noDelay: sets `TCP_NODELAY` on the connected socket (the default, as for accepted
    ///     sockets).
    ///   - localHost: a numeric local address to connect from (the port is still picked by the
    ///     kernel, per destination, with `IP_BIND_ADDRESS_NO_PORT`). Many connections to one
    ///     server from one source address share one ephemeral port range (28,232 ports by
    ///     default, and Linux searches the odd half first, which gets slow past ~14,000); a load
    ///     generator spreads its connections over several loopback sources (127.0.0.2, …) instead.
    ///   - completion: the connected stream, or the error of the last address tried. When it
    ///     succeeds the caller owns the stream and must close it.
    public static func connect(
        loop: EventLoop, host: String, port: Int, timeout: Duration? = nil, noDelay: Bool = true,
        localHost: String? = nil, _ completion: @escaping (Result<TCPStream, UVError>) -> Void
    ) {
        loop.preconditionInEventLoop()
        let addresses: [sockaddr_storage]
        var local: sockaddr_storage?
        do {
            addresses = try SocketAddress.resolve(host: host, port: port)
            if let localHost { local = try SocketAddress.resolve(host: localHost, port: 0).first }
        } catch {
            completion(.failure(error))
            return
        }
        connect(
            loop: loop, addresses: addresses[...], local: local, timeout: timeout, noDelay: noDelay, lastError: nil,
            completion)
    }

    /// Connects to `address` (numeric, so nothing is resolved); see
    /// ``connect(loop:host:port:timeout:noDelay:localHost:_:)``.
    public static func connect(
        loop: EventLoop, to address: SocketAddress, timeout: Duration? = nil, noDelay: Bool = true,
        localHost: String? = nil, _ completion: @escaping (Result<TCPStream, UVError>) -> Void
    ) {
        connect(
            loop: loop, host: address.host, port: address.port, timeout: timeout, noDelay: noDelay, localHost: localHost,
            completion)
    }

    /// The async form of ``connect(loop:host:port:timeout:noDelay:localHost:_:)``. Call it from a
    /// task whose executor preference is the loop's executor (it hops there otherwise).
    public static func connect(
        loop: EventLoop, host: String, port: Int, timeout: Duration? = nil, noDelay: Bool = true, localHost: String? = nil
    ) async throws(UVError) -> TCPStream {
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<TCPStream, UVError>, Never>) in
            let start = {
                connect(loop: loop, host: host, port: port, timeout: timeout, noDelay: noDelay, localHost: localHost) {
                    continuation.resume(returning: $0)
                }
            }
            if loop.inEventLoop {
                start()
            } else if !loop.execute(UncheckedBox(start).call) {
                continuation.resume(
                    returning: .failure(UVError(Int32(UV_ECANCELED.rawValue), "connecting to \(host):\(port) on a loop that refused work")))
            }
        }
        return try result.get()
    }

    /// Resolves `host` once (numeric addresses without any lookup) to the addresses a connect
    /// would try, in order.
    public static func resolve(host: String, port: Int) throws(UVError) -> [SocketAddress] {
        try SocketAddress.resolve(host: host, port: port).compactMap { storage in
            withUnsafePointer(to: storage) { SocketAddress($0) }
        }
    }

    /// Tries the addresses in order until one connects.
    private static func connect(
        loop: EventLoop, addresses: ArraySlice<sockaddr_storage>, local: sockaddr_storage?, timeout: Duration?, noDelay: Bool,
        lastError: UVError?, _ completion: @escaping (Result<TCPStream, UVError>) -> Void
    ) {
        guard let address = addresses.first else {
            completion(.failure(lastError ?? UVError(Int32(UV_EADDRNOTAVAIL.rawValue), "connecting")))
            return
        }
        let rest = addresses.dropFirst()
        // A local address of the other family cannot reach this address: connect without it.
        let matchingLocal = local.flatMap { $0.ss_family == address.ss_family ? $0 : nil }
        ConnectAttempt.start(loop: loop, address: address, local: matchingLocal, timeout: timeout, noDelay: noDelay) { result in
            switch result {
            case .success:
                completion(result)
            case .failure(let error):
                // A timeout or a full fd table will not get better with the next address.
                if rest.isEmpty || error.code == Int32(UV_ETIMEDOUT.rawValue) || error.code == Int32(UV_EMFILE.rawValue) {
                    completion(result)
                } else {
                    connect(
                        loop: loop, addresses: rest, local: local, timeout: timeout, noDelay: noDelay, lastError: error,
                        completion)
                }
            }
        }
    }
}

/// One `uv_tcp_connect` in flight: owns the handle until it becomes a ``TCPStream`` (success) or
/// is closed and freed (failure, timeout). Retained by the connect request until its callback.
private final class ConnectAttempt {
    let loop: EventLoop
    let handle: UnsafeMutablePointer<uv_tcp_t>
    let request: UnsafeMutablePointer<uv_connect_t>
    let noDelay: Bool
    var completion: ((Result<TCPStream, UVError>) -> Void)?
    var timer: ScheduledTimer?
    var timedOut = false
    /// The destination, formatted into error messages only when one is needed (a load
    /// generator connects tens of thousands of times per second).
    let address: sockaddr_storage

    /// What failed, for error messages: "connecting to 127.0.0.1:8080".
    var description: String {
        var address = address
        let text = withUnsafePointer(to: &address) { SocketAddress($0)?.description } ?? "?"
        return "connecting to \(text)"
    }

    private init(
        loop: EventLoop, noDelay: Bool, address: sockaddr_storage, completion: @escaping (Result<TCPStream, UVError>) -> Void
    ) {
        self.loop = loop
        self.noDelay = noDelay
        self.address = address
        self.completion = completion
        handle = .allocate(capacity: 1)
        request = .allocate(capacity: 1)
    }

    static func start(
        loop: EventLoop, address: sockaddr_storage, local: sockaddr_storage?, timeout: Duration?, noDelay: Bool,
        _ completion: @escaping (Result<TCPStream, UVError>) -> Void
    ) {
        var address = address
        let attempt = ConnectAttempt(loop: loop, noDelay: noDelay, address: address, completion: completion)
        let initRC = uv_tcp_init_ex(loop.uvLoop, attempt.handle, UInt32(address.ss_family))
        if initRC < 0 {
            // The handle was never registered with the loop: free it directly.
            attempt.handle.deallocate()
            attempt.request.deallocate()
            attempt.finish(.failure(UVError(initRC, attempt.description)))
            return
        }
        attempt.handle.pointee.data = nil
        if let local {
            let rc = bindLocal(attempt.handle, local)
            if rc < 0 {
                attempt.request.deallocate()
                attempt.closeHandle()
                attempt.finish(.failure(UVError(rc, "binding the local address, \(attempt.description)")))
                return
            }
        }
        attempt.request.pointee.data = Unmanaged.passRetained(attempt).toOpaque()
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                uv_tcp_connect(attempt.request, attempt.handle, socketAddress) { request, status in
                    let attempt = Unmanaged<ConnectAttempt>.fromOpaque(request!.pointee.data).takeRetainedValue()
                    attempt.connected(status: status)
                }
            }
        }
        if rc < 0 {
            // No callback will come (EMFILE, EADDRNOTAVAIL for a socket that could not be made).
            Unmanaged<ConnectAttempt>.fromOpaque(attempt.request.pointee.data).release()
            attempt.request.deallocate()
            attempt.closeHandle()
            attempt.finish(.failure(UVError(rc, attempt.description)))
            return
        }
        if let timeout {
            attempt.timer = loop.schedule(after: timeout) { [attempt] in attempt.expire() }
        }
    }

    /// Binds the socket to `local` before connecting; with port 0 the kernel picks the port at
    /// connect time, per destination (`IP_BIND_ADDRESS_NO_PORT`), not at bind time.
    ///
    /// A plain `bind(2)` on the handle's socket: `uv_tcp_bind` would also set `SO_REUSEADDR`,
    /// one more system call per connection that a socket bound without a port does not need.
    private static func bindLocal(_ handle: UnsafeMutablePointer<uv_tcp_t>, _ local: sockaddr_storage) -> Int32 {
        var local = local
        var fd: uv_os_fd_t = -1
        let rc = uv_fileno(rill_tcp_as_handle(handle), &fd)
        guard rc == 0 else { return rc }
        let length: socklen_t
        if local.ss_family == sa_family_t(AF_INET) {
            var one: Int32 = 1
            // Best effort: without it the bind itself reserves a port, which still works.
            _ = setsockopt(fd, Int32(IPPROTO_IP), IP_BIND_ADDRESS_NO_PORT, &one, socklen_t(MemoryLayout<Int32>.size))
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else {
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        return bound == 0 ? 0 : -errno
    }

    private func connected(status: Int32) {
        request.deallocate()
        timer?.cancel()
        timer = nil
        if timedOut {
            // expire() already closed the handle; libuv cancels the request with ECANCELED.
            finish(.failure(UVError(Int32(UV_ETIMEDOUT.rawValue), description)))
            return
        }
        if status < 0 {
            closeHandle()
            finish(.failure(UVError(status, description)))
            return
        }
        if noDelay { uv_tcp_nodelay(handle, 1) }
        finish(.success(TCPStream(loop: loop, handle: handle)))
    }

    /// The timeout passed first: closing the handle makes libuv call the connect callback with
    /// `ECANCELED`, where the attempt reports `ETIMEDOUT`.
    private func expire() {
        timer = nil
        guard completion != nil, !timedOut else { return }
        timedOut = true
        closeHandle()
    }

    private func closeHandle() {
        handle.pointee.data = nil
        uv_close(rill_tcp_as_handle(handle)) { handle in
            UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_tcp_t.self).deallocate()
        }
    }

    private func finish(_ result: Result<TCPStream, UVError>) {
        guard let completion else { return }
        self.completion = nil
        completion(result)
    }
}
