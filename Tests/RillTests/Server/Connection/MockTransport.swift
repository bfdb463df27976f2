@testable import Rill
@testable import RillCore

/// A transport with no socket, for the connection's unit tests: the test hands it the client's
/// bytes, reads what the connection wrote, and decides when the "client" reads (while
/// ``holdsWrites`` is set, writes stay queued, as for a client that stopped reading).
/// Loop-confined like every transport: drive it through ``ConnectionHarness``.
final class MockTransport: Transport, @unchecked Sendable {
    let loop: EventLoop
    var delegate: (any TransportDelegate)?
    let remoteAddress: SocketAddress? = nil
    /// Everything the connection wrote, in order (coalesced writes as one).
    private(set) var written: [UInt8] = []
    /// Writes handed over (a coalesced group counts once).
    private(set) var writeCount = 0
    /// While set, written bytes count as queued until ``clientReads()``.
    var holdsWrites = false
    private(set) var queuedBytes = 0
    private(set) var isClosing = false
    private(set) var isReading = false
    /// The connection asked to close after its queued bytes left (an error response, a timeout).
    private(set) var closedAfterFlush = false
    private(set) var writeError: UVError?
    private var drainThreshold: Int?
    private var coalescer = WriteCoalescer()

    init(loop: EventLoop) { self.loop = loop }

    // MARK: Transport

    func startReading() { isReading = true }
    func stopReading() { isReading = false }

    func write(_ bytes: UnsafeRawBufferPointer) { write(Array(bytes)) }

    func write(_ bytes: [UInt8]) {
        guard !isClosing, !coalescer.gather(bytes) else { return }
        writeCount += 1
        record(bytes)
    }

    func write(contentsOf chunks: [[UInt8]]) {
        guard !isClosing else { return }
        if coalescer.isGathering {
            for chunk in chunks { _ = coalescer.gather(chunk) }
            return
        }
        writeCount += 1
        for chunk in chunks { record(chunk) }
    }

    /// The arrays handed over, as handed over (a coalesced group as one): whether two
    /// connections were given the same storage or copies of it.
    private(set) var writtenArrays: [[UInt8]] = []

    private func record(_ bytes: [UInt8]) {
        written.append(contentsOf: bytes)
        writtenArrays.append(bytes)
        if holdsWrites { queuedBytes += bytes.count }
    }

    func beginCoalescingWrites() { coalescer.begin() }

    func endCoalescingWrites() {
        if let bytes = coalescer.end() { write(bytes) }
    }

    func notifyWhenQueuedBytes(atMost threshold: Int) {
        guard !isClosing else { return }
        if queuedBytes <= threshold {
            drainThreshold = nil
            _ = loop.execute { [self] in
                if !self.isClosing { self.delegate?.transportDidDrain(self) }
            }
        } else {
            drainThreshold = threshold
        }
    }

    func closeAfterFlush(lingering: Duration) {
        closedAfterFlush = true
        close()
    }

    /// The connection reset the connection (``abort()``) rather than closing it.
    private(set) var aborted = false

    func abort() {
        guard !isClosing else { return }
        aborted = true
        close()
    }

    func close() {
        guard !isClosing else { return }
        isClosing = true
        isReading = false
        _ = loop.execute { [self] in
            let delegate = self.delegate
            self.delegate = nil
            delegate?.transportDidClose(self)
        }
    }

    // MARK: The client's side

    /// The client sends `text`.
    func receive(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { delegate?.transport(self, didRead: UnsafeRawBufferPointer($0)) }
    }

    /// The client half-closes (EOF), or its connection fails with `error`.
    func endInput(error: UVError? = nil) { delegate?.transport(self, didEndReadingWith: error) }

    /// The client reads everything queued: a drain notice follows if one was asked for.
    func clientReads() {
        queuedBytes = 0
        if drainThreshold != nil {
            drainThreshold = nil
            delegate?.transportDidDrain(self)
        }
    }

    /// What was written, as text.
    var writtenText: String { String(decoding: written, as: UTF8.self) }
}

/// An HTTP server with no listener on a loop of its own, serving one ``MockTransport``: the
/// connection's behaviour without sockets. Every member runs its work on the loop.
final class ConnectionHarness: Sendable {
    let loop: EventLoop
    private let server: HTTPServer
    let transport: MockTransport

    init(_ router: Router, configuration: ServerConfiguration = ServerConfiguration()) throws {
        loop = try EventLoop(name: "mock-connection")
        let responder = router.makeResponder()
        server = HTTPServer(
            loop: loop, configuration: configuration, logger: quietLogger, bodyAdmission: { router.bodyAdmission(for: $0) },
            screen: { router.screen($0, context: $1) },
            responder: responder, dispatch: { router.dispatch($0) })
        transport = MockTransport(loop: loop)
    }

    /// Runs `body` on the loop.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (MockTransport) -> T) async -> T {
        let transport = self.transport
        return await Task(executorPreference: loop.executor) { body(transport) }.value
    }

    /// The server serves the transport.
    func connect() async {
        let server = self.server
        await onLoop { server.adopt($0) }
    }

    /// The server serves the transport, which delivers `text` in the same turn of the loop (so
    /// that no timeout can fire in between, however busy the machine).
    func connect(receiving text: String) async {
        let server = self.server
        await onLoop {
            server.adopt($0)
            $0.receive(text)
        }
    }

    /// Relayed event streams write their pending events at the end of the loop's drains, as a
    /// listening server's do (a harness has no listener, which is what installs that).
    func flushEventStreams() async {
        let server = self.server
        let loop = self.loop
        await onLoop { _ in
            let queue = server.eventStreamFlushQueue
            _ = loop.addDrainObserver { queue.flush() }
        }
    }

    /// The server serves one more transport (another client), which it returns.
    func connectAnother() async -> MockTransport {
        let server = self.server
        let loop = self.loop
        return await Task(executorPreference: loop.executor) {
            let transport = MockTransport(loop: loop)
            server.adopt(transport)
            return transport
        }.value
    }

    /// Open connections.
    var connectionCount: Int {
        get async {
            let server = self.server
            return await onLoop { _ in server.connectionCount }
        }
    }

    /// What the connection wrote so far.
    var written: String { get async { await onLoop { $0.writtenText } } }

    /// Waits (up to 3 s) until what was written satisfies `condition`.
    func waitUntilWritten(_ condition: @escaping @Sendable (String) -> Bool) async -> Bool {
        await eventually { await self.onLoop { condition($0.writtenText) } }
    }

    /// Stops the loop.
    func shutdown() async {
        let server = self.server
        await onLoop { _ in server.forceCloseAll() }
        await loop.shutdown()
    }
}
