import RillCore
import RillTLS
import RillTestSupport
import Testing

/// One end of an in-memory byte pipe: what it writes reaches its peer's delegate on a later
/// loop turn, and counts as queued until then. Loop-confined.
private final class PipeEnd: Transport, @unchecked Sendable {
    let loop: EventLoop
    var delegate: (any TransportDelegate)?
    weak var peer: PipeEnd?
    let remoteAddress: SocketAddress? = nil
    private(set) var queuedBytes = 0
    private(set) var isClosing = false
    let writeError: UVError? = nil
    private var drainThreshold: Int?
    private var coalescer = WriteCoalescer()
    /// Writes handed to the pipe (a coalesced group counts once).
    private(set) var writeCount = 0

    init(loop: EventLoop) { self.loop = loop }

    static func pair(on loop: EventLoop) -> (PipeEnd, PipeEnd) {
        let a = PipeEnd(loop: loop)
        let b = PipeEnd(loop: loop)
        a.peer = b
        b.peer = a
        return (a, b)
    }

    func startReading() {}
    func stopReading() {}
    func write(_ bytes: UnsafeRawBufferPointer) { write(Array(bytes)) }

    func write(_ bytes: [UInt8]) {
        guard !isClosing, !bytes.isEmpty, !coalescer.gather(bytes) else { return }
        writeCount += 1
        queuedBytes += bytes.count
        _ = loop.execute { [self] in
            self.queuedBytes -= bytes.count
            if let peer = self.peer, !peer.isClosing {
                bytes.withUnsafeBytes { peer.delegate?.transport(peer, didRead: $0) }
            }
            if let threshold = self.drainThreshold, self.queuedBytes <= threshold {
                self.drainThreshold = nil
                self.delegate?.transportDidDrain(self)
            }
        }
    }

    func beginCoalescingWrites() { coalescer.begin() }

    func endCoalescingWrites() {
        if let bytes = coalescer.end() { write(bytes) }
    }

    func notifyWhenQueuedBytes(atMost threshold: Int) { drainThreshold = threshold }

    func closeAfterFlush(lingering: Duration) {
        // Queued writes were scheduled first, so they arrive before the end.
        guard !isClosing else { return }
        _ = loop.execute { [self] in self.close() }
    }

    func abort() { close() }

    func close() {
        guard !isClosing else { return }
        isClosing = true
        _ = loop.execute { [self] in
            if let peer = self.peer, !peer.isClosing { peer.delegate?.transport(peer, didEndReadingWith: nil) }
            let delegate = self.delegate
            self.delegate = nil
            delegate?.transportDidClose(self)
        }
    }
}

/// What one side's owner saw. Loop-confined.
private final class Recorder: TransportDelegate, @unchecked Sendable {
    var received: [UInt8] = []
    var reads = 0
    var ended = false
    var closed = false
    var drained = 0
    /// On the first read, hand the transport over to this delegate (an HTTP/2 takeover).
    var handOverTo: Recorder?
    /// The ALPN result when the first plaintext arrived.
    var protocolAtFirstRead: String?

    func transport(_ transport: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        if reads == 0 { protocolAtFirstRead = transport.applicationProtocol }
        reads += 1
        received += bytes
        if let next = handOverTo {
            handOverTo = nil
            transport.delegate = next
        }
    }

    func transport(_ transport: any Transport, didEndReadingWith error: UVError?) { ended = true }
    func transportDidDrain(_ transport: any Transport) { drained += 1 }
    func transportDidClose(_ transport: any Transport) { closed = true }
}

/// A server and a client ``TLSTransport`` over a ``PipeEnd`` pair on one loop.
private final class TLSPair: @unchecked Sendable {
    let loop: EventLoop
    let server: TLSTransport
    let client: TLSTransport
    let serverOwner = Recorder()
    let clientOwner = Recorder()
    let serverPipe: PipeEnd
    let clientPipe: PipeEnd

    init(loop: EventLoop, serverContext: TLSContext, clientContext: TLSContext) throws {
        self.loop = loop
        (serverPipe, clientPipe) = PipeEnd.pair(on: loop)
        server = try #require(TLSTransport(serving: serverPipe, loop: loop, context: serverContext))
        client = try #require(TLSTransport(connectingOver: clientPipe, loop: loop, context: clientContext, serverName: "localhost"))
        server.delegate = serverOwner
        client.delegate = clientOwner
        server.startReading()
    }

    /// Runs `body` on the loop.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (TLSPair) throws -> T) async throws -> T {
        try await Task(executorPreference: loop.executor) { try body(self) }.value
    }

    /// Waits (up to 3 s) until `condition`, checked on the loop, holds.
    func until(_ condition: @escaping @Sendable (TLSPair) -> Bool) async -> Bool {
        await eventually { (try? await self.onLoop { condition($0) }) ?? false }
    }
}

/// TLSTransport without sockets: a server and a client transport over an in-memory pipe.
@Suite struct TLSTransportTests {
    private func withPair(
        alpn: [String] = ["h2", "http/1.1"], offering: [String] = ["http/1.1", "h2"],
        _ body: (TLSPair) async throws -> Void
    ) async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let serverContext = try TLSContext(
            certificateChainPath: certificates.certificatePath, privateKeyPath: certificates.keyPath, applicationProtocols: alpn)
        let clientContext = try TLSContext(clientOffering: offering)
        let loop = try EventLoop(name: "tls-pair")
        let pair = try await Task(executorPreference: loop.executor) {
            try TLSPair(loop: loop, serverContext: serverContext, clientContext: clientContext)
        }.value
        try await body(pair)
        _ = try await pair.onLoop { pair in
            pair.client.close()
            pair.server.close()
        }
        _ = await pair.until { $0.serverOwner.closed && $0.clientOwner.closed }
        await loop.shutdown()
    }

    @Test func `the handshake completes, ALPN picks the server's first choice and early writes follow it`() async throws {
        try await withPair { pair in
            _ = try await pair.onLoop { pair in
                pair.client.write(Array("hello".utf8))  // before the handshake: held, then sent
                pair.client.startReading()
            }
            #expect(await pair.until { $0.serverOwner.received == Array("hello".utf8) })
            try await pair.onLoop { pair in
                #expect(pair.server.isHandshakeComplete && pair.client.isHandshakeComplete)
                #expect(pair.server.applicationProtocol == "h2")
                #expect(pair.client.applicationProtocol == "h2")
                #expect(pair.serverOwner.protocolAtFirstRead == "h2", "set before the first plaintext byte")
            }
        }
    }

    @Test func `large and coalesced writes arrive whole, in order, and the delegate may change on a read`() async throws {
        try await withPair { pair in
            let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let successor = Recorder()
            try await pair.onLoop { pair in
                pair.serverOwner.handOverTo = successor
                pair.client.startReading()
                pair.client.write(Array("first".utf8))
            }
            #expect(await pair.until { $0.serverOwner.received == Array("first".utf8) })
            try await pair.onLoop { pair in
                #expect(pair.server.delegate === successor)
                pair.client.write(big)
                let writesBefore = pair.serverPipe.writeCount
                pair.server.beginCoalescingWrites()
                pair.server.write(Array("a".utf8))
                pair.server.write(Array("b".utf8))
                pair.server.write(Array("c".utf8))
                #expect(pair.serverPipe.writeCount == writesBefore, "nothing leaves while coalescing")
                pair.server.endCoalescingWrites()
                #expect(pair.serverPipe.writeCount == writesBefore + 1, "one write for the three")
            }
            #expect(await pair.until { _ in successor.received.count == big.count })
            #expect(await pair.until { $0.clientOwner.received == Array("abc".utf8) })
            #expect(try await pair.onLoop { _ in successor.received == big })
        }
    }

    @Test func `closeAfterFlush sends what is queued, then close_notify: the peer reads it all and then the end`() async throws {
        try await withPair { pair in
            try await pair.onLoop { pair in
                pair.client.startReading()
                pair.client.write(Array("ping".utf8))
            }
            #expect(await pair.until { $0.serverOwner.received == Array("ping".utf8) })
            try await pair.onLoop { pair in
                pair.server.write(Array("bye".utf8))
                pair.server.closeAfterFlush(lingering: .seconds(1))
                #expect(pair.server.isClosing)
            }
            #expect(await pair.until { $0.clientOwner.ended })
            #expect(try await pair.onLoop { $0.clientOwner.received == Array("bye".utf8) })
        }
    }

    @Test func `garbage instead of a ClientHello closes the server side quietly`() async throws {
        try await withPair { pair in
            try await pair.onLoop { pair in
                // The client pipe carries plaintext, not TLS.
                pair.clientPipe.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            }
            #expect(await pair.until { $0.serverOwner.closed })
            try await pair.onLoop { pair in
                #expect(pair.serverOwner.received.isEmpty)
                #expect(!pair.server.isHandshakeComplete)
                #expect(pair.server.writeError?.operation.hasPrefix("TLS handshake") == true)
            }
        }
    }

    @Test func `a handshake that does not complete in time is closed`() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let context = try TLSContext(certificateChainPath: certificates.certificatePath, privateKeyPath: certificates.keyPath)
        let loop = try EventLoop(name: "tls-timeout")
        let owner = Recorder()
        let closed = try await Task(executorPreference: loop.executor) { () throws -> TLSTransport in
            let (serverPipe, _) = PipeEnd.pair(on: loop)
            let server = try #require(
                TLSTransport(serving: serverPipe, loop: loop, context: context, handshakeTimeout: .milliseconds(50)))
            server.delegate = owner
            server.startReading()
            return server
        }.value
        #expect(await eventually { await Task(executorPreference: loop.executor) { owner.closed }.value })
        #expect(await Task(executorPreference: loop.executor) { !closed.isHandshakeComplete && closed.writeError == nil }.value)
        await loop.shutdown()
    }
}
