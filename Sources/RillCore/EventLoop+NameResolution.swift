internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

extension EventLoop {
    /// Resolves `host` to the addresses a TCP connection to `host`:`port` may use, without
    /// blocking the loop: the system resolver (`getaddrinfo`) runs on libuv's thread pool
    /// (`uv_getaddrinfo`) and `completion` runs on the loop's thread.
    ///
    /// A numeric IPv4 or IPv6 address needs no lookup: `completion` then runs before this method
    /// returns. Any name, `localhost` included, is looked up (`/etc/hosts`, then DNS), and the
    /// addresses come in the resolver's order of preference.
    ///
    /// ```swift
    /// loop.resolve(host: "redis.internal", port: 6379) { result in
    ///     guard case .success(let addresses) = result else { return }
    ///     connect(to: addresses[0].host)   // numeric: nothing to resolve any more
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - host: a numeric address or a host name.
    ///   - port: the port the addresses carry (1 to 65535, or 0).
    ///   - completion: at least one address, or a ``UVError`` whose ``UVError/operation`` is
    ///     `resolving host <host>` (`EAI_NONAME` for a name nobody knows). Called exactly once.
    ///
    /// - Important: call on the loop's thread. The loop's shutdown waits for a lookup in flight
    ///   (bounded by the resolver's own timeouts, `/etc/resolv.conf`), whose completion still
    ///   runs on the loop.
    public func resolve(host: String, port: Int, _ completion: @escaping (Result<[SocketAddress], UVError>) -> Void) {
        preconditionInEventLoop()
        guard (0...65535).contains(port) else {
            completion(.failure(UVError(Int32(UV_EINVAL.rawValue), "resolving host \(host) (port \(port) is out of range)")))
            return
        }
        if let numeric = NameResolution.numericAddress(host, port: port) {
            completion(.success([numeric]))
            return
        }
        NameResolution.start(loop: self, host: host, port: port, completion)
    }

    /// The async form of ``resolve(host:port:_:)``: resolves on libuv's thread pool and resumes
    /// the caller with the addresses. From a task on another executor it hops to the loop first.
    ///
    /// - Throws: ``UVError`` (`EAI_NONAME` for a name nobody knows).
    public func resolve(host: String, port: Int) async throws(UVError) -> [SocketAddress] {
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<[SocketAddress], UVError>, Never>) in
            let start = { [self] in self.resolve(host: host, port: port) { continuation.resume(returning: $0) } }
            if inEventLoop {
                start()
            } else if !execute(UncheckedBox(start).call) {
                continuation.resume(returning: .failure(UVError(Int32(UV_ECANCELED.rawValue), "resolving \(host) (the loop refused the work)")))
            }
        }
        return try result.get()
    }
}

/// One `uv_getaddrinfo` in flight. The request's `data` is the retained resolution, released
/// by its one callback.
private final class NameResolution {
    let host: String
    let request: UnsafeMutablePointer<uv_getaddrinfo_t>
    var completion: ((Result<[SocketAddress], UVError>) -> Void)?

    private init(host: String, completion: @escaping (Result<[SocketAddress], UVError>) -> Void) {
        self.host = host
        self.completion = completion
        request = .allocate(capacity: 1)
    }

    /// `host` as an address when it is a numeric IPv4 or IPv6 address.
    static func numericAddress(_ host: String, port: Int) -> SocketAddress? {
        var storage = sockaddr_storage()
        let v4 = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
        }
        if v4 == 0 { return withUnsafePointer(to: &storage) { SocketAddress($0) } }
        let v6 = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
        }
        if v6 == 0 { return withUnsafePointer(to: &storage) { SocketAddress($0) } }
        return nil
    }

    static func start(
        loop: EventLoop, host: String, port: Int, _ completion: @escaping (Result<[SocketAddress], UVError>) -> Void
    ) {
        let resolution = NameResolution(host: host, completion: completion)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        resolution.request.pointee.data = Unmanaged.passRetained(resolution).toOpaque()
        let rc = uv_getaddrinfo(
            loop.uvLoop, resolution.request,
            { request, status, result in
                let resolution = Unmanaged<NameResolution>.fromOpaque(request!.pointee.data).takeRetainedValue()
                resolution.resolved(status: status, result)
            }, host, String(port), &hints)
        guard rc == 0 else {
            // No callback will come.
            Unmanaged<NameResolution>.fromOpaque(resolution.request.pointee.data).release()
            resolution.request.deallocate()
            completion(.failure(UVError(rc, "resolving host \(host)")))
            return
        }
    }

    private func resolved(status: Int32, _ result: UnsafeMutablePointer<addrinfo>?) {
        defer {
            uv_freeaddrinfo(result)
            request.deallocate()
        }
        guard let completion else { return }
        self.completion = nil
        guard status == 0 else {
            completion(.failure(UVError(status, "resolving host \(host)")))
            return
        }
        var addresses: [SocketAddress] = []
        var cursor = result
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let socketAddress = info.pointee.ai_addr else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.copyMemory(
                    from: UnsafeRawBufferPointer(start: socketAddress, count: min(Int(info.pointee.ai_addrlen), raw.count)))
            }
            guard let address = withUnsafePointer(to: &storage, { SocketAddress($0) }), !addresses.contains(address) else { continue }
            addresses.append(address)
        }
        if addresses.isEmpty {
            completion(.failure(UVError(Int32(UV_EAI_NONAME.rawValue), "resolving host \(host)")))
        } else {
            completion(.success(addresses))
        }
    }
}
