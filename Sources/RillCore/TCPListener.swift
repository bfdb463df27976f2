internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

/// A listening TCP socket on an `EventLoop`.
///
/// Each accepted connection is handed to `onConnection` as a ``TCPStream`` on the loop thread.
/// The listener is loop-confined: create, use and close it on the loop's thread.
///
/// - Important: a listener must be closed with ``close()``; its handle is freed in libuv's close
///   callback.
public final class TCPListener: @unchecked Sendable {
    /// The loop the listener belongs to.
    public let loop: EventLoop
    /// The address the socket is bound to, with the real port when port 0 was asked for.
    public let localAddress: SocketAddress

    /// The listening socket's handle; replaced when accepting resumes after a suspension.
    private var handle: UnsafeMutablePointer<uv_tcp_t>
    /// What listening again after a suspension needs: the bound address (the real port) and the
    /// options the first socket was given.
    private let boundAddress: sockaddr_storage
    private let backlog: Int32
    private let reusePort: Bool
    private let acceptDeferral: Duration?
    private let sendBufferBytes: Int?
    private let onConnection: (TCPStream) -> Void
    private var isClosed = false
    /// Whether accepted sockets inherit the listener's `TCP_NODELAY` (Linux: yes), checked on
    /// the first one; nil until then. When they do, no connection needs a `setsockopt` of its own.
    private var acceptedInheritNoDelay: Bool?
    /// Accept errors libuv reported so far (EMFILE and similar); the listener keeps running.
    ///
    /// libuv absorbs most EMFILE and ENFILE failures itself: it keeps one spare descriptor per
    /// loop, and when `accept(2)` runs out it closes the spare, accepts and closes the waiting
    /// connections, and reopens it — silently. It reports EMFILE and ENFILE only when that spare
    /// is gone, and then calls again at once for as long as a connection waits, which would
    /// spin the loop; the listener then sheds the waiting connection with a spare of its own
    /// (see ``shedConnectionCount``), and when even that fails (another thread of the process
    /// took the descriptor the spare freed: other loops, file opens) it stops listening for
    /// ``acceptSuspensionMilliseconds`` (see ``suspensionCount``).
    public private(set) var acceptErrorCount = 0
    /// Waiting connections closed unanswered because no file descriptor was left for them.
    public private(set) var shedConnectionCount = 0
    /// How often the listener stopped listening because it was out of descriptors with a
    /// connection waiting and could not shed it: libuv would call again at once, for as long
    /// as that lasts (a spinning loop that serves nothing else). The socket is closed (its
    /// waiting connections are reset; with `SO_REUSEPORT`, new ones go to the other loops'
    /// listeners) and bound again on the same address after ``acceptSuspensionMilliseconds``.
    public private(set) var suspensionCount = 0
    /// How long a suspended listener waits before it listens again (tried again after as long
    /// while no descriptor is free).
    public static let acceptSuspensionMilliseconds: Int64 = 250
    /// Whether the listener is suspended (no socket open) until ``resumeAccepting()``.
    public private(set) var isSuspended = false
    /// Called on the loop thread for each accept error, after it was counted.
    public var onAcceptError: ((UVError) -> Void)?
    /// A descriptor held in reserve (`/dev/null`), released to accept and close one connection
    /// when the process is out of descriptors; -1 when none could be opened.
    private var spareDescriptor: Int32 = -1

    /// Binds and listens.
    ///
    /// - Parameters:
    ///   - loop: the loop that accepts; must be the current thread's loop.
    ///   - host: a numeric IPv4 or IPv6 address, `localhost`, or a host name.
    ///   - port: the port, or 0 for a free one (see ``localAddress``).
    ///   - backlog: the kernel's queue of not-yet-accepted connections.
    ///   - reusePort: sets `SO_REUSEPORT`, so several loops can listen on one port (the
    ///     kernel spreads new connections over them).
    ///   - joiningListeners: with `reusePort`, whether this listener joins others of the same
    ///     server already on the port. When false (the first of the group), the port must be
    ///     free: binding fails with `EADDRINUSE` if anything listens there, even another
    ///     process's `SO_REUSEPORT` socket, which would otherwise share the connections silently.
    ///   - acceptDeferral: on Linux, sets `TCP_DEFER_ACCEPT` (whole seconds, rounded up): a
    ///     connection is handed over once its first bytes arrived, or after about this long
    ///     of silence. nil (the default) hands every connection over at once.
    ///   - sendBufferBytes: sets `SO_SNDBUF` on the listening socket, which accepted sockets
    ///     inherit (the kernel doubles it); nil keeps the kernel's autotuning.
    ///   - onConnection: called on the loop thread for each accepted connection.
    /// - Throws: `UVError` when the address cannot be resolved or bound, or the send buffer
    ///   cannot be set.
    public init(
        loop: EventLoop, host: String, port: Int, backlog: Int32 = 4096, reusePort: Bool = false,
        joiningListeners: Bool = false, acceptDeferral: Duration? = nil, sendBufferBytes: Int? = nil,
        onConnection: @escaping (TCPStream) -> Void
    ) throws(UVError) {
        loop.preconditionInEventLoop()
        self.loop = loop
        self.onConnection = onConnection
        let addresses = try SocketAddress.resolve(host: host, port: port)
        var lastError = UVError(Int32(UV_EADDRNOTAVAIL.rawValue), "binding \(host):\(port)")
        var result: (UnsafeMutablePointer<uv_tcp_t>, SocketAddress, sockaddr_storage)?
        for address in addresses {
            do {
                if reusePort && !joiningListeners && port != 0 { try Self.checkNothingListens(on: address) }
                result = try Self.bind(loop: loop, address: address, reusePort: reusePort)
                break
            } catch {
                lastError = UVError(error.code, "binding \(host):\(port)")
            }
        }
        guard let (handle, bound, boundAddress) = result else { throw lastError }
        self.handle = handle
        localAddress = bound
        self.boundAddress = boundAddress
        self.backlog = backlog
        self.reusePort = reusePort
        self.acceptDeferral = acceptDeferral
        self.sendBufferBytes = sendBufferBytes
        try listen(on: handle)
        spareDescriptor = Self.openSpareDescriptor()
        // The uv handle points back at this object until it is closed (a suspension hands the
        // reference on to the next handle).
        _ = Unmanaged.passRetained(self)
    }

    /// Applies the listener's options to a bound `handle` and listens; closes it on failure.
    private func listen(on handle: UnsafeMutablePointer<uv_tcp_t>) throws(UVError) {
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        // Small writes (events, heartbeats) must not wait for an ACK: set on the listener, which
        // accepted sockets inherit on Linux.
        uv_tcp_nodelay(handle, 1)
        if let acceptDeferral { Self.deferAccept(handle, for: acceptDeferral) }
        if let sendBufferBytes {
            var value = Int32(clamping: max(1, sendBufferBytes))
            let set = uv_send_buffer_size(rill_tcp_as_handle(handle), &value)
            guard set == 0 else {
                Self.close(handle)
                throw UVError(set, "setting SO_SNDBUF on \(localAddress)")
            }
        }
        let rc = uv_listen(rill_tcp_as_stream(handle), backlog) { server, status in
            let listener = Unmanaged<TCPListener>.fromOpaque(server!.pointee.data).takeUnretainedValue()
            listener.accept(status: status)
        }
        if rc < 0 {
            Self.close(handle)
            throw UVError(rc, "listening on \(localAddress)")
        }
    }

    private static func openSpareDescriptor() -> Int32 {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    /// Fails with `EADDRINUSE` when a socket listens on `address` already (see `joiningListeners`).
    private static func checkNothingListens(on address: sockaddr_storage) throws(UVError) {
        var address = address
        let length = socklen_t(address.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { rill_probe_bind($0, length) }
        }
        if rc == -EADDRINUSE { throw UVError(Int32(UV_EADDRINUSE.rawValue), "binding") }
    }

    /// Creates a socket of the address's family, applies options that must precede `bind`,
    /// binds, and reads back the real address (also as a `sockaddr_storage`).
    private static func bind(
        loop: EventLoop, address: sockaddr_storage, reusePort: Bool
    ) throws(UVError) -> (UnsafeMutablePointer<uv_tcp_t>, SocketAddress, sockaddr_storage) {
        var address = address
        let family = Int32(address.ss_family)
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        let initRC = uv_tcp_init_ex(loop.uvLoop, handle, UInt32(family))
        if initRC < 0 {
            handle.deallocate()
            throw UVError(initRC, "uv_tcp_init_ex")
        }
        do throws(UVError) {
            if reusePort {
                let rc = rill_set_reuseport(handle)
                if rc != 0 { throw UVError(-errno, "setting SO_REUSEPORT") }
            }
            let flags = family == AF_INET6 ? UInt32(UV_TCP_IPV6ONLY.rawValue) : 0
            try UVError.check(
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, flags) }
                }, "uv_tcp_bind")
            var name = sockaddr_storage()
            var length = Int32(MemoryLayout<sockaddr_storage>.size)
            try UVError.check(
                withUnsafeMutablePointer(to: &name) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
                }, "uv_tcp_getsockname")
            guard let bound = withUnsafePointer(to: &name, { SocketAddress($0) }) else {
                throw UVError(Int32(UV_EINVAL.rawValue), "reading the bound address")
            }
            return (handle, bound, name)
        } catch {
            close(handle)
            throw error
        }
    }

    /// Sets `TCP_DEFER_ACCEPT` (Linux); elsewhere, or if the kernel refuses, connections are
    /// accepted at once, which is only slower.
    private static func deferAccept(_ handle: UnsafeMutablePointer<uv_tcp_t>, for duration: Duration) {
        #if os(Linux)
            let (seconds, attoseconds) = duration.components
            guard seconds > 0 || attoseconds > 0 else { return }
            var value = Int32(clamping: seconds + (attoseconds > 0 ? 1 : 0))
            var fd: uv_os_fd_t = -1
            guard uv_fileno(rill_tcp_as_handle(handle), &fd) == 0 else { return }
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, &value, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    /// `TCP_DEFER_ACCEPT` as the kernel holds it for this listener (rounded to its retransmission
    /// schedule), 0 when connections are accepted at once. For tests.
    package var acceptDeferralSeconds: Int32 {
        #if os(Linux)
            var fd: uv_os_fd_t = -1
            guard !isSuspended, uv_fileno(rill_tcp_as_handle(handle), &fd) == 0 else { return 0 }
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, &value, &length) == 0 else { return 0 }
            return value
        #else
            return 0
        #endif
    }

    private func accept(status: Int32) {
        guard !isClosed else { return }
        guard status == 0 else {
            acceptErrorCount += 1
            if status == Int32(UV_EMFILE.rawValue) || status == Int32(UV_ENFILE.rawValue), !shedWaitingConnection() {
                suspendAccepting()
            }
            onAcceptError?(UVError(status, "accepting a connection on \(localAddress)"))
            return
        }
        let client = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, client)
        let rc = uv_accept(rill_tcp_as_stream(handle), rill_tcp_as_stream(client))
        guard rc == 0 else {
            // Out of file descriptors or the peer already left: drop it and keep listening.
            acceptErrorCount += 1
            Self.close(client)
            return
        }
        let stream = TCPStream(loop: loop, handle: client)
        if acceptedInheritNoDelay == nil { acceptedInheritNoDelay = stream.hasNoDelay }
        if acceptedInheritNoDelay != true { uv_tcp_nodelay(client, 1) }
        onConnection(stream)
    }

    /// Out of descriptors with a connection waiting: libuv calls again at once until the backlog
    /// is empty, so release the spare, accept the connection into it and close it (the client
    /// sees the connection closed and may retry), then take the spare back. Returns whether a
    /// connection was shed (false: the descriptor went to another thread, or none waited).
    private func shedWaitingConnection() -> Bool {
        if spareDescriptor >= 0 {
            Glibc.close(spareDescriptor)
            spareDescriptor = -1
        }
        var shed = false
        var fd: uv_os_fd_t = -1
        if uv_fileno(rill_tcp_as_handle(handle), &fd) == 0 {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                Glibc.close(client)
                shedConnectionCount += 1
                shed = true
            }
            // Nothing accepted (another thread took the descriptor, or nothing waits any more):
            // not progress. Out of descriptors, libuv's own accept fails with EMFILE before it
            // looks at the queue, so it would call again at once even with the queue empty.
        }
        spareDescriptor = Self.openSpareDescriptor()
        return shed
    }

    /// Stops listening: closes the socket (libuv's accept loop ends with it) and listens again
    /// on the same address after ``acceptSuspensionMilliseconds``.
    private func suspendAccepting() {
        guard !isSuspended, !isClosed else { return }
        isSuspended = true
        suspensionCount += 1
        Self.close(handle)
        scheduleResumption()
    }

    private func scheduleResumption() {
        loop.schedule(after: .milliseconds(Self.acceptSuspensionMilliseconds)) { [weak self] in self?.resumeAccepting() }
    }

    /// Binds a new socket to the suspended listener's address and listens; tried again after
    /// ``acceptSuspensionMilliseconds`` when that fails (no descriptor free yet). Loop thread.
    package func resumeAccepting() {
        guard isSuspended, !isClosed else { return }
        if spareDescriptor < 0 { spareDescriptor = Self.openSpareDescriptor() }
        do {
            let (next, _, _) = try Self.bind(loop: loop, address: boundAddress, reusePort: reusePort)
            try listen(on: next)
            handle = next
            isSuspended = false
        } catch {
            onAcceptError?(UVError(error.code, "listening again on \(localAddress)"))
            scheduleResumption()
        }
    }

    /// Reports `status` as libuv would when `accept(2)` failed (EMFILE, ENFILE, …). For tests.
    package func simulateAcceptError(_ status: Int32) {
        loop.preconditionInEventLoop()
        accept(status: status)
    }

    /// Stops listening as when out of descriptors with nothing to shed. For tests.
    package func simulateSuspension() {
        loop.preconditionInEventLoop()
        suspendAccepting()
    }

    /// Stops listening and frees the socket. Idempotent.
    public func close() {
        loop.preconditionInEventLoop()
        guard !isClosed else { return }
        isClosed = true
        if spareDescriptor >= 0 {
            Glibc.close(spareDescriptor)
            spareDescriptor = -1
        }
        guard !isSuspended else {
            // The socket is closed already; the reference its handle held is this object's.
            Unmanaged.passUnretained(self).release()
            return
        }
        uv_close(rill_tcp_as_handle(handle)) { handle in
            let pointer = UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_tcp_t.self)
            if let data = pointer.pointee.data {
                Unmanaged<TCPListener>.fromOpaque(data).release()
            }
            pointer.deallocate()
        }
    }

    private static func close(_ handle: UnsafeMutablePointer<uv_tcp_t>) {
        handle.pointee.data = nil
        uv_close(rill_tcp_as_handle(handle)) { handle in
            UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_tcp_t.self).deallocate()
        }
    }
}
