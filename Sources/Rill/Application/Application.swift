public import Logging
public import RillCore
import RillHTTP
public import RillPubSub
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A Rill server: a router served over HTTP/1.1 by one event loop thread.
///
/// ```swift
/// let router = Router()
/// router.get("/hello") { request, context in "Hello" }
/// let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 8080))
/// try await app.run()   // until SIGINT or SIGTERM, then a graceful shutdown
/// ```
///
/// Handlers run on the loop's thread (the loop's executor is their task executor), so the
/// functions they await and their child tasks do too, with no thread hop per request.
public final class Application: Sendable {
    /// The routes.
    public let router: Router
    /// The server's address, port, limits and timeouts.
    public let configuration: ServerConfiguration
    /// The logger handlers receive in their context.
    public let logger: Logger
    /// The loop that runs the server and every handler.
    public let eventLoop: EventLoop
    /// The publish/subscribe broker (in memory unless configured otherwise).
    public var broker: any Broker { pubSub.broker }
    /// Publishing and subscribing: the broker, the channel authorization hook, the server's
    /// publish backpressure. Every handler's context refers to it.
    let pubSub: PubSub

    private let state = SanitizerVisibleMutex<State>(State())

    private struct State {
        var server: HTTPServer?
        var localAddress: SocketAddress?
        var stopped = false
        /// The server's counters as shutdown left them (the loop that kept them is gone).
        var finalStatistics: ServerStatistics?
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var signalWatchers: [SignalWatcher] = []
    }

    /// Creates the application, its event loop thread and its broker.
    ///
    /// - Throws: `UVError` if libuv cannot create the loop, or the broker factory's error; the
    ///   loop thread is stopped again before the error is thrown.
    public init(
        router: Router, configuration: ServerConfiguration = .init(), logger: Logger = Logger(label: "rill"),
        broker: BrokerFactory = .inMemory()
    ) throws {
        self.router = router
        self.configuration = configuration
        self.logger = logger
        let eventLoop = try EventLoop(name: "rill-loop", logger: logger)
        self.eventLoop = eventLoop
        do {
            pubSub = PubSub(
                broker: try broker.make(eventLoop), eventLoop: eventLoop, logger: logger,
                defaultStreamConfiguration: configuration.eventStream)
        } catch {
            // Nothing else will ever stop the loop: the application is never returned.
            eventLoop.shutdownAndWait()
            throw error
        }
    }

    /// The running server, if started.
    var server: HTTPServer? { state.withLock { $0.server } }

    /// The bound address once started (with the real port when port 0 was configured).
    public var localAddress: SocketAddress? { state.withLock { $0.localAddress } }

    /// Binds and starts serving; returns the bound address. Pair it with ``shutdown()``.
    ///
    /// - Throws: `UVError` when the address cannot be bound (for example `EADDRINUSE`).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let responder = router.makeResponder()
        let router = self.router
        let server = HTTPServer(
            loop: eventLoop, configuration: configuration, logger: logger, pubSub: pubSub,
            bodyLimit: { router.bodyLimit(for: $0) }, responder: responder)
        let address = try await onLoop { try server.start() }
        state.withLock {
            $0.server = server
            $0.localAddress = address
        }
        return address
    }

    /// Serves until SIGINT or SIGTERM (or ``shutdown()``), then shuts down gracefully. Starts
    /// the server first unless ``start()`` already did.
    public func run() async throws {
        if localAddress == nil { try await start() }
        let watchers = try await onLoop { [self] () throws -> [SignalWatcher] in
            // The watchers stay installed until the loop stops: a second signal during the
            // grace period is a deliberate, logged "stop now", never the default kill.
            var signalled = false
            return try [SIGINT, SIGTERM].map { signal in
                try SignalWatcher(loop: eventLoop, signal: signal) { [self] in
                    if signalled {
                        self.logger.warning("signal \(signal) received again: closing every connection now")
                        self.state.withLock { $0.server }?.forceCloseAll()
                        return
                    }
                    signalled = true
                    self.logger.info("signal \(signal) received, shutting down gracefully (send it again to stop at once)")
                    Task { await self.shutdown() }
                }
            }
        }
        state.withLock { $0.signalWatchers = watchers }
        await withCheckedContinuation { continuation in
            let alreadyStopped = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
    }

    /// Graceful shutdown: stops accepting, lets in-flight responses finish within
    /// ``ServerConfiguration/shutdownGracePeriod`` (then cancels them), closes every connection
    /// and stops the event loop. Idempotent.
    public func shutdown() async {
        let (server, watchers) = state.withLock { state in
            defer { state.signalWatchers = [] }
            return (state.server, state.signalWatchers)
        }
        if let server {
            let final = await onLoop {
                await server.shutdown()
                for watcher in watchers { watcher.cancel() }
                return Self.statistics(of: server)
            }
            // The server's responder holds every handler and middleware, which often capture
            // the application (`app.eventStream(for:)` in a route): let go of them, or the
            // application, its router and its broker outlive it.
            state.withLock { state in
                state.finalStatistics = final
                state.server = nil
            }
        }
        router.releaseHandlers()
        await eventLoop.shutdown()
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.stopWaiters = [] }
            return state.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The server's counters: open and refused connections, slow-client disconnects.
    /// After shutdown: the counters as shutdown left them.
    public func serverStatistics() async -> ServerStatistics {
        let (server, final) = state.withLock { ($0.server, $0.finalStatistics) }
        guard let server else { return final ?? ServerStatistics() }
        return await onLoop { Self.statistics(of: server) }
    }

    /// The server's counters. Loop thread.
    private static func statistics(of server: HTTPServer) -> ServerStatistics {
        ServerStatistics(
            connectionCount: server.connectionCount, refusedConnectionCount: server.refusedConnectionCount,
            slowClientDisconnectCount: server.slowClientDisconnectCount,
            relayedEventCount: server.relayedEventCount, relayedWriteCount: server.relayedWriteCount,
            writeTimeoutCount: server.writeTimeoutCount, acceptErrorCount: server.acceptErrorCount,
            freedMemoryReturnCount: server.freedMemoryReturnCount)
    }

    /// Open client connections right now (for tests and metrics).
    public func connectionCount() async -> Int {
        guard let server = state.withLock({ $0.server }) else { return 0 }
        return await onLoop { server.connectionCount }
    }

    /// The router's responder with all middleware, for in-process tests (no sockets).
    package func makeResponder() -> Responder { router.makeResponder() }

    /// A handler's context as the server makes it, for in-process tests.
    package func makeRequestContext(remoteAddress: SocketAddress? = nil) -> RequestContext {
        RequestContext(logger: logger, remoteAddress: remoteAddress, eventLoop: eventLoop, pubSub: pubSub)
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task(executorPreference: eventLoop.executor) { try await body() }.value
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
        await Task(executorPreference: eventLoop.executor) { await body() }.value
    }
}
