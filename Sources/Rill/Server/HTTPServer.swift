import CoreMetrics
import HTTPTypes
import Logging
import RillCore
import RillHTTP
import RillTLS
import Synchronization

/// What all the servers of one application (one per loop) count together: their open
/// connections (``ServerConfiguration/maxConnections``) and the request-body bytes still
/// arriving on them (``ServerConfiguration/maxReceivingRequestBodyBytes``).
final class SharedServerCounters: Sendable {
    let openConnections = Atomic<Int>(0)
    let receivingRequestBodyBytes = Atomic<Int>(0)
    /// Accept errors of all loops, for the log.
    let acceptErrors = Atomic<Int>(0)
    /// Accept errors since the last log line, all loops together; -1 while no summary is
    /// pending (the next error logs at once and schedules one).
    let unloggedAcceptErrors = Atomic<Int>(-1)
}

/// The HTTP/1.1 server on one event loop: accepts connections, owns them, and shuts down
/// gracefully. Loop-confined. An application has one per loop, each with a listener of its own
/// on the same port.
final class HTTPServer: @unchecked Sendable {
    typealias Responder = @Sendable (Request, RequestContext) async throws -> Response

    let loop: EventLoop
    let configuration: ServerConfiguration
    let responder: Responder
    /// How a request's handler runs (``Router/dispatch(_:)``).
    let dispatch: @Sendable (Request) -> RequestDispatch
    let bodyAdmission: @Sendable (HTTPRequestHead) -> BodyAdmission
    /// The verdict on a head whose body waits for screening (the router's).
    let screen: @Sendable (Request, RequestContext) -> HeadScreening
    let logger: Logger
    /// The application's channels: every request context refers to them, and the server
    /// registers its publish backpressure there while it runs.
    let pubSub: PubSub?
    let machineConfiguration: HTTPConnectionStateMachine.SharedConfiguration
    /// ``ServerConfiguration/idleTimeout`` and ``ServerConfiguration/requestTimeout`` in
    /// milliseconds, for every connection's deadlines.
    let timeoutLimits: ConnectionTimeouts.Limits
    let serverLine: [UInt8]
    /// Open connections of all the application's servers, for ``maxConnections``.
    /// What the application's servers count together.
    let counters: SharedServerCounters
    /// Whether this is the application's first server (loop 0's), which does what one server
    /// per process does: give freed memory back to the kernel, warn about the open-file limit.
    let isPrimary: Bool
    /// The application's TLS context when ``ServerConfiguration/tls`` is set: every accepted
    /// connection is wrapped in a ``TLSTransport``.
    let tlsContext: TLSContext?
    /// `rill_http_requests_total` and `rill_request_duration_seconds`, recorded once per
    /// response head.
    let requestMetrics: RequestMetrics

    private var listener: TCPListener?
    /// The open connections, each knowing its index (``HTTPConnection/registryIndex``): adding
    /// and removing one is O(1) with no hashing, and 8 bytes per connection.
    private var connectionObjects: [HTTPConnection] = []
    private var shuttingDown = false
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    /// During a shutdown's drain, the connections whose event streams it ends: once the last of
    /// them has closed (and ``keptOpenShutdownMinimum`` has passed), the HTTP/1.1 connections
    /// kept open for late requests close too.
    private var drainingConnections: Set<ObjectIdentifier> = []
    /// Whether HTTP/1.1 connections are kept open for late requests: from a shutdown with a
    /// drain period until ``keptOpenShutdownMinimum`` has passed and no stream drains.
    private var keepingConnectionsOpen = false
    private var keptOpenMinimumPassed = false

    /// How long a shutdown with a drain period keeps idle HTTP/1.1 connections open at least
    /// (the drain period if shorter): a proxy's pooled connection in use meanwhile gets its
    /// next answer with `connection: close`; one unused for this long is closed.
    static let keptOpenShutdownMinimum: Duration = .seconds(1)
    /// The ids of this loop's requests (``RequestID``).
    var requestIDs = RequestIDGenerator()
    /// What the checks of HTTP/1.1 requests whose heads were screened and admitted leave for
    /// their handlers, by connection, until the handler starts (or the connection closes): the
    /// id the check saw, and what it stored in the context. Out of the connection so that it
    /// costs an idle connection nothing; usually empty.
    var screenedRequests: [ObjectIdentifier: ScreenedRequest] = [:]

    /// What a check of a request's head leaves for its handler.
    struct ScreenedRequest {
        var id: RequestID?
        var storage: RequestContext.Storage
    }
    /// The `date` line of every response head, formatted once per second.
    var dateLine = HTTPDateLine()
    /// The buffer every response head (and a byte body with it) is serialized into, reused:
    /// a write hands the kernel what it takes and copies only the rest, so a plain response
    /// allocates no buffer of its own. Loop-confined; taken out while in use.
    private var responseScratch: [UInt8] = []
    /// A scratch buffer grown past this (a large body) is let go of rather than kept.
    static let maxRetainedScratchBytes = 64 * 1024

    /// The reusable response buffer, empty with its capacity; give it back with
    /// ``returnResponseScratch(_:)``.
    /// The current `Date` value (for HTTP/2 heads), from the same once-a-second line.
    func dateValue() -> String {
        let line = dateLine.current()
        // "date: " … "\r\n"
        return String(decoding: line.dropFirst(6).dropLast(2), as: UTF8.self)
    }

    func takeResponseScratch() -> [UInt8] {
        var buffer: [UInt8] = []
        swap(&buffer, &responseScratch)
        buffer.removeAll(keepingCapacity: true)
        return buffer
    }

    func returnResponseScratch(_ buffer: [UInt8]) {
        if buffer.capacity <= Self.maxRetainedScratchBytes { responseScratch = buffer }
    }

    // Spare per-connection buffers, lent to a connection while it reads a request and given back
    // when its response streams or it closes (or, for header fields, at the end of the read that
    // answered it): an SSE connection's first read and its end then allocate neither its
    // parser's receive buffer nor its actions array, and a keep-alive request not its header
    // fields (values, so a buffer is never shared: lending swaps storage; an idle connection
    // holds none of them). Loop-confined.
    private var spareInputBuffers: [[UInt8]] = []
    private var spareActionArrays: [[HTTPConnectionStateMachine.Action]] = []
    private var spareHeaderFields: [HTTPFields] = []
    /// Spares kept per kind; connections beyond it allocate their own, as before.
    private static let maxSpareBuffers = 32
    /// A parser buffer bigger than this is freed rather than kept (one large request must not
    /// pin its buffer).
    private static let maxSpareInputBytes = 16 * 1024
    /// An actions array grown beyond this many actions is freed rather than kept.
    private static let maxSpareActionCount = 16

    /// A spare receive buffer (empty), if one is kept.
    func takeSpareInputBuffer() -> [UInt8]? { spareInputBuffers.popLast() }

    func returnSpareInputBuffer(_ buffer: [UInt8]) {
        guard buffer.capacity <= Self.maxSpareInputBytes, spareInputBuffers.count < Self.maxSpareBuffers else { return }
        spareInputBuffers.append(buffer)
    }

    /// An empty actions array with room for what one event produces at most.
    func takeSpareActions() -> [HTTPConnectionStateMachine.Action] {
        if let spare = spareActionArrays.popLast() { return spare }
        var actions: [HTTPConnectionStateMachine.Action] = []
        actions.reserveCapacity(4)
        return actions
    }

    /// Takes `actions` back (emptied), leaving the connection none.
    func returnSpareActions(_ actions: inout [HTTPConnectionStateMachine.Action]) {
        var taken: [HTTPConnectionStateMachine.Action] = []
        swap(&taken, &actions)
        guard taken.capacity > 0, taken.capacity <= Self.maxSpareActionCount, spareActionArrays.count < Self.maxSpareBuffers else { return }
        taken.removeAll(keepingCapacity: true)
        spareActionArrays.append(taken)
    }

    /// The header fields of an earlier request, if any are kept, for their storage: the parser
    /// that takes them replaces their contents with its next head's.
    func takeSpareHeaderFields() -> HTTPFields? { spareHeaderFields.popLast() }

    /// Keeps the storage of `fields` for a later head. The loop holds at most
    /// `maxSpareBuffers` of them, each at most one head's worth (≤ 64 fields within
    /// `maxHeaderBytes`), the same contents any request holds while it is handled.
    func returnSpareHeaderFields(_ fields: HTTPFields) {
        guard spareHeaderFields.count < Self.maxSpareBuffers else { return }
        spareHeaderFields.append(fields)
    }
    /// Relayed event streams waiting to write their pending events.
    let eventStreamFlushQueue = EventStreamFlushQueue()
    /// The loop's publish-to-write latency of live events (``ServerStatistics/deliveryLatency``).
    let deliveryLatency = DeliveryLatencyRecorder()
    /// The event being fanned out, framed once for every chunked stream it goes to.
    var chunkFramer = SharedChunkFramer()
    private var flushObserver: Int?
    /// Gives memory a burst freed back to the kernel (``ServerConfiguration/freedMemoryCheckInterval``).
    private var freedMemoryReturner: FreedMemoryReturner?
    var freedMemoryReturnCount: Int { freedMemoryReturner?.returnCount ?? 0 }
    /// Connections refused because ``ServerConfiguration/maxConnections`` was reached.
    private(set) var refusedConnectionCount = 0
    /// Event streams closed because their client fell too far behind.
    private(set) var slowClientDisconnectCount = 0

    /// `accept(2)` failures libuv reported (EMFILE, ENFILE, …).
    private(set) var acceptErrorCount = 0
    /// At most one accept-error line per this many milliseconds (10 s).
    static let acceptErrorLogIntervalMilliseconds = 10_000
    /// The connection cap in force: ``ServerConfiguration/maxConnections``, lowered at start
    /// to fit the open-file limit.
    private(set) var maxConnections: Int

    /// Broker events handed to relayed event streams, and the socket writes that carried them.
    var relayedEventCount = 0
    var relayedWriteCount = 0

    func noteSlowClientDisconnect() { slowClientDisconnectCount += 1 }

    /// Connections closed by ``ServerConfiguration/writeTimeout``.
    private(set) var writeTimeoutCount = 0

    func noteWriteTimeout() { writeTimeoutCount += 1 }

    init(
        loop: EventLoop, configuration: ServerConfiguration, logger: Logger, pubSub: PubSub? = nil,
        counters: SharedServerCounters = SharedServerCounters(), isPrimary: Bool = true, tlsContext: TLSContext? = nil,
        requestMetrics: RequestMetrics = RequestMetrics(factory: MetricsSystem.factory),
        bodyAdmission: @escaping @Sendable (HTTPRequestHead) -> BodyAdmission,
        screen: @escaping @Sendable (Request, RequestContext) -> HeadScreening, responder: @escaping Responder,
        dispatch: @escaping @Sendable (Request) -> RequestDispatch
    ) {
        self.loop = loop
        self.counters = counters
        self.isPrimary = isPrimary
        self.tlsContext = tlsContext
        self.requestMetrics = requestMetrics
        self.configuration = configuration
        self.logger = logger
        self.pubSub = pubSub
        self.bodyAdmission = bodyAdmission
        self.screen = screen
        self.responder = responder
        self.dispatch = dispatch
        machineConfiguration = .init(
            .init(
                parserLimits: .init(
                    maxHeaderBytes: configuration.maxHeaderBytes, maxBodyBytes: configuration.maxRequestBodyBytes,
                    maxHeaderCount: configuration.maxHeaderFieldCount),
                maxQueuedRequests: configuration.maxQueuedRequests, maxQueuedRequestBytes: configuration.maxQueuedRequestBytes))
        timeoutLimits = ConnectionTimeouts.Limits(idle: configuration.idleTimeout, request: configuration.requestTimeout)
        serverLine = configuration.serverName.map { Array("server: \($0)\r\n".utf8) } ?? []
        maxConnections = configuration.maxConnections
    }

    /// Binds and starts accepting: on `host` and `port` when given (another loop's server's
    /// bound address, joined with `SO_REUSEPORT`), else on the configured ones. Loop thread only.
    ///
    /// First raises the soft open-file limit to the hard one; when even that cannot hold
    /// ``ServerConfiguration/maxConnections`` connections plus what the process and its
    /// `loopCount` loops need besides (`OpenFileLimit.reservedDescriptors(loopCount:)`), the
    /// cap is lowered to fit, with a warning (a connection over the cap gets a 503, which is
    /// better than an accept failure).
    func start(
        host: String? = nil, port: Int? = nil, reusePort: Bool = false, joiningListeners: Bool = false, loopCount: Int = 1
    ) throws(UVError) -> SocketAddress {
        let openFileLimit = OpenFileLimit.raiseSoftLimitToHardLimit()
        maxConnections = OpenFileLimit.connectionCap(
            configured: configuration.maxConnections, openFileLimit: openFileLimit,
            reservedDescriptors: OpenFileLimit.reservedDescriptors(loopCount: loopCount))
        maxLingeringRefusals = OpenFileLimit.lingeringRefusalsPerPeriod(loopCount: loopCount)
        if isPrimary && maxConnections < configuration.maxConnections {
            logger.warning(
                "maxConnections lowered to fit the open-file limit; raise the limit (ulimit -n, LimitNOFILE=) to serve more",
                metadata: [
                    "configured": "\(configuration.maxConnections)", "in_force": "\(maxConnections)",
                    "open_file_limit": "\(openFileLimit ?? -1)",
                ])
        }
        let listener = try TCPListener(
            loop: loop, host: host ?? configuration.host, port: port ?? configuration.port, reusePort: reusePort,
            joiningListeners: joiningListeners, acceptDeferral: configuration.acceptDeferral,
            sendBufferBytes: configuration.socketSendBufferBytes
        ) { [unowned self] stream in
            self.accept(stream)
        }
        listener.onAcceptError = { [unowned self] error in self.noteAcceptError(error) }
        self.listener = listener
        let queue = eventStreamFlushQueue
        flushObserver = loop.addDrainObserver { queue.flush() }
        pubSub?.setBackpressure(queue, on: loop)
        if isPrimary, let interval = configuration.freedMemoryCheckInterval {
            let logger = self.logger
            freedMemoryReturner = FreedMemoryReturner(
                loop: loop, interval: interval, thresholdBytes: max(1, configuration.freedMemoryReturnThresholdBytes)
            ) { before, after in
                logger.debug(
                    "returned freed memory to the kernel", metadata: ["unused_resident_before": "\(before)", "unused_resident_after": "\(after)"])
            }
        }
        return listener.localAddress
    }

    var connectionCount: Int { connectionObjects.count }

    /// Event streams open on this loop's connections now: a walk over them (about a
    /// nanosecond each), so that opening and ending a stream costs no bookkeeping.
    var eventStreamCount: Int {
        var count = 0
        for connection in connectionObjects { count += connection.openEventStreamCount }
        return count
    }

    private func accept(_ stream: TCPStream) {
        if shuttingDown || counters.openConnections.load(ordering: .relaxed) >= maxConnections {
            refuse(stream)
            return
        }
        stream.writeTimeout = configuration.writeTimeout
        if let tlsContext {
            // The handshake is bounded by the request timeout: the connection is idle (and
            // the idle timeout runs) until the first decrypted byte arrives.
            guard
                let transport = TLSTransport(
                    serving: stream, loop: loop, context: tlsContext, handshakeTimeout: configuration.requestTimeout)
            else {
                stream.close()
                return
            }
            adopt(transport)
            return
        }
        adopt(stream)
    }

    /// Serves HTTP on `transport` (an accepted TCP stream; a stand-in in unit tests).
    func adopt(_ transport: any Transport) {
        let connection = HTTPConnection(server: self, transport: transport)
        connection.registryIndex = connectionObjects.count
        connectionObjects.append(connection)
        counters.openConnections.add(1, ordering: .relaxed)
        connection.start()
    }

    /// A refused connection lingers (up to ``refusalLingerMilliseconds``) so that its 503 is
    /// not lost to a reset; at most ``maxLingeringRefusals`` start lingering per linger period,
    /// so a flood over the cap cannot turn every spare descriptor into a lingering refusal.
    /// Beyond that the 503 is written and the socket closed at once.
    private func refuse(_ stream: TCPStream) {
        refusedConnectionCount += 1
        if tlsContext != nil {
            // A 503 over TLS costs a handshake, the CPU an overloaded server lacks: close.
            stream.close()
            return
        }
        stream.write(Self.serviceUnavailable)
        requestMetrics.recordRejected(statusCode: 503, protocol: .http1)
        let now = loop.nowMilliseconds
        if now &- refusalWindowStart >= UInt64(Self.refusalLingerMilliseconds) {
            refusalWindowStart = now
            lingeringRefusalsInWindow = 0
        }
        guard lingeringRefusalsInWindow < maxLingeringRefusals else {
            stream.close()
            return
        }
        lingeringRefusalsInWindow += 1
        stream.closeAfterFlush(lingering: .milliseconds(Self.refusalLingerMilliseconds))
    }

    /// How long a refused connection may linger for its 503 to be read (500 ms).
    static let refusalLingerMilliseconds = 500
    /// Refused connections that may start lingering per linger period on this loop: its share
    /// of `OpenFileLimit.lingeringRefusalsPerPeriod`, so that at most
    /// `OpenFileLimit.lingeringRefusalCount(loopCount:)` linger at once in the process, which
    /// the connection cap keeps in reserve.
    private(set) var maxLingeringRefusals = OpenFileLimit.lingeringRefusalsPerPeriod
    private var refusalWindowStart: UInt64 = 0
    private var lingeringRefusalsInWindow = 0

    /// Counts an accept error and logs it: the first at once, the rest in one line per
    /// ``acceptErrorLogIntervalMilliseconds`` for all loops together, so a descriptor shortage
    /// cannot flood the log.
    func noteAcceptError(_ error: UVError) {
        acceptErrorCount += 1
        let total = counters.acceptErrors.add(1, ordering: .relaxed).newValue
        // One line for the process, whichever loop the error is on: the first at once, the
        // rest counted for the summary its loop logs.
        guard counters.unloggedAcceptErrors.compareExchange(expected: -1, desired: 0, ordering: .relaxed).exchanged else {
            counters.unloggedAcceptErrors.add(1, ordering: .relaxed)
            return
        }
        logger.error("accepting a connection failed", metadata: ["error": "\(error)", "accept_errors_total": "\(total)"])
        scheduleAcceptErrorSummary(lastError: error)
    }

    private func scheduleAcceptErrorSummary(lastError: UVError) {
        loop.schedule(after: .milliseconds(Self.acceptErrorLogIntervalMilliseconds)) { [weak self] in
            guard let self else { return }
            let counters = self.counters
            let unlogged = counters.unloggedAcceptErrors.exchange(0, ordering: .relaxed)
            guard unlogged > 0 else {
                // Quiet for a whole interval: the next error logs at once (unless one came just now).
                if !counters.unloggedAcceptErrors.compareExchange(expected: 0, desired: -1, ordering: .relaxed).exchanged {
                    self.scheduleAcceptErrorSummary(lastError: lastError)
                }
                return
            }
            self.logger.error(
                "accepting connections keeps failing",
                metadata: [
                    "errors_in_interval": "\(unlogged)", "accept_errors_total": "\(counters.acceptErrors.load(ordering: .relaxed))",
                    "last_error": "\(lastError)",
                ])
            self.scheduleAcceptErrorSummary(lastError: lastError)
        }
    }

    func connectionDidClose(_ connection: HTTPConnection) {
        let index = connection.registryIndex
        if index >= 0, index < connectionObjects.count, connectionObjects[index] === connection {
            connection.registryIndex = -1
            counters.openConnections.subtract(1, ordering: .relaxed)
            let last = connectionObjects.removeLast()
            if last !== connection {
                connectionObjects[index] = last
                last.registryIndex = index
            }
        }
        if !drainingConnections.isEmpty, drainingConnections.remove(ObjectIdentifier(connection)) != nil, drainingConnections.isEmpty {
            closeKeptConnectionsIfDrained()
        }
        if shuttingDown && connectionObjects.isEmpty {
            removeFlushObserver()
            let waiters = shutdownWaiters
            shutdownWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Graceful shutdown: stop accepting, close idle connections, let in-flight responses
    /// finish within the grace period, then cancel what is left and close everything.
    ///
    /// With a drain period (``ServerConfiguration/shutdownDrainPeriod``), HTTP/1.1 connections
    /// without a stream stay open until the last draining stream's connection has closed, and
    /// at least ``keptOpenShutdownMinimum`` (the drain period if shorter): a request
    /// that arrives on one meanwhile — a proxy's pooled connection that has not heard of the
    /// shutdown — is answered (with `connection: close`) instead of meeting a closed socket,
    /// which a proxy cannot retry for a `POST`. A stream opened that way ends at once with its
    /// farewell.
    func shutdown() async {
        if !shuttingDown {
            shuttingDown = true
            listener?.close()
            listener = nil
            freedMemoryReturner?.stop()
            let drain = configuration.shutdownDrainPeriod
            let connections = Array(connectionObjects)
            keepingConnectionsOpen = drain > .zero
            let streaming = keepingConnectionsOpen ? connections.filter(\.isStreamingEvents) : []
            // HTTP/2 connections without a stream say GOAWAY at once (their clients open no new
            // stream on them); HTTP/1.1 ones may be kept open for late requests.
            for connection in connections where !keepingConnectionsOpen || (connection.isHTTP2 && !connection.isStreamingEvents) {
                connection.serverIsShuttingDown()
            }
            if !streaming.isEmpty {
                for connection in streaming { connection.noticeShutdown() }
                drainingConnections = Set(streaming.map(ObjectIdentifier.init))
                drainEventStreams(streaming.shuffled(), over: drain)
            }
            if keepingConnectionsOpen {
                loop.schedule(after: min(drain, Self.keptOpenShutdownMinimum)) { [self] in
                    keptOpenMinimumPassed = true
                    closeKeptConnectionsIfDrained()
                }
            }
            if !connectionObjects.isEmpty {
                let deadline = streaming.isEmpty ? configuration.shutdownGracePeriod : max(configuration.shutdownGracePeriod, drain + .seconds(1))
                loop.schedule(after: deadline) { [self] in
                    for connection in Array(self.connectionObjects) { connection.forceClose() }
                }
            }
        }
        if connectionObjects.isEmpty {
            removeFlushObserver()
            return
        }
        await withCheckedContinuation { shutdownWaiters.append($0) }
    }

    /// Closes the HTTP/1.1 connections a shutdown kept open for late requests (once idle) when
    /// no stream drains any more and they were kept ``keptOpenShutdownMinimum``.
    private func closeKeptConnectionsIfDrained() {
        guard keepingConnectionsOpen, keptOpenMinimumPassed, drainingConnections.isEmpty else { return }
        keepingConnectionsOpen = false
        for connection in Array(connectionObjects) where !connection.isStreamingEvents { connection.serverIsShuttingDown() }
    }

    /// Ends `connections`' event streams (with their farewells) spread evenly over `period`: by
    /// the end of tick `t` of the period's ``drainTickMilliseconds`` ticks, `count × t / ticks`
    /// of them (rounded up), the first at once. Many streams end in a batch every tick; a few
    /// end one at a time, `period / count` apart — not all in the first few ticks.
    private func drainEventStreams(_ connections: [HTTPConnection], over period: Duration) {
        let ticks = max(1, Int(period.millisecondsRoundingUp / UInt64(Self.drainTickMilliseconds)))
        let count = connections.count
        var ended = 0
        var tick = 0
        func step() {
            tick += 1
            let due = min(count, (count * tick + ticks - 1) / ticks)
            while ended < due {
                let connection = connections[ended]
                if !connection.isClosed { connection.serverIsShuttingDown() }
                ended += 1
            }
            guard ended < count else { return }
            // The first tick at which the next stream is due.
            let next = ended * ticks / count + 1
            loop.schedule(after: .milliseconds(Int64((next - tick) * Self.drainTickMilliseconds))) {
                tick = next - 1
                step()
            }
        }
        step()
    }

    /// How often the drain ends its next batch of event streams (25 ms).
    static let drainTickMilliseconds = 25

    private func removeFlushObserver() {
        guard let flushObserver else { return }
        self.flushObserver = nil
        loop.removeDrainObserver(flushObserver)
        pubSub?.setBackpressure(nil, on: loop)
        eventStreamFlushQueue.releaseWaiters()
    }

    /// Cancels every handler and closes every connection now (a second shutdown signal).
    func forceCloseAll() {
        for connection in Array(connectionObjects) { connection.forceClose() }
    }

    /// Whether shutdown has begun.
    var isShuttingDown: Bool { shuttingDown }

    /// The canned answer to a client over the connection cap, written without parsing.
    static let serviceUnavailable: [UInt8] = {
        let body = "{\"error\":{\"status\":503,\"reason\":\"Service Unavailable\",\"message\":\"too many connections\"}}"
        let head =
            "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\n"
            + "content-type: application/json; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }()
}
