public import CoreMetrics
import Histogram
public import Logging
public import RillCore
import RillHTTP
public import RillPubSub
import RillTLS
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A Rill server: a router served over HTTP/1.1 by one event loop thread per core.
///
/// ```swift
/// let router = Router()
/// router.get("/hello") { request, context in "Hello" }
/// let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 8080))
/// try await app.run()   // until SIGINT or SIGTERM, then a graceful shutdown
/// ```
///
/// Handlers run on their connection's loop thread (the loop's executor is their task executor),
/// so the functions they await and their child tasks do too, with no thread hop per request.
/// ``ServerConfiguration/eventLoopCount`` says how many loops (default: one per core).
public final class Application: Sendable {
    /// The routes.
    public let router: Router
    /// The server's address, port, limits and timeouts.
    public let configuration: ServerConfiguration
    /// The logger handlers receive in their context.
    public let logger: Logger
    /// The first of ``eventLoops``: it runs the signal handling, a single-loop broker (Redis),
    /// and the in-process test client's handlers.
    public let eventLoop: EventLoop
    /// The loops that serve connections, `rill-loop-0`, `rill-loop-1`, … (one thread each).
    public let eventLoops: [EventLoop]
    /// The publish/subscribe broker (in memory unless configured otherwise).
    public var broker: any Broker { pubSub.broker }
    /// Publishing and subscribing: the broker, the channel authorization hook, the server's
    /// publish backpressure. Every handler's context refers to it.
    let pubSub: PubSub
    /// Where the servers record per-request metrics and ``reportMetrics()`` reports the rest.
    let metricsFactory: any MetricsFactory
    /// The gauges and counters ``reportMetrics()`` updates.
    let metricsReporter: MetricsReporter

    private let state = SanitizerVisibleMutex<State>(State())

    private struct State {
        /// One server per loop, in the order of ``eventLoops``.
        var servers: [HTTPServer] = []
        var localAddress: SocketAddress?
        var stopped = false
        /// The server's counters as shutdown left them (the loop that kept them is gone).
        var finalStatistics: ServerStatistics?
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var signalWatchers: [SignalWatcher] = []
        /// In a `ServiceGroup`, during the graceful shutdown: watches for a second shutdown signal.
        var secondSignalTask: Task<Void, Never>?
        /// The certificate and key of ``ServerConfiguration/tls``, loaded at start.
        var tlsContext: TLSContext?
        /// Reports the metrics every ``ServerConfiguration/metricsReportingInterval`` while running.
        var metricsTask: Task<Void, Never>?
    }

    /// Creates the application, its event loop threads and its broker.
    ///
    /// - Parameters:
    ///   - router: the routes and middleware.
    ///   - configuration: the server's limits, timeouts, loops, TLS and HTTP/2 settings.
    ///   - logger: the application's logger; each request's logger adds its request id.
    ///   - broker: how publish/subscribe is made (in memory by default, or Redis).
    ///   - metricsFactory: where the framework's metrics go (``MetricName``); nil (the default)
    ///     uses the bootstrapped `MetricsSystem` — a no-op until the program calls
    ///     `MetricsSystem.bootstrap(_:)`, which it must do before making the application.
    /// - Throws: `UVError` if libuv cannot create a loop, or the broker factory's error; the
    ///   loop threads are stopped again before the error is thrown.
    public init(
        router: Router, configuration: ServerConfiguration = .init(), logger: Logger = Logger(label: "rill"),
        broker: BrokerFactory = .inMemory(), metricsFactory: (any MetricsFactory)? = nil
    ) throws {
        let metricsFactory = metricsFactory ?? MetricsSystem.factory
        self.metricsFactory = metricsFactory
        metricsReporter = MetricsReporter(loopCount: configuration.eventLoopCount, factory: metricsFactory)
        self.router = router
        self.configuration = configuration
        self.logger = logger
        precondition(configuration.eventLoopCount >= 1, "a server needs at least one event loop")
        var loops: [EventLoop] = []
        do {
            for index in 0..<configuration.eventLoopCount {
                loops.append(try EventLoop(name: "rill-loop-\(index)", logger: logger))
            }
            pubSub = PubSub(
                broker: try broker.make(loops), logger: logger,
                defaultStreamConfiguration: configuration.eventStream)
            pubSub.announcePresence(on: loops[0])
        } catch {
            // Nothing else will ever stop the loops: the application is never returned.
            for loop in loops { loop.shutdownAndWait() }
            throw error
        }
        eventLoops = loops
        eventLoop = loops[0]
    }

    /// The running servers (one per loop), empty unless started.
    var servers: [HTTPServer] { state.withLock { $0.servers } }

    /// The bound address once started (with the real port when port 0 was configured).
    public var localAddress: SocketAddress? { state.withLock { $0.localAddress } }

    /// Binds and starts serving on every loop; returns the bound address. Pair it with
    /// ``shutdown()``.
    ///
    /// - Throws: `UVError` when the address cannot be bound (for example `EADDRINUSE`, also
    ///   when another process listens there with `SO_REUSEPORT`); `TLSConfigurationError`
    ///   when ``ServerConfiguration/tls`` names a missing, unreadable or mismatched certificate
    ///   or key (before anything listens).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let tlsContext = try makeTLSContext()
        state.withLock { $0.tlsContext = tlsContext }
        let responder = router.makeResponder()
        let router = self.router
        let defaultLimit = configuration.maxRequestBodyBytes
        let counters = SharedServerCounters()
        var servers: [HTTPServer] = []
        var address: SocketAddress?
        do {
            for (index, loop) in eventLoops.enumerated() {
                let server = HTTPServer(
                    loop: loop, configuration: configuration, logger: logger, pubSub: pubSub, counters: counters,
                    isPrimary: index == 0, tlsContext: tlsContext, requestMetrics: RequestMetrics(factory: metricsFactory),
                    bodyAdmission: { router.bodyAdmission(for: $0, defaultMaxBodyBytes: defaultLimit) },
                    screen: { router.screen($0, context: $1, defaultMaxBodyBytes: defaultLimit) },
                    responder: responder, dispatch: { router.dispatch($0) })
                // The first binds the configured address (port 0: a free one); the others join it.
                let listenAt = address
                let shared = eventLoops.count > 1
                let bound = try await onLoop(loop) {
                    try server.start(
                        host: listenAt?.host, port: listenAt?.port, reusePort: shared, joiningListeners: listenAt != nil,
                        loopCount: self.eventLoops.count)
                }
                servers.append(server)
                if address == nil { address = bound }
            }
        } catch {
            for server in servers { await onLoop(server.loop) { await server.shutdown() } }
            throw error
        }
        let started = servers
        let metricsTask = startPeriodicMetricsReports()
        state.withLock {
            $0.servers = started
            $0.localAddress = address
            $0.metricsTask = metricsTask
        }
        return address!
    }

    /// Serves until SIGINT or SIGTERM (or ``shutdown()``), then shuts down gracefully. Starts
    /// the server first unless ``start()`` already did.
    ///
    /// In a swift-service-lifecycle `ServiceGroup` (the application is a `Service`), the group
    /// owns the shutdown signals: the application watches neither SIGINT nor SIGTERM (only
    /// SIGHUP with TLS) and shuts down gracefully when the group triggers a graceful shutdown,
    /// or when the task running it is cancelled. Either way `run()` returns once shutdown
    /// completed.
    ///
    /// A second SIGINT or SIGTERM during the graceful shutdown closes every connection at once
    /// (and is logged): the application watches them from the first one on, or, in a
    /// `ServiceGroup` (which ignores repeated shutdown signals), from the moment the group's
    /// graceful shutdown begins.
    public func run() async throws {
        if localAddress == nil { try await start() }
        let inServiceGroup = Self.runsInServiceGroup
        let watchers = try await installSignalWatchers(shutdownSignals: !inServiceGroup)
        state.withLock { $0.signalWatchers = watchers }
        await withTaskCancellationOrGracefulShutdownHandler {
            await waitUntilStopped()
        } onCancelOrGracefulShutdown: { [self] in
            Task {
                if inServiceGroup { await self.watchForSecondShutdownSignal() }
                await self.shutdown()
            }
        }
    }

    /// In a `ServiceGroup`, once its graceful shutdown began: the next SIGINT or SIGTERM (the
    /// group took the first) closes every connection at once.
    ///
    /// Watched the way the group watches them (swift-service-lifecycle's `UnixSignalsSequence`,
    /// Dispatch signal sources, which all see every signal), not with a libuv handler: with both,
    /// which of them gets a signal depends on the thread the kernel picks.
    private func watchForSecondShutdownSignal() async {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let task = Task { [weak self] in
            for await signal in signals { self?.closeEverythingNow(after: signal.rawValue) }
        }
        state.withLock { $0.secondSignalTask = task }
    }

    /// A second shutdown signal: every connection closes now, handlers are cancelled.
    private func closeEverythingNow(after signal: Int32) {
        logger.warning("signal \(signal) received again: closing every connection now")
        for server in servers { server.loop.executeBypassingLimit { server.forceCloseAll() } }
    }

    /// Watches SIGINT and SIGTERM when `shutdownSignals` (a graceful shutdown; the second one
    /// closes everything at once) and, with TLS, SIGHUP (reloads the certificate), on the first
    /// loop.
    private func installSignalWatchers(shutdownSignals: Bool) async throws -> [SignalWatcher] {
        try await onLoop(eventLoop) { [self] () throws -> [SignalWatcher] in
            // The watchers stay installed until the loop stops: a second signal during the
            // grace period is a deliberate, logged "stop now", never the default kill.
            var signalled = false
            var watchers = try (shutdownSignals ? [SIGINT, SIGTERM] : []).map { signal in
                try SignalWatcher(loop: eventLoop, signal: signal) { [self] in
                    if signalled {
                        self.closeEverythingNow(after: signal)
                        return
                    }
                    signalled = true
                    self.logger.info("signal \(signal) received, shutting down gracefully (send it again to stop at once)")
                    Task { await self.shutdown() }
                }
            }
            if configuration.tls != nil {
                watchers.append(try SignalWatcher(loop: eventLoop, signal: SIGHUP) { [self] in self.reloadTLSCertificateLogging() })
            }
            return watchers
        }
    }

    /// Returns once ``shutdown()`` completed.
    private func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let alreadyStopped = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
    }

    /// The TLS context of ``ServerConfiguration/tls`` (ALPN: `h2` first when
    /// ``HTTP2Configuration/isEnabledOverTLS``, then `http/1.1`); nil without TLS.
    private func makeTLSContext() throws(TLSConfigurationError) -> TLSContext? {
        guard let tls = configuration.tls else { return nil }
        return try TLSContext(
            certificateChainPath: tls.certificateChainPath, privateKeyPath: tls.privateKeyPath,
            applicationProtocols: configuration.http2.isEnabledOverTLS ? ["h2", "http/1.1"] : ["http/1.1"])
    }

    /// Reads the certificate chain and key of ``ServerConfiguration/tls`` again (what `SIGHUP`
    /// does in ``run()``): connections accepted from now on present them; open connections keep
    /// theirs and are not dropped. Does nothing without TLS or before ``start()``.
    ///
    /// - Throws: `TLSConfigurationError` when the files are not usable; the server keeps
    ///   the certificate it had.
    public func reloadTLSCertificate() throws(TLSConfigurationError) {
        guard let context = state.withLock({ $0.tlsContext }) else { return }
        try context.reload()
    }

    /// `SIGHUP`: reloads, and says how it went in the log.
    private func reloadTLSCertificateLogging() {
        guard let tls = configuration.tls else { return }
        do {
            try reloadTLSCertificate()
            logger.info("TLS certificate reloaded", metadata: ["certificate": "\(tls.certificateChainPath)"])
        } catch {
            logger.error("reloading the TLS certificate failed; keeping the previous one", metadata: ["error": "\(error)"])
        }
    }

    /// Graceful shutdown: stops accepting, lets in-flight responses finish within
    /// ``ServerConfiguration/shutdownGracePeriod`` (then cancels them), closes every connection
    /// and stops the event loop. Idempotent.
    public func shutdown() async {
        let (servers, metricsTask) = state.withLock { state in
            defer { state.metricsTask = nil }
            return (state.servers, state.metricsTask)
        }
        metricsTask?.cancel()
        if !servers.isEmpty {
            // Every loop stops accepting and says farewell at once; one grace period for all.
            let parts = await withTaskGroup(of: (Int, ServerStatistics).self) { group in
                for (index, server) in servers.enumerated() {
                    group.addTask {
                        await self.onLoop(server.loop) {
                            await server.shutdown()
                            return (index, Self.statistics(of: server))
                        }
                    }
                }
                var parts: [(Int, ServerStatistics)] = []
                for await part in group { parts.append(part) }
                return parts.sorted { $0.0 < $1.0 }.map(\.1)
            }
            // The servers' responder holds every handler and middleware, which often capture
            // the application (`app.eventStream(for:)` in a route): let go of them, or the
            // application, its router and its broker outlive it.
            state.withLock { state in
                state.finalStatistics = ServerStatistics.sum(parts)
                state.servers = []
            }
        }
        router.releaseHandlers()
        // The signal watchers stay until the servers are down: a second SIGINT or SIGTERM during
        // the grace period closes everything at once (without a watcher, it would kill).
        let (watchers, secondSignalTask) = state.withLock { state in
            defer {
                state.signalWatchers = []
                state.secondSignalTask = nil
            }
            return (state.signalWatchers, state.secondSignalTask)
        }
        secondSignalTask?.cancel()
        if !watchers.isEmpty {
            await onLoop(eventLoop) { for watcher in watchers { watcher.cancel() } }
        }
        // The streams ended: say goodbye in a shared presence store before the loops stop.
        await pubSub.presence.shutdown()
        await withTaskGroup(of: Void.self) { group in
            for loop in eventLoops { group.addTask { await loop.shutdown() } }
        }
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.stopWaiters = [] }
            return state.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The servers' counters, summed over the loops (``ServerStatistics/connectionCountsByLoop``
    /// shows each loop's connections). After shutdown: the counters as shutdown left them.
    public func serverStatistics() async -> ServerStatistics {
        let (servers, final) = state.withLock { ($0.servers, $0.finalStatistics) }
        guard !servers.isEmpty else { return final ?? ServerStatistics() }
        var parts: [ServerStatistics] = []
        var latency = DeliveryLatencyRecorder.makeHistogram()
        for server in servers {
            let (part, histogram) = await onLoop(server.loop) { (Self.statistics(of: server), server.deliveryLatency.snapshot()) }
            parts.append(part)
            latency.add(histogram)
        }
        var total = ServerStatistics.sum(parts)
        total.deliveryLatency = DeliveryLatency(microseconds: latency)
        return total
    }

    /// One server's counters. Its loop's thread.
    private static func statistics(of server: HTTPServer) -> ServerStatistics {
        var statistics = ServerStatistics(
            connectionCount: server.connectionCount, refusedConnectionCount: server.refusedConnectionCount,
            slowClientDisconnectCount: server.slowClientDisconnectCount,
            relayedEventCount: server.relayedEventCount, relayedWriteCount: server.relayedWriteCount,
            writeTimeoutCount: server.writeTimeoutCount, acceptErrorCount: server.acceptErrorCount,
            freedMemoryReturnCount: server.freedMemoryReturnCount)
        statistics.connectionCountsByLoop = [server.connectionCount]
        statistics.eventStreamCount = server.eventStreamCount
        return statistics
    }

    /// Open client connections right now (for tests and metrics).
    public func connectionCount() async -> Int { await serverStatistics().connectionCount }

    /// The router's responder with all middleware, for in-process tests (no sockets).
    package func makeResponder() -> Responder { router.makeResponder() }

    /// A handler's context as the server makes it, for in-process tests.
    package func makeRequestContext(remoteAddress: SocketAddress? = nil) -> RequestContext {
        RequestContext(logger: logger, remoteAddress: remoteAddress, eventLoop: eventLoop, pubSub: pubSub)
    }

    private func onLoop<T: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task(executorPreference: loop.executor) { try await body() }.value
    }

    private func onLoop<T: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable () async -> T) async -> T {
        await Task(executorPreference: loop.executor) { await body() }.value
    }
}
