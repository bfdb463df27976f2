import Dispatch
public import Logging
public import RillCore
public import RillPubSub
public import RillSSE

/// A ``Broker`` shared by every process that uses the same Redis: live events over Redis
/// pub/sub, history in Redis streams, driven by hiredis on the application's own event loop
/// (no extra thread).
///
/// ```swift
/// let broker = try await RedisBroker.connect(
///     eventLoop: loop, configuration: try .init(url: "redis://127.0.0.1:6379/0"))
/// try await broker.publish(ServerSentEvent(data: "hello"), to: "news")   // every process's subscribers
/// let subscription = try await broker.subscribe(to: ["news"], lastEventID: request.lastEventID)
/// ```
///
/// **Connections.** Two per process, whatever the number of subscribers: one for commands
/// (publishing, replay) and one subscriber connection that `SUBSCRIBE`s to a channel when its
/// first local subscriber arrives and `UNSUBSCRIBE`s when the last one leaves. A live event is
/// received once per process, encoded once, and the same bytes go to every local subscription.
/// Every quarter of the history's age (1 to 60 s) the broker also runs one small script, its
/// clock, so that the start positions it gives stay recent on quiet channels (see
/// ``Subscription/startPosition``).
///
/// **Ids.** An event published without an id gets a stream entry id such as `1700000000000-0`;
/// a publisher's own id is kept (and stored with the event). Entry ids increase across all
/// channels in publish order (see `RedisScripts`), so the entry of an event is a position in
/// the whole history. ``BrokerEvent/sequence`` is this process's delivery counter: it orders the
/// events one subscription receives; a replayed event gets a fresh number.
///
/// **Which event a `Last-Event-ID` names** (the rule ``InMemoryBroker`` follows too): the one
/// whose id on the wire equals it exactly, in the history of one of the subscribed channels.
/// An id shaped like an entry id is looked up at that position first, as a fast path, and
/// counts only when the entry there carries no publisher id (its wire id is that entry id). Any
/// other id — including a publisher's id that merely looks like an entry id, such as `1-0` — is
/// compared with the publisher ids stored in the history. An id that names no event there
/// (unknown, trimmed away, from the future, or merely shaped like an entry id) is never read as
/// a position: the replay status is `.gap` and the newest history is replayed. The one form
/// read as a position is a position id (`~` and an entry id, such as `~1700000000000-3`;
/// publishers may not use it), what an event stream opens with
/// (``Subscription/startPosition``): the replay holds each channel's events after it.
///
/// **Receipts.** ``PublishReceipt/subscriberCount`` is the reply of Redis's `PUBLISH`: the number
/// of subscriber connections (processes) that had a subscriber for the channel, not the number
/// of SSE clients.
///
/// **Replay.** With a `Last-Event-ID`, the subscription starts with the events after it that
/// the history still holds, then continues live, with no gap and no duplicate while publishing
/// goes on: pub/sub first, live events held back, the stream read, then held events newer than
/// what the read saw, all merged in id order. ``ReplayStatus`` has InMemoryBroker's meaning:
/// `.gap` when trimming (by count or age) removed an event after the id, when the id names no
/// event (above), or when more than ``Configuration/maximumReplayEventCount`` events (1,000 by
/// default) follow it — then the newest ones are replayed. The newest trimmed event of a
/// channel still locates a client that had it. A position older than the age bound on a
/// channel Redis has forgotten entirely (no publish for 7 days, or twice the age bound if
/// longer) also counts as a gap: nothing is left to prove otherwise. So does a position from
/// before Redis lost its data (restarted without persistence, flushed, a lagging replica
/// promoted): the first script that finds no `<prefix>since` key records where the history
/// begins anew, and a position before it may have missed events that went with the data. A
/// pattern's replay finds its channels in an index of those published to within the age bound:
/// a position older than that, or than the history's beginning, is a gap too, and a pattern
/// that matched no channel since the position replays nothing (`.complete`). Each channel's history is
/// read with its own bounded calls (an O(1) lookup of the id, then batches of
/// `XREVRANGE … COUNT`, newest first), never one script over every channel, so a replay of many
/// channels neither holds Redis up for other clients nor reads more than it replays.
///
/// **History bounds.** ``BrokerConfiguration/historyCount`` keeps between `count` and
/// `count + min(count / 10, 100)` events per channel (trimmed in batches, exactly back to
/// `count`); ``BrokerConfiguration/historyMaxAge`` removes events at least that old, judged by
/// Redis's clock, on every publish and replay, and a channel's stream expires that long after
/// its last publish (so silent channels leave nothing behind). Buffering and overflow per subscription are InMemoryBroker's (the same
/// ``Subscription``).
///
/// **Failures.** When a connection drops, the broker reconnects with backoff (100 ms doubling
/// to 5 s by default). Open subscriptions stay open: once the subscriber connection is back,
/// each channel catches up from the last event delivered here (read from the stream), and the
/// events of every channel's catch-up are delivered merged in id order before any channel goes
/// live again, so a subscription to several channels never receives an id older than one it
/// already has. When the history lost events of a channel meanwhile (trimmed by count or age
/// during the outage), its subscriptions end with ``SubscriptionError/historyLost`` instead of
/// skipping them silently: their clients reconnect with their last id and are told `.gap`. The
/// same when Redis came back without its data after this process's subscriber connection had
/// been down while Redis still took publishes (events it never saw went with the data). When
/// Redis itself went away (both connections lost within 100 ms: a crash or restart), the
/// process had received everything until then, and its streams go on even if Redis restarted
/// empty; only what was on its way at that instant could be missing.
/// While Redis cannot be reached, `publish` and `subscribe` fail at once with
/// ``BrokerError/backend(_:)``; a command that gets no reply within
/// ``Configuration/replyTimeout`` resets the connection instead of hanging.
///
/// Needs Redis 6.2 or newer; Redis Cluster is not supported (the scripts use several keys).
///
/// **Loops.** The broker's state and both connections live on its first loop; every method may
/// be called from any thread and hops there. Made over several loops (an application's,
/// ``connect(eventLoops:configuration:logger:)``), a subscription lives on the loop it was asked
/// for from, and each event reaches every other loop with subscribers on its channel through one
/// wakeup per batch — still one subscriber connection per process.
///
/// - Important: call ``close()`` or shut the first loop down to release the connections; until
///   then the loop keeps the broker alive, even when nothing else refers to it.
public final class RedisBroker: Broker, @unchecked Sendable {
    /// The loop whose thread runs hiredis and owns the broker's state (the first of
    /// ``eventLoops``).
    public let eventLoop: EventLoop
    /// The loops whose subscriptions the broker feeds: a subscription lives on the loop it was
    /// made on, and each event reaches every other loop through one wakeup per batch.
    public let eventLoops: [EventLoop]
    /// The loops' subscription lists and inboxes.
    let fanOut: LoopFanOut
    /// Where Redis is, bounds and timings.
    public let configuration: Configuration

    let logger: Logger
    let keys: RedisKeys
    let command: RedisConnection
    let subscriber: RedisConnection
    let historyCountBytes: [UInt8]
    let slackBytes: [UInt8]
    let ageBytes: [UInt8]
    /// How long a channel's meta hash (what its history lost) lives after its last publish or
    /// mark: twice the history's age, and at least ``minimumMetaLifetimeMilliseconds``, so that
    /// a client back after a long quiet period on a quiet channel is told `complete` rather than
    /// a false gap. The server's presence-notice channels, which anyone who may subscribe can
    /// name, keep theirs twice the age only: a client back later on one is told `gap` (a channel
    /// Redis forgot, after a position older than the age), which costs it one presence read.
    private let metaLifetimeBytes: [UInt8]
    private let serverChannelMetaLifetimeBytes: [UInt8]
    /// 7 days.
    static let minimumMetaLifetimeMilliseconds: Int64 = 604_800_000

    /// The meta hash lifetime for `channel` (see ``metaLifetimeBytes``).
    func metaLifetime(of channel: String) -> [UInt8] {
        channel.utf8.starts(with: ChannelPattern.serverChannelPrefix.utf8) ? serverChannelMetaLifetimeBytes : metaLifetimeBytes
    }
    let historyMaxAgeMilliseconds: UInt64

    private var publishSHA: [UInt8] = []
    var replayScriptSHA: [UInt8] = []
    var channelsSinceSHA: [UInt8] = []
    var presenceWriteSHA: [UInt8] = []
    private var markLostSHA: [UInt8] = []
    var lifecycle = Lifecycle.starting
    private var startupCompletion: ((Result<Void, BrokerError>) -> Void)?
    private var commandDelay: Duration
    private var subscriberDelay: Duration
    private var commandRetry: ScheduledTimer?
    /// The clock's next tick (RedisBroker+Clock.swift).
    var clockTimer: ScheduledTimer?
    private var subscriberRetry: ScheduledTimer?
    private var lastFailure = "not connected yet"

    // Subscribing state (RedisBroker+Subscribing.swift).
    var channels: [String: ChannelState] = [:]
    var joins: [ObjectIdentifier: Join] = [:]
    /// Channels whose catch-up after a lost subscriber connection is not read yet.
    var catchingUp = Set<String>()
    // Pattern state (RedisBroker+Patterns.swift).
    /// The globs `PSUBSCRIBE`d (or to be), by glob.
    var patternStates: [[UInt8]: PatternState] = [:]
    /// The patterns subscriptions and subscribe calls here use, to filter what a glob lets
    /// through (Redis's `*` crosses `/`).
    let localPatterns = ChannelPatternIndex<PatternUse>()
    /// Per loop, its subscriptions with at least one pattern.
    var patternSubscriberCounts: [Int]
    /// The newest event handed to pattern subscribers: every glob that matches an event gets
    /// its own copy from Redis, one right after the other, in id order.
    var lastPatternEventID = StreamID.zero
    /// The newest event the subscriber connection received since it last connected, and when
    /// (monotonic ns): every event received later is newer, whatever its channel, so it is the
    /// start position of a subscription with patterns (see `startPosition(of:patterns:)`).
    var newestPush: (id: StreamID, atNanoseconds: UInt64)?
    /// When each connection was last lost (monotonic ns; the first failure, not the retries):
    /// both within ``togetherNanoseconds`` means Redis itself went away, not only the
    /// subscriber connection (see `subscriberWentDownWithRedis`).
    var subscriberLostAtNanoseconds: UInt64?
    var commandLostAtNanoseconds: UInt64?
    /// The most events one replay delivers (``Configuration/maximumReplayEventCount``).
    let replayLimit: Int
    /// The most events a catch-up reads: the most the history holds (count + slack).
    let catchUpLimit: Int
    /// The most live events a channel holds while it syncs (``Configuration/maxHeldEventsPerChannel``).
    let heldLimit: Int
    /// The most events a subscribe call in progress collects: what one sync can deliver (a
    /// catch-up read and the held events) plus a live buffer's worth.
    var joinBufferLimit: Int { catchUpLimit + heldLimit + configuration.broker.subscriberBufferCount }
    /// Times a syncing channel received more live events than it may hold, and read them back.
    package internal(set) var heldOverflowCount = 0
    var sequence: UInt64 = 0
    var counters = BrokerStatistics()
    var subscriptionCount = 0
    /// What every subscription calls when it ends: one closure for all of them, rather than a
    /// context allocated per subscription.
    lazy var subscriptionEnded: (Subscription, SubscriptionError?) -> Void = { [weak self] subscription, error in
        self?.unsubscribe(subscription, error: error)
    }

    enum Lifecycle { case starting, running, closed }

    private init(eventLoops: [EventLoop], configuration: Configuration, logger: Logger) {
        let eventLoop = eventLoops[0]
        self.eventLoop = eventLoop
        self.eventLoops = eventLoops
        fanOut = LoopFanOut(
            loops: eventLoops, maxPendingEvents: configuration.broker.maxPendingCrossLoopEvents,
            maxPendingBytes: configuration.broker.maxPendingCrossLoopBytes)
        patternSubscriberCounts = Array(repeating: 0, count: eventLoops.count)
        self.configuration = configuration
        self.logger = logger
        keys = RedisKeys(prefix: configuration.keyPrefix, database: configuration.database)
        let count = configuration.broker.historyCount
        historyCountBytes = Array(String(count).utf8)
        slackBytes = Array(String(min(count / 10, 100)).utf8)
        replayLimit = max(configuration.maximumReplayEventCount, 0)
        catchUpLimit = count + min(count / 10, 100)
        heldLimit = max(configuration.maxHeldEventsPerChannel ?? catchUpLimit, 0)
        // At least 1 ms (PEXPIRE needs it); at most ten years, which is "forever" here.
        let age = min(max(Int64(clamping: configuration.broker.historyMaxAge.wholeMilliseconds), 1), 315_360_000_000)
        historyMaxAgeMilliseconds = UInt64(age)
        ageBytes = Array(String(age).utf8)
        serverChannelMetaLifetimeBytes = Array(String(2 * age).utf8)
        metaLifetimeBytes = Array(String(max(2 * age, Self.minimumMetaLifetimeMilliseconds)).utf8)
        commandDelay = configuration.reconnectInitialDelay
        subscriberDelay = configuration.reconnectInitialDelay
        command = RedisConnection(
            eventLoop: eventLoop, host: configuration.host, port: configuration.port,
            connectTimeout: configuration.connectTimeout, replyTimeout: configuration.replyTimeout)
        subscriber = RedisConnection(
            eventLoop: eventLoop, host: configuration.host, port: configuration.port,
            connectTimeout: configuration.connectTimeout, replyTimeout: configuration.replyTimeout)
    }

    // MARK: Starting

    /// Connects both connections and returns the broker once Redis has answered on each.
    ///
    /// - Throws: ``BrokerError/backend(_:)`` — `cannot connect to redis://host:port/db: <reason>`
    ///   — when Redis refuses, does not answer within ``Configuration/connectTimeout`` (2 s by
    ///   default), or rejects the login. Startup does not retry: a wrong address fails fast.
    public static func connect(
        eventLoop: EventLoop, configuration: Configuration, logger: Logger = Logger(label: "rill.redis")
    ) async throws -> RedisBroker {
        try await connect(eventLoops: [eventLoop], configuration: configuration, logger: logger)
    }

    /// ``connect(eventLoop:configuration:logger:)`` for a broker that feeds subscriptions on
    /// several loops (an application's); the first runs the connections.
    public static func connect(
        eventLoops: [EventLoop], configuration: Configuration, logger: Logger = Logger(label: "rill.redis")
    ) async throws -> RedisBroker {
        precondition(!eventLoops.isEmpty, "a broker needs at least one event loop")
        let broker = RedisBroker(eventLoops: eventLoops, configuration: configuration, logger: logger)
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            broker.onLoop({ broker.start { continuation.resume(with: $0) } }, refused: { continuation.resume(throwing: loopRefused) })
        }
        return broker
    }

    /// ``connect(eventLoop:configuration:logger:)`` for synchronous callers, such as a
    /// `BrokerFactory` closure: blocks the calling thread (never the loop) until the broker is
    /// connected or has failed.
    ///
    /// ```swift
    /// let app = try Application(router: router, broker: .spanningLoops { loops in
    ///     try RedisBroker.connectBlocking(eventLoops: loops, configuration: .init(url: "redis://127.0.0.1:6379"))
    /// })
    /// ```
    ///
    /// - Important: must not be called on `eventLoop`'s thread, which has to run the connection.
    public static func connectBlocking(
        eventLoop: EventLoop, configuration: Configuration, logger: Logger = Logger(label: "rill.redis")
    ) throws -> RedisBroker {
        try connectBlocking(eventLoops: [eventLoop], configuration: configuration, logger: logger)
    }

    /// ``connectBlocking(eventLoop:configuration:logger:)`` for a broker that feeds
    /// subscriptions on several loops (an application's); the first runs the connections.
    public static func connectBlocking(
        eventLoops: [EventLoop], configuration: Configuration, logger: Logger = Logger(label: "rill.redis")
    ) throws -> RedisBroker {
        precondition(!eventLoops.isEmpty, "a broker needs at least one event loop")
        let eventLoop = eventLoops[0]
        precondition(!eventLoop.inEventLoop, "connectBlocking would block the loop that has to connect; use connect")
        let broker = RedisBroker(eventLoops: eventLoops, configuration: configuration, logger: logger)
        let outcome = BlockingOutcome()
        let queued = eventLoop.execute {
            broker.start { result in
                outcome.result = result
                outcome.done.signal()
            }
        }
        guard queued else { throw loopRefused }
        outcome.done.wait()
        try outcome.result!.get()
        return broker
    }

    private final class BlockingOutcome: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Void, BrokerError>?  // written before `done` is signalled
    }

    private func start(_ completion: @escaping (Result<Void, BrokerError>) -> Void) {
        startupCompletion = completion
        // Strong on purpose: a broker dropped without close() keeps its connections until the
        // loop shuts down, and is closed then, instead of leaking them.
        eventLoop.onShutdown { self.closeOnLoop() }
        var login: [[[UInt8]]] = []
        if let password = configuration.password {
            login.append(["AUTH"].map(bytes) + (configuration.username.map { [bytes($0)] } ?? []) + [bytes(password)])
        }
        var commandHandshake = login
        if configuration.database != 0 { commandHandshake.append(["SELECT", String(configuration.database)].map(bytes)) }
        commandHandshake.append(["CLIENT", "SETNAME", "rill-command"].map(bytes))
        commandHandshake.append(["SCRIPT", "LOAD", RedisScripts.publish].map(bytes))
        commandHandshake.append(["SCRIPT", "LOAD", RedisScripts.replay].map(bytes))
        commandHandshake.append(["SCRIPT", "LOAD", RedisScripts.channelsSince].map(bytes))
        commandHandshake.append(["SCRIPT", "LOAD", RedisScripts.presenceWrite].map(bytes))
        commandHandshake.append(["SCRIPT", "LOAD", RedisScripts.markLost].map(bytes))
        command.handshake = commandHandshake
        subscriber.handshake = login + [["CLIENT", "SETNAME", "rill-subscriber"].map(bytes)]

        command.onReady = { [unowned self] replies in self.commandReady(replies) }
        command.onDown = { [unowned self] reason in self.commandLost(reason) }
        subscriber.onReady = { [unowned self] _ in self.subscriberReady() }
        subscriber.onDown = { [unowned self] reason in self.subscriberLost(reason) }
        subscriber.onPush = { [unowned self] value in self.handlePush(value) }
        command.connect()
        subscriber.connect()
    }

    private func finishStartup(_ result: Result<Void, BrokerError>) {
        guard let completion = startupCompletion else { return }
        startupCompletion = nil
        switch result {
        case .success:
            lifecycle = .running
            logger.debug("connected to \(configuration.url)")
            tickClock()
        case .failure:
            closeOnLoop()
        }
        completion(result)
    }

    // MARK: Connection events

    private func commandReady(_ replies: [RedisValue]) {
        guard replies.count >= 5, case .bulk(let publish) = replies[replies.count - 5], case .bulk(let replay) = replies[replies.count - 4],
            case .bulk(let channelsSince) = replies[replies.count - 3], case .bulk(let presenceWrite) = replies[replies.count - 2],
            case .bulk(let markLost) = replies[replies.count - 1]
        else {
            command.reset(reason: "unexpected reply to SCRIPT LOAD")
            return
        }
        publishSHA = publish
        replayScriptSHA = replay
        channelsSinceSHA = channelsSince
        presenceWriteSHA = presenceWrite
        markLostSHA = markLost
        commandDelay = configuration.reconnectInitialDelay
        checkEvictionPolicy()
        switch lifecycle {
        case .starting:
            if subscriber.isReady { finishStartup(.success(())) }
        case .running:
            logger.info("command connection to \(configuration.url) is back")
            resumeSyncs()
        case .closed:
            break
        }
    }

    /// Warns when Redis may evict the broker's keys: every key the broker writes has a time to
    /// live, so any `maxmemory-policy` but `noeviction` may drop a channel's history and its
    /// record of what it had, and a client resuming there cannot be told it missed events.
    /// Redis answering nothing (`CONFIG` renamed or refused, as managed services do) is only a
    /// debug note: the operator must then check the policy.
    private func checkEvictionPolicy() {
        _ = command.send([Array("CONFIG".utf8), Array("GET".utf8), Array("maxmemory-policy".utf8)]) { [weak self] reply in
            guard let self else { return }
            guard case .array(let values) = reply, values.count == 2, case .bulk(let policy) = values[1] else {
                self.logger.debug("could not read Redis's maxmemory-policy (CONFIG GET refused?): make sure it is noeviction")
                return
            }
            let name = String(decoding: policy, as: UTF8.self)
            guard name != "noeviction" else { return }
            self.logger.warning(
                "Redis at \(self.configuration.url) may evict the broker's keys (maxmemory-policy \(name)): a client resuming on an evicted channel cannot be told it missed events; set maxmemory-policy noeviction"
            )
        }
    }

    private func commandLost(_ reason: String) {
        lastFailure = reason
        switch lifecycle {
        case .starting:
            finishStartup(.failure(.backend("cannot connect to \(configuration.url): \(reason)")))
        case .running:
            // A lost connection is a warning; each failed attempt to get it back, a debug note.
            if commandDelay == configuration.reconnectInitialDelay {
                commandLostAtNanoseconds = MonotonicClock.nanoseconds()
                logger.warning("command connection to \(configuration.url) lost: \(reason)")
            } else {
                logger.debug("command connection to \(configuration.url): reconnecting failed: \(reason)")
            }
            failAllJoins(.backend("lost the connection to \(configuration.url): \(reason)"))
            commandRetry = scheduleReconnect(command, delay: &commandDelay)
        case .closed:
            break
        }
    }

    private func subscriberReady() {
        subscriberDelay = configuration.reconnectInitialDelay
        switch lifecycle {
        case .starting:
            subscriber.subscribe([keys.anchor])
            if command.isReady { finishStartup(.success(())) }
        case .running:
            logger.info("subscriber connection to \(configuration.url) is back; resubscribing \(channels.count) channels")
            resubscribe()  // the anchor's confirmation starts the clock again (RedisBroker+Clock.swift)
        case .closed:
            break
        }
    }

    private func subscriberLost(_ reason: String) {
        lastFailure = reason
        switch lifecycle {
        case .starting:
            finishStartup(.failure(.backend("cannot connect to \(configuration.url): \(reason)")))
        case .running:
            if subscriberDelay == configuration.reconnectInitialDelay {
                subscriberLostAtNanoseconds = MonotonicClock.nanoseconds()
                logger.warning("subscriber connection to \(configuration.url) lost: \(reason)")
            } else {
                logger.debug("subscriber connection to \(configuration.url): reconnecting failed: \(reason)")
            }
            subscriptionsLostTheirConnection(.backend("lost the connection to \(configuration.url): \(reason)"))
            subscriberRetry = scheduleReconnect(subscriber, delay: &subscriberDelay)
        case .closed:
            break
        }
    }

    private func scheduleReconnect(_ connection: RedisConnection, delay: inout Duration) -> ScheduledTimer {
        let wait = delay
        delay = min(delay * 2, configuration.reconnectMaxDelay)
        return eventLoop.schedule(after: wait) { [weak self, weak connection] in
            guard let self, let connection, self.lifecycle == .running, connection.state == .idle else { return }
            connection.connect()
        }
    }

    /// The error for an operation that needs Redis while a connection is down.
    var unavailable: BrokerError {
        lifecycle == .closed ? .closed : .backend("\(configuration.url) is unavailable (reconnecting): \(lastFailure)")
    }

    // MARK: Publishing

    @discardableResult
    public func publish(_ event: ServerSentEvent, to channel: String) async throws -> PublishReceipt {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<PublishReceipt, any Error>) in
            onLoop(
                { self.publishOnLoop(event, to: channel) { continuation.resume(with: $0) } },
                refused: { continuation.resume(throwing: Self.loopRefused) })
        }
    }

    /// Publishes from any thread without waiting; an error is reported to `onError` (called on
    /// the loop).
    public func post(_ event: ServerSentEvent, to channel: String, onError: (@Sendable (any Error) -> Void)? = nil) {
        onLoop(
            {
                self.publishOnLoop(event, to: channel) { result in
                    if case .failure(let error) = result { onError?(error) }
                }
            }, refused: { onError?(Self.loopRefused) })
    }

    /// Publishes on the loop thread: one `EVALSHA` that appends the event to the channel's
    /// stream, trims the history and `PUBLISH`es it, atomically. `completion` runs on the loop
    /// with the receipt once Redis has answered.
    public func publishOnLoop(
        _ event: ServerSentEvent, to channel: String, completion: @escaping (Result<PublishReceipt, BrokerError>) -> Void
    ) {
        eventLoop.preconditionInEventLoop()
        do {
            try Self.validate(channel: channel)
            try Self.validate(publisherID: event.id)
            _ = try event.encoded()  // the id Redis assigns is always valid, so this is the check
        } catch let error as BrokerError {
            completion(.failure(error))
            return
        } catch {
            completion(.failure(.invalidEvent(String(describing: error))))
            return
        }
        guard lifecycle == .running, command.isReady else {
            completion(.failure(unavailable))
            return
        }
        let record = EventRecord(event)
        let arguments: [[UInt8]] =
            [
                keys.stream(channel), keys.meta(channel), keys.lastID, keys.publisherIDs(channel), keys.channelIndex,
                keys.historyStart, keys.pubsub(channel), historyCountBytes, slackBytes, ageBytes, record.messageFields,
                metaLifetime(of: channel),
            ]
            + record.streamArguments
        let sent = evaluate(publishSHA, RedisScripts.publish, keyCount: 6, arguments) { [weak self] reply in
            guard let self else { return }
            guard let reply else {
                completion(
                    .failure(
                        self.lifecycle == .closed
                            ? .closed : .backend("lost the connection to \(self.configuration.url) before it confirmed the publish")))
                return
            }
            guard let elements = reply.elements, elements.count == 2, let id = elements[0].text, let receivers = elements[1].integer else {
                completion(.failure(.backend("\(self.configuration.url) refused the publish: \(reply.errorMessage ?? "unexpected reply")")))
                return
            }
            self.counters.publishedEventCount += 1
            completion(.success(PublishReceipt(id: event.id ?? id, subscriberCount: Int(receivers))))
        }
        if !sent { completion(.failure(unavailable)) }
    }

    /// Marks `channels` as having lost events after every position handed out so far, with one
    /// `EVALSHA markLost` per ``maxChannelsPerLossMark`` channels (see ``RedisScripts/markLost``);
    /// from any thread, without waiting. Nothing happens while Redis is unreachable: a client
    /// that resumes then is told what the history holds.
    public func markEventsLost(in channels: [String], includingUnpublished: Bool) {
        guard !channels.isEmpty else { return }
        onLoop({ [self] in
            guard lifecycle == .running, command.isReady else { return }
            let include = bytes(includingUnpublished ? "1" : "0")
            // One script per lifetime (in practice all are presence-notice channels).
            for (lifetime, named) in Dictionary(grouping: channels, by: { metaLifetime(of: $0) }) {
                for first in stride(from: 0, to: named.count, by: Self.maxChannelsPerLossMark) {
                    let batch = named[first..<min(first + Self.maxChannelsPerLossMark, named.count)]
                    let metaKeys = [keys.lastID, keys.historyStart] + batch.map { keys.meta($0) }
                    _ = evaluate(markLostSHA, RedisScripts.markLost, keyCount: metaKeys.count, metaKeys + [lifetime, include]) { _ in }
                }
            }
        })
    }

    /// The most channels one `markLost` script marks (it runs atomically: Redis serves nothing
    /// else meanwhile).
    static let maxChannelsPerLossMark = 500

    /// Runs a script by its SHA; if Redis lost its script cache (`NOSCRIPT`, after a restart or
    /// `SCRIPT FLUSH`), sends the script itself once, which also caches it again.
    func evaluate(
        _ sha: [UInt8], _ script: String, keyCount: Int, _ arguments: [[UInt8]], _ handler: @escaping (RedisValue?) -> Void
    ) -> Bool {
        let tail = [bytes(String(keyCount))] + arguments
        return command.send([bytes("EVALSHA"), sha] + tail) { [weak self] reply in
            guard let self, let message = reply?.errorMessage, message.hasPrefix("NOSCRIPT") else {
                handler(reply)
                return
            }
            if !self.command.send([bytes("EVAL"), bytes(script)] + tail, handler) { handler(nil) }
        }
    }

    // MARK: Statistics, closing

    public func statistics() async -> BrokerStatistics { await statistics(includingChannels: true) }

    public func statistics(includingChannels: Bool) async -> BrokerStatistics {
        var statistics = await withUnsafeContinuation { continuation in
            onLoop(
                { continuation.resume(returning: self.statisticsOnLoop(includingChannels: includingChannels)) },
                refused: { continuation.resume(returning: BrokerStatistics()) })
        }
        // What each loop delivered, and what its open subscriptions dropped (only `dropOldest`
        // drops from open subscriptions: otherwise no walk over the lists).
        let drops = configuration.broker.overflowPolicy == .dropOldest
        for share in fanOut.shares {
            let (delivered, dropped) = await share.onLoop { (share.deliveredCount, drops ? share.droppedByLiveSubscriptions : 0) } ?? (0, 0)
            statistics.deliveredEventCount += delivered
            statistics.droppedEventCount += dropped
        }
        return statistics
    }

    public func channelStatistics() async -> [ChannelStatistics] {
        await withUnsafeContinuation { continuation in
            onLoop(
                {
                    continuation.resume(
                        returning: self.channels.values.map {
                            ChannelStatistics(name: $0.name, subscriberCount: $0.subscriberCount, publishedEventCount: $0.deliveredEventCount)
                        })
                }, refused: { continuation.resume(returning: []) })
        }
    }

    private func statisticsOnLoop(includingChannels: Bool) -> BrokerStatistics {
        var statistics = counters
        statistics.subscriptionCount = subscriptionCount
        for (name, channel) in channels where channel.subscriberCount > 0 {
            statistics.subscribedChannelCount += 1
            if includingChannels { statistics.subscribersPerChannel[name] = channel.subscriberCount }
        }
        return statistics
    }

    /// Ends every subscription with ``SubscriptionError/brokerClosed``, fails what is in flight
    /// with ``BrokerError/closed`` and closes both connections. Idempotent. Shutting the event
    /// loop down closes the broker too.
    public func close() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            onLoop(
                bypassingLimit: true,
                {
                    self.closeOnLoop()
                    continuation.resume()
                }, refused: { continuation.resume() })
        }
    }

    func closeOnLoop() {
        guard lifecycle != .closed else { return }
        let starting = lifecycle == .starting
        lifecycle = .closed
        if starting, let completion = startupCompletion {
            startupCompletion = nil
            completion(.failure(.closed))
        }
        failAllJoins(.closed)
        for channel in Array(channels.values) { endSubscriptions(of: channel, with: .brokerClosed) }
        channels.removeAll()
        commandRetry?.cancel()
        subscriberRetry?.cancel()
        clockTimer?.cancel()
        command.close()
        subscriber.close()
    }

    // MARK: Helpers

    /// Runs `body` on the loop: inline when already there. When the loop refuses it (shut down,
    /// or its cross-thread queue full), `refused` runs instead, on the calling thread, so that
    /// no caller waits forever for a closure that will never run.
    ///
    /// - Parameter bypassingLimit: clean-up (a cancellation) that must not be lost to a full
    ///   queue; refused only after shutdown.
    func onLoop(bypassingLimit: Bool = false, _ body: @escaping @Sendable () -> Void, refused: () -> Void = {}) {
        if eventLoop.inEventLoop {
            body()
        } else if !(bypassingLimit ? eventLoop.executeBypassingLimit(body) : eventLoop.execute(body)) {
            refused()
        }
    }

    /// What a caller is told when the loop refused its work.
    static let loopRefused = BrokerError.backend("the event loop refused the work (shut down or overloaded)")

    /// Sends any command on the command connection (tests and diagnostics: `PUBSUB NUMSUB`,
    /// `CLIENT KILL`, …).
    package func runCommand(_ arguments: [String]) async throws -> RedisValue {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<RedisValue, any Error>) in
            onLoop(
                {
                    let sent =
                        self.lifecycle == .running
                        && self.command.send(arguments.map(bytes)) { reply in
                            if let reply { continuation.resume(returning: reply) } else { continuation.resume(throwing: self.unavailable) }
                        }
                    if !sent { continuation.resume(throwing: self.unavailable) }
                }, refused: { continuation.resume(throwing: Self.loopRefused) })
        }
    }

    /// The channels this process holds state for (and has `SUBSCRIBE`d or is subscribing to),
    /// with or without subscribers: tests check that none is left behind.
    package func channelNames() async -> Set<String> {
        await withUnsafeContinuation { continuation in
            onLoop({ continuation.resume(returning: Set(self.channels.keys)) }, refused: { continuation.resume(returning: []) })
        }
    }

    /// Whether each connection is up right now.
    package func connectionStatus() async -> (command: Bool, subscriber: Bool) {
        await withUnsafeContinuation { continuation in
            onLoop(
                { continuation.resume(returning: (self.command.isReady, self.subscriber.isReady)) },
                refused: { continuation.resume(returning: (false, false)) })
        }
    }
}

/// A string's UTF-8 bytes, as command arguments.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
