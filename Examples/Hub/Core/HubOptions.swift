public import Rill
public import RillJWT

/// Everything `rill-hub` can be told on its command line, as plain values (no ArgumentParser
/// here, so that tests build a hub without parsing arguments).
public struct HubOptions: Sendable {
    /// The address to bind.
    public var host: String
    /// The port; 0 picks a free one.
    public var port: Int
    /// How many event loops (threads) serve connections; nil (the default) leaves
    /// `ServerConfiguration.eventLoopCount` at its default, one per CPU the process may run on.
    public var eventLoopCount: Int?
    /// Share events and history through Redis (`redis://host:port/db`) instead of memory.
    public var redis: String?
    /// Events kept per channel for `Last-Event-ID` replay.
    public var history: Int
    /// A heartbeat comment after this much silence on a stream; `.zero` disables them.
    public var heartbeat: Duration
    /// The most open client connections (503 beyond).
    public var maxConnections: Int
    /// The most bytes queued for one slow SSE client before it is disconnected.
    public var maxQueuedBytes: Int
    /// The kernel send buffer of each client socket in bytes (`SO_SNDBUF`); nil keeps the
    /// kernel's autotuning (see `ServerConfiguration.socketSendBufferBytes`).
    public var socketSendBufferBytes: Int?
    /// The browser origins allowed to call the hub cross-origin, with credentials (`["*"]` for
    /// any, without credentials); nil sends no CORS headers.
    public var corsOrigins: [String]?
    /// Whether the CORS middleware answers Private Network Access preflights: public pages may
    /// then call a hub on a private address or localhost (Chromium asks first).
    public var corsAllowsPrivateNetwork: Bool
    /// When set, `POST /publish` requires `Authorization: Bearer <token>` or `?token=<token>`.
    public var token: String?
    /// How often `GET /stats` sends a sample.
    public var statsInterval: Duration
    /// The most `GET /stats` streams (dashboards) open at once; beyond, 503 with `Retry-After`.
    /// Default 64. On a hub with credentials, streams without them may hold at most half of
    /// these places (rounded down), so that anonymous clients cannot lock the operator out.
    public var maxStatsStreams: Int
    /// How many channels `GET /metrics` names, those with the most subscribers; 0 (the default)
    /// names none, only totals: channel names can be secrets, and each is a time series.
    public var maxMetricsChannels: Int
    /// When set, `GET /metrics` requires `Authorization: Bearer <metricsToken>` (401 without);
    /// nil (the default) serves metrics to anyone who can reach the port.
    public var metricsToken: String?
    /// Serve HTTPS with this certificate chain and key (PEM files); nil serves plain HTTP.
    public var tls: TLSConfiguration?
    /// When set, subscribing and publishing require a JWT whose `rill` claim allows the
    /// channel (`--jwt-secret`, `--jwt-key`); `token` keeps working for publishers.
    public var jwt: JWTAuthorizer?
    /// The `retry:` hint each stream starts with, spread ±25 % per stream; nil sends none.
    public var retry: Duration?
    /// When set, each stream ends after about this long (±10 %) with `event: rill-reconnect`,
    /// and its client resumes with `Last-Event-ID` (rebalances streams after scaling out).
    public var maxConnectionAge: Duration?
    /// On SIGTERM (or `shutdown()`), the event streams end spread evenly over this window.
    public var drain: Duration
    /// With Redis, how often each hub rewrites its changed presence entries and renews the
    /// rest; a hub that dies without a goodbye drops out of `/presence` three intervals after its
    /// last refresh.
    public var presenceRefreshInterval: Duration

    /// Creates options; the defaults are the command line's.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, eventLoopCount: Int? = nil, redis: String? = nil, history: Int = 1000,
        heartbeat: Duration = .seconds(15), maxConnections: Int = 19_000, maxQueuedBytes: Int = 256 * 1024,
        corsOrigins: [String]? = nil, token: String? = nil, statsInterval: Duration = .seconds(1), maxMetricsChannels: Int = 0,
        metricsToken: String? = nil, tls: TLSConfiguration? = nil, jwt: JWTAuthorizer? = nil, retry: Duration? = .seconds(3),
        maxConnectionAge: Duration? = nil, drain: Duration = .seconds(10),
        presenceRefreshInterval: Duration = PresenceConfiguration.defaultRefreshInterval, maxStatsStreams: Int = 64,
        socketSendBufferBytes: Int? = nil, corsAllowsPrivateNetwork: Bool = false
    ) {
        self.maxStatsStreams = maxStatsStreams
        self.socketSendBufferBytes = socketSendBufferBytes
        self.host = host
        self.port = port
        self.eventLoopCount = eventLoopCount
        self.redis = redis
        self.history = history
        self.heartbeat = heartbeat
        self.maxConnections = maxConnections
        self.maxQueuedBytes = maxQueuedBytes
        self.corsOrigins = corsOrigins
        self.corsAllowsPrivateNetwork = corsAllowsPrivateNetwork
        self.token = token
        self.statsInterval = statsInterval
        self.maxMetricsChannels = maxMetricsChannels
        self.metricsToken = metricsToken
        self.tls = tls
        self.jwt = jwt
        self.retry = retry
        self.maxConnectionAge = maxConnectionAge
        self.drain = drain
        self.presenceRefreshInterval = presenceRefreshInterval
    }
}
