public import RillCore

/// Limits and timeouts of the HTTP server. Every limit is explicit and has a unit in its name.
public struct ServerConfiguration: Sendable {
    /// How many event loops serve connections, one thread each (`rill-loop-0`, `rill-loop-1`,
    /// …). Default: the CPUs the process may run on (`EventLoop.availableCoreCount`, which
    /// follows `taskset`). Each loop listens on the port (`SO_REUSEPORT`: the kernel spreads new
    /// connections over them), and a connection stays on its loop for life; its handler, what
    /// the handler awaits and its child tasks run on that loop's thread with no hop.
    ///
    /// With more than one loop, two requests may run on two threads at once: state handlers
    /// share must be `Sendable` (an actor, a `Mutex`), which Swift 6 checks. Publishing
    /// reaches subscribers on every loop. Pass 1 for a single-threaded server (every handler
    /// on one thread, as a Node or uvicorn worker).
    public var eventLoopCount: Int
    /// The address to bind: a numeric IPv4 or IPv6 address, `localhost` or a host name.
    public var host: String
    /// The port; 0 picks a free one (see ``Application/localAddress``).
    public var port: Int
    /// The most bytes of request line plus headers (431 beyond).
    public var maxHeaderBytes: Int
    /// The most header fields of one request, HTTP/1.1 and HTTP/2 alike (431 beyond). Default
    /// 100 (browsers send 10–20).
    public var maxHeaderFieldCount = 100
    /// The default maximum request body (413 beyond); routes may set their own.
    public var maxRequestBodyBytes: Int
    /// The most request-body bytes all connections of the process hold together for requests
    /// whose bodies are still arriving (HTTP/1.1: one per connection at most, pipelined ones
    /// wait within ``maxQueuedRequestBytes``; HTTP/2: every stream's). A body that would take
    /// the total past it gets `503` with `Retry-After` (HTTP/1.1 then closes the connection;
    /// HTTP/2 answers that stream alone), so that slow uploads cannot each hold
    /// ``maxRequestBodyBytes`` on every connection the process allows. Default 64 MiB
    /// (64 uploads of the default 1 MiB at once; the memory they take is up to about twice
    /// that, arrays growing by doubling); set it in place. Routes that take uploads only from
    /// authenticated clients keep anonymous ones out of it with
    /// ``RouterGroup/checkBeforeBody(_:)``.
    public var maxReceivingRequestBodyBytes: Int
    /// The most open client connections; further clients get a `503` and are closed.
    public var maxConnections: Int
    /// How long a client may take to send a complete request once it started one (408 after).
    public var requestTimeout: Duration
    /// How long an idle keep-alive connection stays open.
    public var idleTimeout: Duration
    /// How many complete pipelined requests may wait behind the one being handled.
    public var maxQueuedRequests: Int
    /// How many bytes of pipelined requests (waiting ones, a partial one and unparsed input) a
    /// connection holds behind the one being handled; reading pauses beyond. Behind an endless
    /// response (an event stream) nothing is held at all: input is only read to notice the
    /// client leaving, and the connection closes when the stream ends.
    public var maxQueuedRequestBytes: Int
    /// Accept a connection only once its first bytes arrived (Linux `TCP_DEFER_ACCEPT`, nginx's
    /// `listen … deferred`): the kernel completes the handshake, and the server is woken once, by
    /// the request, instead of once for the connection and again for its request. A client
    /// that connects and sends nothing is held by the kernel for about this long (it retransmits
    /// its SYN-ACK meanwhile) before the server takes it and ``idleTimeout`` applies. HTTP clients
    /// always speak first, so only silent sockets (port scanners, idle floods, speculative
    /// preconnects) notice. nil accepts every connection at once (and elsewhere than Linux).
    public var acceptDeferral: Duration?
    /// The kernel send buffer of every client socket (`SO_SNDBUF`, nginx's `listen … sndbuf=`),
    /// in bytes; the kernel doubles it for its bookkeeping. nil (the default) leaves the
    /// kernel's autotuning, which lets each connection's buffer grow to `tcp_wmem`'s maximum
    /// (4 MiB on Debian): bytes a slow client has not taken sit there before anything counts
    /// against ``EventStreamConfiguration/maxQueuedBytes``. A small value (64 KiB) bounds what
    /// 19,000 stalled streams hold in the kernel, and a slow client is cut off sooner, at the
    /// cost of throughput to distant clients with a large bandwidth-delay product. Set on the
    /// listening socket, which accepted sockets inherit (no cost per connection).
    public var socketSendBufferBytes: Int?
    /// A streaming response suspends its writer while more than this many bytes are queued for
    /// the client…
    public var writeHighWaterMarkBytes: Int
    /// …and resumes it once the queue drained to this many.
    public var writeLowWaterMarkBytes: Int
    /// How long bytes queued for a client may make no progress at all before the connection is
    /// closed (a client that stopped reading; nginx's `send_timeout`). Applies to every
    /// response, event streams included; nil never gives up. Progress is checked every quarter
    /// of it, so the connection closes between 1 and 1.25 times this after the last progress —
    /// which includes the kernel's send buffer draining into the client's receive buffer after
    /// the client stopped reading (a stalled download of a large file measured 76 s with 60 s).
    public var writeTimeout: Duration?
    /// How often the server checks whether memory a burst freed is still resident, and gives it
    /// back to the kernel (glibc's `malloc_trim`; Linux only). Without it the process keeps its
    /// high-water RSS after load falls. nil never returns it.
    public var freedMemoryCheckInterval: Duration?
    /// How much freed, still resident memory (resident anonymous memory less what the allocator
    /// has handed out) must have accumulated since the last return before the next one. Each
    /// return walks the allocator's free lists and makes one `madvise` per run of free pages.
    public var freedMemoryReturnThresholdBytes: Int
    /// How long graceful shutdown waits for in-flight responses before cancelling them.
    public var shutdownGracePeriod: Duration
    /// Over how long graceful shutdown ends the open event streams, spread evenly (each with its
    /// farewell), instead of all at once: clients that would all reconnect in the same instant
    /// (to the next instance, after a deploy) arrive spread over this window. Other responses
    /// get ``shutdownGracePeriod`` as before; what is still open after the later of the two
    /// (plus one second for the last farewells) is closed. `.zero` (the default) ends every
    /// stream at once.
    ///
    /// With a drain period, idle HTTP/1.1 keep-alive connections stay open until the last
    /// draining stream's connection has closed, and for at least one second (the drain period if
    /// shorter): a request that arrives on one — from a proxy's pool that has not heard of the
    /// shutdown — is answered with `connection: close` instead of meeting a closed socket (which
    /// a proxy cannot retry for a `POST`), and an event stream opened that way ends at once with
    /// its farewell. An HTTP/2 connection whose streams drain later is told at once to open no
    /// new stream (a `GOAWAY` with the largest stream id, RFC 9113 §6.8); a stream opened on it
    /// anyway ends at once too.
    public var shutdownDrainPeriod: Duration
    /// How often a running application brings its swift-metrics gauges and counters up to the
    /// loops' counters (`Application.reportMetrics()`); nil only when asked. Per-request
    /// metrics are recorded as responses start, whatever this says.
    public var metricsReportingInterval: Duration? = .seconds(1)
    /// The `Server` header value; nil sends none.
    public var serverName: String?
    /// Defaults for Server-Sent Events streams (heartbeats, slow-client cap).
    public var eventStream: EventStreamConfiguration
    /// HTTP/2: when it is spoken and its limits.
    public var http2: HTTP2Configuration
    /// TLS (HTTPS): the certificate and key; nil (the default) serves plain HTTP. A stalled
    /// handshake is closed after ``requestTimeout``.
    public var tls: TLSConfiguration?

    /// Creates a configuration; every value has a production default.
    public init(
        eventLoopCount: Int = EventLoop.availableCoreCount,
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxHeaderBytes: Int = 16 * 1024,
        maxRequestBodyBytes: Int = 1024 * 1024,
        maxConnections: Int = 19_000,
        requestTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60),
        maxQueuedRequests: Int = 32,
        maxQueuedRequestBytes: Int = 64 * 1024,
        acceptDeferral: Duration? = .seconds(5),
        writeHighWaterMarkBytes: Int = 64 * 1024,
        writeLowWaterMarkBytes: Int = 16 * 1024,
        writeTimeout: Duration? = .seconds(60),
        freedMemoryCheckInterval: Duration? = .seconds(10),
        freedMemoryReturnThresholdBytes: Int = 1024 * 1024,
        shutdownGracePeriod: Duration = .seconds(10),
        shutdownDrainPeriod: Duration = .zero,
        serverName: String? = "Rill",
        eventStream: EventStreamConfiguration = .init(),
        http2: HTTP2Configuration = .init(),
        tls: TLSConfiguration? = nil
    ) {
        precondition(eventLoopCount >= 1, "a server needs at least one event loop")
        self.eventLoopCount = eventLoopCount
        self.host = host
        self.port = port
        self.maxHeaderBytes = maxHeaderBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
        maxReceivingRequestBodyBytes = 64 * 1024 * 1024
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.maxQueuedRequests = maxQueuedRequests
        self.maxQueuedRequestBytes = maxQueuedRequestBytes
        self.acceptDeferral = acceptDeferral
        self.writeHighWaterMarkBytes = writeHighWaterMarkBytes
        self.writeLowWaterMarkBytes = writeLowWaterMarkBytes
        self.writeTimeout = writeTimeout
        self.freedMemoryCheckInterval = freedMemoryCheckInterval
        self.freedMemoryReturnThresholdBytes = freedMemoryReturnThresholdBytes
        self.shutdownGracePeriod = shutdownGracePeriod
        self.shutdownDrainPeriod = shutdownDrainPeriod
        self.serverName = serverName
        self.eventStream = eventStream
        self.http2 = http2
        self.tls = tls
    }
}
