// rill-hub — a standalone publish/subscribe hub over Server-Sent Events that an operator runs
// without writing Swift (like nchan or Mercure): any backend publishes with a plain HTTP POST,
// browsers and other clients subscribe with an EventSource.
//
// What it shows: `context.eventStream` with `?channel=` and `Last-Event-ID` replay, raw-body
// publishing with `context.publish` (400 for an invalid event name, id or channel), a bearer token,
// a CORS middleware with preflight, the framework's swift-metrics served by swift-prometheus
// (connections in total and per event loop, requests, events), an SSE stream the server
// generates itself (`/stats`) and a live dashboard page drawn on a canvas — on the in-memory
// broker, or Redis with `--redis`. `--loops N` sets the event loop threads (default: one per CPU
// the process may run on, so `taskset -c 0` gives one); connections stay on the loop that
// accepted them, and a publish reaches the subscribers of every loop.
//
//   swift run -c release rill-hub --port 8080 --token s3cret     # prints: listening on http://127.0.0.1:8080
//   curl -N 'localhost:8080/stream?channel=news&channel=alerts'     # terminal 1: listen to two channels
//   curl -X POST 'localhost:8080/publish?channel=news&event=headline' \
//        -H 'Authorization: Bearer s3cret' --data-binary $'line one\nline two'   # → {"id":"1","subscribers":1}
//   curl -X POST 'localhost:8080/publish?channel=news&id=custom-7&token=s3cret' -d 'with my own id'
//   curl -i -X POST 'localhost:8080/publish?channel=news' -d 'no token'            # 401
//   curl -N 'localhost:8080/stream?channel=news' -H 'Last-Event-ID: 1'             # replay after id 1
//   curl localhost:8080/health                                                      # {"status":"ok"}
//   curl localhost:8080/ping                                                        # pong (text/plain)
//   curl localhost:8080/metrics                                                     # Prometheus text (totals; see --metrics-channels, --metrics-token)
//   curl -N localhost:8080/stats                                                    # one JSON sample a second
//   open http://localhost:8080/ for the live dashboard
//   swift run -c release rill-hub --port 8081 --redis redis://127.0.0.1:6379/0 --cors-origin https://app.example.com
//   swift run -c release rill-hub --loops 2       # two event loop threads (default: one per CPU it may run on)
//   curl -s localhost:8080/metrics | grep loop_connections     # rill_loop_connections{loop="0"} … per loop
//   swift run -c release rill-hub --tls-cert cert.pem --tls-key key.pem   # HTTPS; kill -HUP reloads the files
//   curl -k -N "https://localhost:8080/stream?channel=news"
//   swift run -c release rill-hub --jwt-secret "$SECRET" --token s3cret   # subscribing needs a JWT (HS256)
//   curl -N 'localhost:8080/stream?channel=chat/lobby' -H "Authorization: Bearer $JWT"   # 401 without, 403 off its claims
//   swift run -c release rill-hub --jwt-key public.pem      # RS256/ES256 public key, or a JWKS file (jwks.json)
import ArgumentParser
import HubCore
import Metrics
import Prometheus
import Rill
import RillJWT

#if canImport(Glibc)
    import Glibc
#endif

@main
struct RillHub: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rill-hub", abstract: "A standalone publish/subscribe hub over Server-Sent Events.")

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Option(
        help:
            "Event loops (threads) serving connections, each with its own SO_REUSEPORT listener (default: one per CPU the process may run on; taskset limits it)."
    ) var loops: Int?
    @Option(help: "Share events and history through Redis (redis://host:port/db) instead of memory.") var redis: String?
    @Option(help: "Events kept per channel for Last-Event-ID replay.") var history = 1000
    @Option(help: "Seconds of silence before a stream gets a heartbeat comment (0 disables).") var heartbeat = 15.0
    @Option(help: "The most open client connections (503 beyond).") var maxConnections = 19_000
    @Option(
        help: """
            The most bytes queued for one slow SSE client before it is disconnected (over HTTP/2 \
            the streams of one connection also share 1 MiB: beyond, those holding the most are reset).
            """)
    var maxQueuedBytes = 256 * 1024
    @Option(
        help: """
            The kernel send buffer of each client socket in bytes (SO_SNDBUF, doubled by the kernel; \
            default: the kernel's autotuning, up to tcp_wmem's maximum).
            """)
    var socketSendBuffer: Int?
    @Option(
        help: """
            A browser origin (scheme://host[:port]) whose pages may call the hub, with credentials; repeat for more, \
            or '*' for any origin, without credentials.
            """)
    var corsOrigin: [String] = []
    @Flag(
        help: """
            With --cors-origin: answer Private Network Access preflights, so that public pages may call a hub on a \
            private address or localhost.
            """)
    var corsPrivateNetwork = false
    @Option(help: "Require 'Authorization: Bearer TOKEN' (or ?token=TOKEN) to publish.") var token: String?
    @Option(help: "Name this many channels, those with the most subscribers, in /metrics (0: totals only).") var metricsChannels = 0
    @Option(help: "Require 'Authorization: Bearer TOKEN' for /metrics.") var metricsToken: String?
    @Option(help: "Serve HTTPS with this PEM certificate chain (with --tls-key; SIGHUP reloads both).") var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "Require a JWT signed with this HS256 secret (≥ 32 bytes) to subscribe and publish (--token still publishes).")
    var jwtSecret: String?
    @Option(help: "Require a JWT verified by this key file to subscribe and publish: a PEM public key (RS256, ES256) or a JWKS.")
    var jwtKey: String?
    @Option(help: "The cookie that carries the JWT (for EventSource with withCredentials).") var jwtCookie = JWTAuthorizer.defaultCookieName
    @Option(help: "Seconds a token is still accepted past its exp (clock skew).") var jwtLeeway = 0.0
    @Option(help: "The retry: hint in milliseconds each stream starts with, spread ±25 % per stream (0 sends none).") var retryMs = 3000
    @Option(help: "End each stream after about this many seconds (±10 %) with event: rill-reconnect (0: never).")
    var maxConnectionAge = 0.0
    @Option(help: "On SIGTERM, end the streams spread evenly over this many seconds (0: all at once).") var drainSeconds = 10.0
    @Option(help: "With --redis, seconds between presence refreshes; a dead hub's entries expire after three.")
    var presenceRefreshSeconds = 5.0
    @Option(help: "The most /stats streams (open dashboards) at once (503 beyond); with credentials set, at most half of them without credentials.")
    var maxStatsStreams = 64

    /// The most any option in seconds may be (a year): beyond, its milliseconds would not fit
    /// the timers' 64-bit counts (an exit with an error, not a trap).
    static let maximumSeconds = 31_536_000.0
    /// The largest `--max-queued-bytes`: 1 GiB per client is already more than any use of it.
    static let maximumQueuedBytes = 1 << 30

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        if let loops { guard loops >= 1 else { throw ValidationError("--loops must be ≥ 1 (got \(loops))") } }
        guard history >= 0 else { throw ValidationError("--history must be ≥ 0") }
        guard (0...Self.maximumSeconds).contains(heartbeat) else { throw ValidationError("--heartbeat must be 0…\(Self.maximumSeconds)") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be ≥ 1") }
        if let socketSendBuffer, !(1...Self.maximumQueuedBytes).contains(socketSendBuffer) {
            throw ValidationError("--socket-send-buffer must be 1…\(Self.maximumQueuedBytes)")
        }
        guard (1...Self.maximumQueuedBytes).contains(maxQueuedBytes) else {
            throw ValidationError("--max-queued-bytes must be 1…\(Self.maximumQueuedBytes)")
        }
        if let token, token.isEmpty { throw ValidationError("--token must not be empty") }
        if corsOrigin.contains("*") {
            guard corsOrigin.count == 1 else { throw ValidationError("--cors-origin '*' allows any origin: list no other") }
        } else if let bad = corsOrigin.first(where: { !CORSMiddleware.isOrigin($0) }) {
            throw ValidationError("--cors-origin \(bad) is no origin: scheme://host[:port] in lowercase, with no path or trailing slash")
        }
        if corsPrivateNetwork && corsOrigin.isEmpty { throw ValidationError("--cors-private-network needs --cors-origin") }
        guard metricsChannels >= 0 else { throw ValidationError("--metrics-channels must be ≥ 0") }
        if let metricsToken, metricsToken.isEmpty { throw ValidationError("--metrics-token must not be empty") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        if let jwtSecret, jwtSecret.utf8.count < JWTKeySource.minimumSecretBytes {
            throw ValidationError("--jwt-secret needs at least \(JWTKeySource.minimumSecretBytes) bytes (HS256, RFC 7518)")
        }
        guard (0...Self.maximumSeconds).contains(jwtLeeway) else { throw ValidationError("--jwt-leeway must be 0…\(Self.maximumSeconds)") }
        guard !jwtCookie.isEmpty else { throw ValidationError("--jwt-cookie must not be empty") }
        guard (0...Int(Self.maximumSeconds) * 1000).contains(retryMs) else {
            throw ValidationError("--retry-ms must be 0…\(Int(Self.maximumSeconds) * 1000)")
        }
        guard maxConnectionAge == 0 || (0.001...Self.maximumSeconds).contains(maxConnectionAge) else {
            throw ValidationError("--max-connection-age must be 0 (never) or 0.001…\(Self.maximumSeconds)")
        }
        guard (0...Self.maximumSeconds).contains(drainSeconds) else { throw ValidationError("--drain-seconds must be 0…\(Self.maximumSeconds)") }
        guard maxStatsStreams >= 1 else { throw ValidationError("--max-stats-streams must be ≥ 1") }
        guard (0.1...Self.maximumSeconds).contains(presenceRefreshSeconds) else {
            throw ValidationError("--presence-refresh-seconds must be 0.1…\(Self.maximumSeconds)")
        }
    }

    func run() async throws {
        var keys: [JWTKeySource] = []
        if let jwtSecret { keys.append(.hmac(secret: jwtSecret)) }
        if let jwtKey { keys.append(try .file(atPath: jwtKey)) }
        let jwt =
            keys.isEmpty
            ? nil
            : try await JWTAuthorizer(keys: keys, cookieName: jwtCookie, leeway: .milliseconds(Int64((jwtLeeway * 1000).rounded())))
        let options = HubOptions(
            host: host, port: port, eventLoopCount: loops, redis: redis, history: history,
            heartbeat: .milliseconds(Int64((heartbeat * 1000).rounded())),
            maxConnections: maxConnections, maxQueuedBytes: maxQueuedBytes, corsOrigins: corsOrigin.isEmpty ? nil : corsOrigin, token: token,
            maxMetricsChannels: metricsChannels, metricsToken: metricsToken,
            tls: tlsCert.map { TLSConfiguration(certificateChainPath: $0, privateKeyPath: tlsKey ?? "") }, jwt: jwt,
            retry: retryMs == 0 ? nil : .milliseconds(retryMs),
            maxConnectionAge: maxConnectionAge == 0 ? nil : .milliseconds(Int64((maxConnectionAge * 1000).rounded())),
            drain: .milliseconds(Int64((drainSeconds * 1000).rounded())),
            presenceRefreshInterval: .milliseconds(Int64((presenceRefreshSeconds * 1000).rounded())), maxStatsStreams: maxStatsStreams,
            socketSendBufferBytes: socketSendBuffer, corsAllowsPrivateNetwork: corsPrivateNetwork)
        // swift-metrics reports to the registry /metrics serves: the framework's metrics, and
        // any library's the hub links.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(HubMetrics.factory(registry: registry))
        let app = try Hub.makeApplication(options, registry: registry)
        let address = try await app.start()
        print("listening on \(tlsCert == nil ? "http" : "https")://\(address)")
        fflush(nil)  // stdout may be a pipe: make the line visible now
        // The hub is a service among (possibly) others: SIGTERM or SIGINT shut it down gracefully.
        try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger).run()
    }
}
