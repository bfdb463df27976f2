import RillCore
import Synchronization
import Testing

/// Echoes what it reads and closes when the peer closes.
private final class EchoDelegate: TCPStreamDelegate, @unchecked Sendable {
    let closed: @Sendable () -> Void
    init(closed: @escaping @Sendable () -> Void) { self.closed = closed }
    func stream(_ stream: TCPStream, didRead bytes: UnsafeRawBufferPointer) { stream.write(bytes) }
    func stream(_ stream: TCPStream, didEndReadingWith error: UVError?) { stream.close() }
    func streamDidDrain(_ stream: TCPStream) {}
    func streamDidClose(_ stream: TCPStream) { closed() }
}

@Suite struct TCPTests {
    @Test func echoServerOnAnEphemeralPortAndEveryHandleClosedAtShutdown() async throws {
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

    @Test func everyAcceptedConnectionHasNoDelay() async throws {
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

    @Test func bindingATakenPortFailsWithAddressInUse() async throws {
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

    @Test func listensOnIPv6Loopback() async throws {
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
