public import Prometheus
public import Rill
import RillJWT
import RillRedis

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `POST /publish` answers.
public struct PublishAnswer: Codable, Sendable, Equatable {
    /// The event's id (the publisher's, or the one the broker assigned).
    public var id: String
    /// How many subscribers of this process received it.
    public var subscribers: Int

    /// Creates an answer.
    public init(id: String, subscribers: Int) {
        self.id = id
        self.subscribers = subscribers
    }
}

/// One sample of `GET /stats`, the dashboard's feed.
public struct HubStats: Codable, Sendable, Equatable {
    /// Open client connections (the dashboard's own included).
    public var connections: Int
    /// Open client connections on each event loop (`rill-loop-0`, `rill-loop-1`, …, in that
    /// order); they add up to ``connections``.
    public var connectionsByLoop: [Int]
    /// Open subscriptions, over all channels.
    public var subscribers: Int
    /// Events published since start.
    public var published: Int
    /// Events handed to subscribers since start (one per subscriber per event).
    public var delivered: Int
    /// Deliveries per second since the previous sample of this stream (0 in the first).
    public var deliveriesPerSecond: Double
    /// Channels the broker holds state for (subscribers or history).
    public var channelCount: Int
    /// The busiest channels (most events per second, then most subscribers, then by name)
    /// whose names contain `?search=`, at most `?channels=`; nil when this request may not see
    /// channel names (a hub with credentials shows them only to its publish or metrics token).
    public var channels: [HubChannelStats]?
    /// The median of the server's publish-to-write latency of live events over the last 5–10
    /// seconds (`ServerStatistics.deliveryLatency`), in milliseconds.
    public var latencyP50Milliseconds: Double
    /// Its 99th percentile, in milliseconds.
    public var latencyP99Milliseconds: Double
    /// The writes it measured.
    public var latencyWrites: Int

    /// Creates a sample.
    public init(
        connections: Int, connectionsByLoop: [Int] = [], subscribers: Int, published: Int, delivered: Int, deliveriesPerSecond: Double,
        channelCount: Int = 0, channels: [HubChannelStats]? = nil, latencyP50Milliseconds: Double = 0,
        latencyP99Milliseconds: Double = 0, latencyWrites: Int = 0
    ) {
        self.connections = connections
        self.connectionsByLoop = connectionsByLoop
        self.subscribers = subscribers
        self.published = published
        self.delivered = delivered
        self.deliveriesPerSecond = deliveriesPerSecond
        self.channelCount = channelCount
        self.channels = channels
        self.latencyP50Milliseconds = latencyP50Milliseconds
        self.latencyP99Milliseconds = latencyP99Milliseconds
        self.latencyWrites = latencyWrites
    }
}

/// One row of the dashboard's channel table.
public struct HubChannelStats: Codable, Sendable, Equatable {
    /// The channel's name.
    public var name: String
    /// Its subscribers by name.
    public var subscribers: Int
    /// Events published to it since the hub held it (with Redis: received while subscribed).
    public var published: Int
    /// Events per second since the previous sample of this stream (0 in the first).
    public var eventsPerSecond: Double
    /// Events its history holds; nil with Redis (the history is in Redis).
    public var historyEvents: Int?
    /// Bytes its history holds; nil with Redis.
    public var historyBytes: Int?

    /// Creates a row.
    public init(name: String, subscribers: Int, published: Int, eventsPerSecond: Double, historyEvents: Int? = nil, historyBytes: Int? = nil) {
        self.name = name
        self.subscribers = subscribers
        self.published = published
        self.eventsPerSecond = eventsPerSecond
        self.historyEvents = historyEvents
        self.historyBytes = historyBytes
    }
}

/// The hub: a standalone pub/sub server an operator runs without writing Swift.
///
/// ```swift
/// let app = try Hub.makeApplication(HubOptions(port: 8080, token: "secret"))
/// try await app.run()
/// ```
public enum Hub {
    /// The application with every route of the hub, not yet started.
    ///
    /// - Parameter registry: where the application's metrics go and what `/metrics` serves
    ///   (rill-hub's main bootstraps swift-metrics with the same registry); a fresh one by default.
    /// - Throws: the broker's error (a malformed Redis URL, Redis unreachable) or libuv's.
    public static func makeApplication(
        _ options: HubOptions, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) throws -> Application {
        let router = Router()
        var brokerConfiguration = BrokerConfiguration(historyCount: max(0, options.history))
        brokerConfiguration.presence = PresenceConfiguration(
            refreshInterval: options.presenceRefreshInterval, entryTimeToLive: options.presenceRefreshInterval * 3)
        let broker =
            try options.redis.map { try BrokerFactory.redis(url: $0, broker: brokerConfiguration) }
            ?? .inMemory(brokerConfiguration)
        var configuration = ServerConfiguration(
            host: options.host, port: options.port, maxConnections: options.maxConnections,
            shutdownDrainPeriod: options.drain,
            eventStream: EventStreamConfiguration(
                heartbeatInterval: options.heartbeat, retry: options.retry, maxQueuedBytes: options.maxQueuedBytes))
        if let loops = options.eventLoopCount { configuration.eventLoopCount = loops }
        configuration.socketSendBufferBytes = options.socketSendBufferBytes
        configuration.tls = options.tls
        let app = try Application(
            router: router, configuration: configuration, broker: broker, metricsFactory: HubMetrics.factory(registry: registry))
        if let origins = options.corsOrigins {
            router.add(middleware: Self.corsMiddleware(allowing: origins, privateNetwork: options.corsAllowsPrivateNetwork))
        }
        if let age = options.maxConnectionAge { router.add(middleware: MaxStreamAgeMiddleware(maxAge: age)) }

        router.get("/") { _, _ in
            Response(headerFields: HubDashboard.headerFields, body: .text(HubDashboard.html))
        }
        router.get("/health") { _, _ in
            Response(headerFields: [.contentType: "application/json; charset=utf-8"], body: .text(#"{"status":"ok"}"#))
        }
        // A plain-text liveness probe for load balancers (and `wrk` in `make bench`).
        router.get("/ping") { _, _ in "pong" }
        // The browser client (Clients/js/rill.js): `import { subscribe } from '/rill.js'`.
        try router.browserClient()
        // With a JWT key, a token's claims decide which channels a request may use (403
        // otherwise), a request without a valid token gets 401, and a stream ends at its
        // token's expiry with a `rill-token-expired` event.
        let jwt = options.jwt
        if let jwt { app.authorizeChannels(with: jwt) }
        if let jwt {
            router.get("/stream") { request, context in
                var context = context
                try await jwt.authenticate(request, context: &context)
                var stream = try await context.eventStream(for: request)
                stream.farewell = Self.shutdownFarewell
                return stream
            }
        } else {
            // Synchronous (no `await`): with the in-memory broker the stream subscribes inline on
            // the connection's loop, with no task per connection.
            router.get("/stream") { request, context in
                var stream = try context.eventStream(for: request)
                stream.farewell = Self.shutdownFarewell
                return stream
            }
        }
        // Who is on a channel: authorized like subscribing to it (401/403 with a JWT key).
        router.get("/presence") { request, context in
            var context = context
            if let jwt { try await jwt.authenticate(request, context: &context) }
            guard let channel = request.query["channel"], !channel.isEmpty else {
                throw HTTPError(.badRequest, message: "name the channel: /presence?channel=NAME")
            }
            let limit = try Self.presenceMemberLimit(request)
            return try Self.json(try await app.presence(of: channel, limit: limit, authorizing: (request, context)))
        }
        let token = options.token
        /// Whether `request` carries the static publish token; throws 401 when it carries
        /// neither that nor (with JWTs) a valid token, which then sets the claims in `context`
        /// (verified once: the handler finds the claims the head's check stored).
        @Sendable func authenticatePublisher(_ request: Request, context: inout RequestContext) async throws -> Bool {
            // The static publish token allows every channel; without it, a JWT's claims decide.
            let hasStaticToken = token.map { Self.isAuthorized(request, token: $0) } ?? false
            if !hasStaticToken {
                if let jwt {
                    if context.rillClaims == nil { try await jwt.authenticate(request, context: &context) }
                } else if token != nil {
                    throw HTTPError(
                        .unauthorized, message: "publishing needs 'Authorization: Bearer <token>' or '?token=<token>'",
                        headerFields: [.wwwAuthenticate: #"Bearer realm="rill-hub""#])
                }
            }
            return hasStaticToken
        }
        // A publisher without the right to publish to the channel — anonymous, or with a JWT
        // that does not allow it — is refused before its body is read: it cannot fill the
        // server's budget for bodies in flight (nor, with `Expect: 100-continue`, upload at all).
        let publishing = router.group("/")
        if token != nil || jwt != nil {
            publishing.checkBeforeBody { request, context in
                guard try await !authenticatePublisher(request, context: &context) else { return }
                let channel = try Self.singleParameter("channel", of: request) ?? Application.defaultChannel
                try await context.authorizePublish(to: channel, for: request)
            }
        }
        publishing.post("/publish") { request, context in
            var context = context
            let hasStaticToken = try await authenticatePublisher(request, context: &context)
            try request.refuseContentCoding()  // the event's data is the body as sent
            // `?channel=` (empty) names no channel: 400, not the default channel.
            guard request.query.values(for: "channel").allSatisfy({ !$0.isEmpty }) else {
                throw HTTPError(.badRequest, message: "an empty channel name")
            }
            let channel = try Self.singleParameter("channel", of: request) ?? Application.defaultChannel
            // An event stream is UTF-8 text: other bytes would reach subscribers as U+FFFD.
            guard let data = String(validating: request.body, as: UTF8.self) else {
                throw HTTPError(.badRequest, message: "the event's data is not UTF-8 (an event stream carries UTF-8 text)")
            }
            let event = ServerSentEvent(
                data: data, event: try Self.singleParameter("event", of: request), id: try Self.singleParameter("id", of: request))
            let receipt = try await context.publish(event, channel: channel, authorizing: hasStaticToken ? nil : request)
            return try Self.json(PublishAnswer(id: receipt.id, subscribers: receipt.subscriberCount))
        }
        let metricsToken = options.metricsToken
        let metrics = HubMetrics(registry: registry, maxChannelLabels: options.maxMetricsChannels)
        router.get("/metrics") { request, _ in
            if let metricsToken, !Self.hasBearer(request, token: metricsToken) {
                throw HTTPError(
                    .unauthorized, message: "metrics need 'Authorization: Bearer <metrics token>'",
                    headerFields: [.wwwAuthenticate: #"Bearer realm="rill-hub-metrics""#])
            }
            return Response(
                headerFields: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .bytes(await metrics.exposition(of: app)))
        }
        let sampler = HubStatsSampler(app: app, interval: options.statsInterval)
        let statsStreams = HubStatsStreamLimit(maximum: options.maxStatsStreams) { sampler.forget() }
        let statsInterval = options.statsInterval
        router.get("/stats") { request, context in
            let granted = await Self.statsChannelVisibility(request, options: options)
            let channelLimit = try Self.statsChannelLimit(request)
            let search = Array((request.query["search"] ?? "").lowercased().utf8)
            // `.none`: a hub with credentials, a request without them (totals, no channel names).
            let anonymous = granted == .none
            guard let lease = statsStreams.lease(anonymous: anonymous) else {
                let message =
                    anonymous && statsStreams.count < statsStreams.maximum
                    ? "the hub already serves its maximum of \(statsStreams.anonymousMaximum) /stats streams without credentials"
                        + " (the other places are kept for the publish or metrics token, or a JWT)"
                    : "the hub already serves its maximum of \(statsStreams.maximum) /stats streams"
                throw HTTPError(.serviceUnavailable, message: message, headerFields: [.retryAfter: "10"])
            }
            return EventStream { stream in
                withExtendedLifetime(lease) {}
                var visibility = granted
                while true {
                    let taken = await sampler.sample()
                    var sample = taken.stats
                    if case .allowedBy(let claims) = visibility, claims.expiration <= Date() { visibility = .none }
                    if visibility == .none {
                        sample.channels = nil
                    } else {
                        let all = sample.channels ?? []
                        var rows: [HubChannelStats] = []
                        for index in all.indices {
                            if rows.count == channelLimit { break }
                            if !search.isEmpty && !HubStatsSampler.matches(taken.searchNames[index], search) { continue }
                            let row = all[index]
                            if case .allowedBy(let claims) = visibility, !claims.allows(.subscribe, to: row.name) { continue }
                            rows.append(row)
                        }
                        sample.channels = rows
                    }
                    try await stream.send(ServerSentEvent(data: String(decoding: try Self.encoder.encode(sample), as: UTF8.self)))
                    try await context.eventLoop.sleep(for: statsInterval)
                }
            }
        }
        return app
    }

    /// The hub's CORS: `["*"]` any origin without credentials, else the origins listed, with
    /// credentials (cookies and JWTs); `GET` and `POST`; Private Network Access preflights
    /// answered when `privateNetwork`.
    static func corsMiddleware(allowing origins: [String], privateNetwork: Bool) -> CORSMiddleware {
        origins == ["*"]
            ? CORSMiddleware(allowedOrigins: .any, allowedMethods: [.get, .post], allowsPrivateNetwork: privateNetwork)
            : CORSMiddleware(
                allowedOrigins: .exactly(Set(origins)), allowedMethods: [.get, .post], allowsCredentials: true, allowsPrivateNetwork: privateNetwork)
    }

    /// The channels a `GET /stats` sample lists unless `?channels=` says otherwise.
    public static let defaultStatsChannelLimit = 100
    /// The most channels a `GET /stats` sample lists (`?channels=` above it gets 400).
    public static let maxStatsChannelLimit = 1000

    /// `?channels=` of `GET /stats`: 0 to ``maxStatsChannelLimit``, default ``defaultStatsChannelLimit``.
    static func statsChannelLimit(_ request: Request) throws -> Int {
        try boundedCount(request, parameter: "channels", default: defaultStatsChannelLimit, maximum: maxStatsChannelLimit)
    }

    /// The whole number of query parameter `parameter`, 0 to `maximum` (400 otherwise);
    /// `default` without it.
    static func boundedCount(_ request: Request, parameter: String, default value: Int, maximum: Int) throws -> Int {
        guard let text = request.query[parameter] else { return value }
        guard let count = Int(text), (0...maximum).contains(count) else {
            throw HTTPError(.badRequest, message: "'\(parameter)' must be a whole number from 0 to \(maximum)")
        }
        return count
    }

    /// Which channel names a `GET /stats` stream shows.
    enum ChannelVisibility: Equatable {
        /// Every channel's.
        case all
        /// Those the token's claims allow subscribing to.
        case allowedBy(RillClaims)
        /// None (``HubStats/channels`` is nil).
        case none
    }

    /// Which channel names a `GET /stats` request may see (they can be secrets: a per-user
    /// channel tells who listens): all on a hub with no credentials at all (no `--token`, no
    /// `--metrics-token`, no JWT key: anyone may subscribe to anything there) and to the
    /// publish or the metrics token (bearer or `?token=`); with a JWT key, a valid JWT (bearer,
    /// cookie or `?token=`) sees the channels its `rill.subscribe` claims allow, until it
    /// expires; anyone else none.
    static func statsChannelVisibility(_ request: Request, options: HubOptions) async -> ChannelVisibility {
        let tokens = [options.token, options.metricsToken].compactMap { $0 }
        if tokens.isEmpty && options.jwt == nil { return .all }
        if tokens.contains(where: { isAuthorized(request, token: $0) }) { return .all }
        if let jwt = options.jwt, let claims = try? await jwt.claims(for: request) { return .allowedBy(claims) }
        return .none
    }

    /// The members `GET /presence` lists unless `?limit=` says otherwise.
    public static let defaultPresenceMemberLimit = 100
    /// The most members `GET /presence` lists (`?limit=` above it gets 400).
    public static let maxPresenceMemberLimit = 1000

    /// The last event of every stream the hub ends when it shuts down: `rill-reconnect` (as at
    /// the maximum connection age), which rill.js obeys at once and an `EventSource` after its
    /// `retry:`; no id, so the client's `Last-Event-ID` still names its last real event.
    static let shutdownFarewell = ServerSentEvent(data: #"{"reason":"shutdown"}"#, event: "rill-reconnect")

    /// The query parameter `name` of a publish (nil when absent or empty); 400 when it is given
    /// more than once: one publish names one channel, one type and one id.
    static func singleParameter(_ name: String, of request: Request) throws -> String? {
        let values = request.query.values(for: name)
        guard values.count <= 1 else {
            throw HTTPError(.badRequest, message: "'\(name)' may appear once in a publish; this one names \(values.count)")
        }
        return values.first.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `?limit=` of `GET /presence`: 0 to ``maxPresenceMemberLimit``, default
    /// ``defaultPresenceMemberLimit``.
    static func presenceMemberLimit(_ request: Request) throws -> Int {
        try boundedCount(request, parameter: "limit", default: defaultPresenceMemberLimit, maximum: maxPresenceMemberLimit)
    }

    /// Encodes with sorted keys, so answers read the same every time (`{"id":…,"subscribers":…}`).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// `value` as a JSON response.
    static func json(_ value: some Encodable) throws -> Response {
        Response(headerFields: [.contentType: "application/json; charset=utf-8"], body: .bytes(Array(try encoder.encode(value))))
    }

    /// Whether `request` carries the token as a bearer credential or as `?token=`.
    static func isAuthorized(_ request: Request, token: String) -> Bool {
        if hasBearer(request, token: token) { return true }
        if let query = request.query["token"], constantTimeEqual(Array(query.utf8), Array(token.utf8)) { return true }
        return false
    }

    /// Whether `request` has `Authorization: Bearer <token>`.
    static func hasBearer(_ request: Request, token: String) -> Bool {
        guard let header = request.headerFields[.authorization] else { return false }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        // Spaces after the scheme are one separator however many (RFC 9110 §11.4's 1*SP), as
        // the JWT reader takes them.
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return constantTimeEqual(Array(parts[1].drop { $0 == " " }.utf8), Array(token.utf8))
    }

    /// Compares without stopping at the first difference, so timing does not reveal a prefix.
    static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            difference |= a ^ b
        }
        return difference == 0
    }
}
