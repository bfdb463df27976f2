import RillCore
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Echoes what it reads and closes when the peer closes.
private final class EchoDelegate: TransportDelegate, @unchecked Sendable {
    let closed: @Sendable () -> Void
    init(closed: @escaping @Sendable () -> Void) { self.closed = closed }
    func transport(_ stream: any Transport, didRead bytes: UnsafeRawBufferPointer) { stream.write(bytes) }
    func transport(_ stream: any Transport, didEndReadingWith error: UVError?) { stream.close() }
    func transportDidDrain(_ stream: any Transport) {}
    func transportDidClose(_ stream: any Transport) { closed() }
}

@Suite struct TCPTests {
    @Test func `echo server on an ephemeral port and every handle closed at shutdown`() async throws {
        let loop = try EventLoop()
        let closedCount = Mutex(0)
        let listener = try await Task(executorPreference: loop.executor) {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { stream in
                stream.delegate = EchoDelegate { closedCount.withLock { $0 += 1 } }
                stream.startReading()
            }
        }.value
        let port = listener.localAddress.port
        #expect(port > 0)
        for round in 0..<3 {
            let client = try BlockingClient(port: port)
            let message = "hello \(round) " + String(repeating: "x", count: 100_000)
            try client.send(message)
            let echoed = try client.receive(atLeast: message.utf8.count)
            #expect(echoed == Array(message.utf8))
        }
        loop.execute { listener.close() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(closedCount.withLock { $0 } == 3)
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0)
        #expect(loop.closeResult == 0)
    }

    @Test func `a deferring listener takes a connection only once its first bytes arrived`() async throws {
        let loop = try EventLoop()
        let accepted = Mutex(0)
        let (deferring, immediate) = try await Task(executorPreference: loop.executor) {
            let echo: (TCPStream) -> Void = { stream in
                accepted.withLock { $0 += 1 }
                stream.delegate = EchoDelegate {}
                stream.startReading()
            }
            return (
                try TCPListener(loop: loop, host: "127.0.0.1", port: 0, acceptDeferral: .milliseconds(1500), onConnection: echo),
                try TCPListener(loop: loop, host: "127.0.0.1", port: 0, onConnection: echo)
            )
        }.value
        let (deferral, none) = await Task(executorPreference: loop.executor) {
            (deferring.acceptDeferralSeconds, immediate.acceptDeferralSeconds)
        }.value
        #expect(deferral >= 2)
        #expect(none == 0)
        // Silent: the kernel holds the connection (its deferral is over a second), the server
        // never sees it.
        let silent = try BlockingClient(port: deferring.localAddress.port)
        try await Task.sleep(for: .milliseconds(300))
        #expect(accepted.withLock { $0 } == 0)
        // Its first bytes hand it over, and nothing of them is lost.
        try silent.send("ping")
        #expect(try silent.receive(atLeast: 4) == Array("ping".utf8))
        #expect(accepted.withLock { $0 } == 1)
        // Without a deferral a silent connection is taken at once.
        let other = try BlockingClient(port: immediate.localAddress.port)
        for _ in 0..<300 where accepted.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(accepted.withLock { $0 } == 2)
        silent.shutdownWrite()
        other.shutdownWrite()
        _ = try silent.receiveUntilClose()
        _ = try other.receiveUntilClose()
        loop.execute {
            deferring.close()
            immediate.close()
        }
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `every accepted connection has no delay`() async throws {
        let loop = try EventLoop()
        let flags = Mutex<[Bool]>([])
        let listener = try await Task(executorPreference: loop.executor) {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { stream in
                flags.withLock { $0.append(stream.hasNoDelay) }
                stream.close()
            }
        }.value
        // The first connection is where the listener learns whether the option is inherited.
        for _ in 0..<3 {
            let client = try BlockingClient(port: listener.localAddress.port)
            _ = try client.receiveUntilClose()
        }
        #expect(flags.withLock { $0 } == [true, true, true])
        loop.execute { listener.close() }
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `binding a taken port fails with address in use`() async throws {
        let loop = try EventLoop()
        let outcome = await Task(executorPreference: loop.executor) { () -> Bool in
            guard let first = try? TCPListener(loop: loop, host: "127.0.0.1", port: 0, onConnection: { $0.close() }) else { return false }
            defer { first.close() }
            do {
                let second = try TCPListener(loop: loop, host: "127.0.0.1", port: first.localAddress.port, onConnection: { $0.close() })
                second.close()
                return false
            } catch {
                return (error as? UVError)?.isAddressInUse == true
            }
        }.value
        #expect(outcome)
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `listens on IPv6 loopback`() async throws {
        let loop = try EventLoop()
        let address = try await Task(executorPreference: loop.executor) { () -> SocketAddress in
            let listener = try TCPListener(loop: loop, host: "::1", port: 0, onConnection: { $0.close() })
            defer { listener.close() }
            return listener.localAddress
        }.value
        #expect(address.isIPv6)
        #expect(address.host == "::1")
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }
}

@Suite struct AcceptErrorTests {
    @Test func `out of descriptors, the listener sheds the waiting connection instead of spinning`() async throws {
        let loop = try EventLoop()
        // All on the loop thread, in one go: the connection waits in the backlog, unseen by
        // libuv, when the listener is told accept(2) failed with EMFILE.
        let (shed, errors, reported, accepted, received) = try await Task(executorPreference: loop.executor) {
            () throws -> (Int, Int, [String], Int, Int) in
            var accepted = 0
            var reported: [String] = []
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { stream in
                accepted += 1
                stream.close()
            }
            listener.onAcceptError = { reported.append($0.name) }
            let client = try BlockingClient(port: listener.localAddress.port)
            listener.simulateAcceptError(-EMFILE)
            listener.close()
            // The client sees its connection closed (end of stream, or a reset) at once.
            var byte: UInt8 = 0
            let received = recv(client.fd, &byte, 1, 0)
            return (listener.shedConnectionCount, listener.acceptErrorCount, reported, accepted, received)
        }.value
        #expect(shed == 1)
        #expect(errors == 1)
        #expect(reported == ["EMFILE"])
        #expect(accepted == 0)
        #expect(received <= 0)
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0)
    }

    @Test func `a listener out of descriptors with nothing to shed stops listening, then listens again on its port`() async throws {
        let loop = try EventLoop()
        let listener = try await Task(executorPreference: loop.executor) {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { stream in stream.close() }
        }.value
        let port = listener.localAddress.port
        let suspended = await Task(executorPreference: loop.executor) { () -> (Bool, Int) in
            listener.simulateSuspension()
            return (listener.isSuspended, listener.suspensionCount)
        }.value
        #expect(suspended == (true, 1))
        // Nothing listens on the port meanwhile: a connection is refused (libuv's accept loop
        // has nothing left to spin on).
        #expect(throws: (any Error).self) { try BlockingClient(port: port) }
        // It listens again by itself, on the same port, after acceptSuspensionMilliseconds.
        var resumed = false
        for _ in 0..<200 where !resumed {
            try await Task.sleep(for: .milliseconds(25))
            resumed = await Task(executorPreference: loop.executor) { !listener.isSuspended }.value
        }
        #expect(resumed)
        let client = try BlockingClient(port: port)
        var byte: UInt8 = 0
        #expect(recv(client.fd, &byte, 1, 0) <= 0, "accepted, and closed by the test's handler")
        // Closed while suspended: nothing of it is left open.
        await Task(executorPreference: loop.executor) {
            listener.simulateSuspension()
            listener.close()
        }.value
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0)
    }

    @Test func `the connection cap fits the open file limit next to every loop's descriptors`() {
        let one = OpenFileLimit.reservedDescriptors(loopCount: 1)
        #expect(one == 16 + 8 + 64)
        #expect(OpenFileLimit.reservedDescriptors(loopCount: 16) == 16 + 8 * 16 + 64)
        #expect(OpenFileLimit.reservedDescriptors(loopCount: 64) == 16 + 8 * 64 + 2 * 64)
        #expect(OpenFileLimit.connectionCap(configured: 19_000, openFileLimit: 1024, reservedDescriptors: one) == 1024 - one)
        #expect(OpenFileLimit.connectionCap(configured: 100, openFileLimit: 1024, reservedDescriptors: one) == 100)
        #expect(OpenFileLimit.connectionCap(configured: 100, openFileLimit: nil, reservedDescriptors: one) == 100)
        #expect(OpenFileLimit.connectionCap(configured: 100, openFileLimit: 10, reservedDescriptors: one) == 1)
        #expect(OpenFileLimit.connectionCap(configured: 500, openFileLimit: 564, reservedDescriptors: 64) == 500)
    }

    @Test func `raising the soft limit never lowers it`() {
        let before = OpenFileLimit.softLimit
        let raised = OpenFileLimit.raiseSoftLimitToHardLimit()
        if let before, let raised { #expect(raised >= before) }
        #expect(OpenFileLimit.softLimit == raised)
    }
}
