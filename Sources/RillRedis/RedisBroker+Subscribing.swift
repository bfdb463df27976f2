import Logging
import RillCore
public import RillPubSub
import RillSSE

/// One channel this process has local interest in.
///
/// ```
///  subscribing ──confirmed──► syncing ──stream read──► live
///       ▲                        │ (live messages held)   │
///       └─── subscriber connection lost ◄─────────────────┘
/// ```
/// `position` is the id of the last event of the channel handled here: every newer event gets
/// delivered, in order, exactly once. It is set when the channel is first synced (the last id
/// Redis had issued, read after SUBSCRIBE was confirmed: the channel's start) and advances with
/// each event. After the subscriber connection comes back, syncing reads the stream after
/// `position` (the catch-up), so nothing published meanwhile is lost.
final class ChannelState {
    enum Phase: Equatable {
        /// `SUBSCRIBE` not yet confirmed (`sent` false: waiting for the subscriber connection).
        case subscribing(sent: Bool)
        /// Confirmed; the start position or the catch-up is being read (`sent` false: waiting
        /// for the command connection). Live messages are held meanwhile.
        case syncing(sent: Bool)
        case live
    }

    let name: String
    let pubsubName: [UInt8]
    /// Its subscriptions on all loops, and on each loop (by index in the broker's fan-out).
    var subscriberCount = 0
    var subscriberCounts: [Int]
    /// Events this process received for it and delivered (``ChannelStatistics/publishedEventCount``).
    var deliveredEventCount = 0
    /// Subscribe calls in progress that include this channel; they receive its events too.
    var joins: [Join] = []
    var position: StreamID?
    var phase = Phase.subscribing(sent: false)
    var held: [(StreamID, EventRecord)] = []
    /// Live events arrived while syncing beyond what may be held (`heldLimit`): not held; read
    /// back from the stream before the channel goes live.
    var heldOverflowed = false
    /// The catch-up after a lost subscriber connection was read (into `held`); the channel
    /// waits for the other channels' catch-ups before it delivers.
    var caughtUp = false
    /// Identifies the current sync request, so that a stale reply is ignored.
    var syncToken = 0

    init(name: String, pubsubName: [UInt8], loopCount: Int) {
        self.name = name
        self.pubsubName = pubsubName
        subscriberCounts = Array(repeating: 0, count: loopCount)
    }

    var isUnused: Bool { subscriberCount == 0 && joins.isEmpty }
}

/// A subscribe call in progress: it waits until its channels are live and, with a
/// `Last-Event-ID`, until its replay was read; meanwhile it collects the channels' events.
final class Join {
    /// The channels named, then (with a `Last-Event-ID` and patterns) those the patterns
    /// matched in the channel index: the replay covers all of them.
    var channels: [String]
    /// The patterns subscribed to; their live events are collected once their `PSUBSCRIBE` is
    /// confirmed.
    let patterns: [ChannelPattern]
    /// Whether the channel index was read for the patterns (`.notNeeded` without patterns or
    /// `Last-Event-ID`).
    var expansion = Expansion.notNeeded
    /// More channels matched than a replay reads (or than the index read could show): the
    /// replay is `.gap`.
    var expansionIsIncomplete = false
    let lastEventID: String?
    /// The loop the subscription will live on (its index in the broker's fan-out).
    let loop: Int
    var buffer: [(StreamID, BrokerEvent)] = []
    var replaySent = false
    /// The replay being read (with a `Last-Event-ID`).
    var reader: ReplayReader?
    var replay: ReplayOutcome?
    var completion: ((Result<Subscription, BrokerError>) -> Void)?
    var timer: ScheduledTimer?

    enum Expansion { case notNeeded, waiting, sent, done }

    init(
        channels: [String], patterns: [ChannelPattern], lastEventID: String?, loop: Int,
        completion: @escaping (Result<Subscription, BrokerError>) -> Void
    ) {
        self.channels = channels
        self.patterns = patterns
        if !patterns.isEmpty && lastEventID != nil { expansion = .waiting }
        self.lastEventID = lastEventID
        self.loop = loop
        self.completion = completion
    }
}

/// What a replay read found for a `Last-Event-ID`.
struct ReplayOutcome {
    var status: ReplayStatus
    /// The events to replay, in id order, with their channels.
    var entries: [(id: StreamID, channel: String, record: EventRecord)]
    /// Per channel (parallel to the join's channels), the newest id the read covered: live
    /// events of the channel up to it are part of the replay (or older than the client's
    /// position); newer ones are not.
    var readThrough: [StreamID]
    /// Per channel, how far its live events must have come before the subscription is made:
    /// `readThrough`, but no further than the newest entry its stream held when read — a quiet
    /// channel whose last event here is older than the client's position has nothing on its
    /// way, and waiting for the position would wait for an event that may never come.
    var waitThrough: [StreamID]
}

/// The reply of the replay script for one channel.
struct ChannelRead {
    /// Redis's clock when it read the channel.
    var nowMilliseconds: UInt64
    /// The highest id removed from the history (nil: nothing, as far as Redis remembers).
    var trimmedThrough: StreamID?
    /// Whether Redis remembers the channel at all (its meta hash outlives the stream).
    var known: Bool
    /// The entry whose wire id is the wanted `Last-Event-ID` (nil: not in this history).
    var found: StreamID?
    /// The entries read, oldest first: at most the limit asked for plus one.
    var entries: [(StreamID, EventRecord)]
    /// The newest entry of the stream when it was read (nil: empty or gone).
    var newest: StreamID?
    /// Where the history Redis holds begins (`<prefix>since`): after a position before it,
    /// events may have been lost with Redis's data (a restart without persistence, a flush).
    var historyStart: StreamID

    init?(_ reply: RedisValue) {
        guard let parts = reply.elements, parts.count == 7, let now = parts[0].integer, case .bulk(let mark) = parts[1],
            let exists = parts[2].integer, case .bulk(let found) = parts[3], let entryReplies = parts[4].elements,
            case .bulk(let newest) = parts[5], case .bulk(let start) = parts[6], let historyStart = StreamID(bytes: start[...])
        else { return nil }
        self.newest = StreamID(bytes: newest[...])
        self.historyStart = historyStart
        nowMilliseconds = UInt64(max(0, now))
        trimmedThrough = StreamID(bytes: mark[...])
        known = exists != 0
        self.found = StreamID(bytes: found[...])
        entries = []
        entries.reserveCapacity(entryReplies.count)
        for entryReply in entryReplies.reversed() {
            guard let entry = entryReply.elements, entry.count == 2, case .bulk(let idBytes) = entry[0], let id = StreamID(bytes: idBytes[...]),
                let fieldList = entry[1].elements, let record = EventRecord(streamFields: fieldList)
            else { continue }  // not written by RedisBroker: skipped
            entries.append((id, record))
        }
    }

    /// Whether events after `position` were lost: trimmed, or expired with the whole stream
    /// (Redis forgot the channel and the position is older than the age bound), or gone with
    /// Redis's data (the position is older than where its history begins).
    func lostEvents(after position: StreamID, historyMaxAgeMilliseconds: UInt64) -> Bool {
        if position < historyStart { return true }
        if let trimmedThrough { return trimmedThrough > position }
        // Forgotten entirely (or never published to): events after a position older than the
        // age bound may have existed and expired; after a recent one they would be known.
        return !known && position.milliseconds + historyMaxAgeMilliseconds <= nowMilliseconds
    }
}

/// A replay being read, in two steps that bound what it reads and holds, whatever the number
/// of channels:
///
/// 1. Every channel is asked, in one small pipelined call each, whether its history holds the
///    event the `Last-Event-ID` names (``ChannelRead/found``), whether events after a position
///    were trimmed or expired there, and for its newest entry.
/// 2. The channels are then read newest first, in batches of at most ``batchCount`` events,
///    always from the channel whose next unread events are the newest (a merge by id), until
///    `limit` events after the position are kept and no unread event is newer than the oldest
///    of them, or nothing after the position is left. So a replay reads about `limit` events
///    plus one batch per channel, and holds at most `limit` plus one batch.
///
/// The id is found when one channel's history holds the event whose wire id it is exactly;
/// ids are one order across channels, so its entry id is the position in every channel. Not
/// found (unknown, trimmed, from another deployment, or a publisher id that merely looks like
/// an entry id): `.gap`, and the newest history is replayed. Found, but an event after it was
/// trimmed, expired, or is beyond the `limit` newest: `.gap` too. Never a silent skip.
struct ReplayReader {
    /// The most events one read of step 2 asks for.
    static let batchCount = 128

    let limit: Int
    let historyMaxAgeMilliseconds: UInt64
    /// Step 1's replies, per channel.
    private(set) var lookups: [ChannelRead?]
    /// The client's position, once step 1 is over (nil: not found).
    private(set) var position: StreamID?
    private(set) var lost = false
    /// The newest events read so far after the position, in id order (at most `limit`).
    private(set) var kept: [(id: StreamID, channel: Int, record: EventRecord)] = []
    /// Per channel, the newest id its reads covered: its live events up to it are part of the
    /// replay, dropped by the limit, or not newer than the position; newer ones are not.
    private(set) var readThrough: [StreamID] = []
    /// Per channel, the newest entry its stream held at any of its reads.
    private var newestHeld: [StreamID] = []
    /// Per channel, an upper bound of its newest unread event after the position (nil: none
    /// left), and where its next read ends (exclusive; nil: at the newest).
    private var unread: [StreamID?] = []
    private var before: [StreamID?] = []

    /// The position a position id named (nil: an event id, looked up in step 1).
    private let givenPosition: StreamID?

    init(channelCount: Int, limit: Int, historyMaxAgeMilliseconds: UInt64, position: StreamID? = nil) {
        self.limit = limit
        self.historyMaxAgeMilliseconds = historyMaxAgeMilliseconds
        givenPosition = position
        lookups = Array(repeating: nil, count: channelCount)
    }

    /// Records channel `index`'s step-1 reply (read with `limit` 0: at most its newest entry
    /// after the found id); true once every channel has replied, so that step 2 can start.
    mutating func looked(_ read: ChannelRead, channel index: Int) -> Bool {
        lookups[index] = read
        guard lookups.allSatisfy({ $0 != nil }) else { return false }
        endLookups()
        return true
    }

    /// Ends step 1 once every channel replied — at once for a replay of no channel (a pattern
    /// that matched none since the client's id): then a position has nothing after it, and
    /// an event id is not found (a gap).
    mutating func endLookups() {
        let reads = lookups.map { $0! }
        position = givenPosition ?? reads.compactMap(\.found).max()
        if let position {
            lost = reads.contains { $0.lostEvents(after: position, historyMaxAgeMilliseconds: historyMaxAgeMilliseconds) }
        } else {
            lost = true
        }
        let floor = position ?? .zero
        readThrough = reads.map { max(floor, $0.entries.last?.0 ?? .zero) }
        newestHeld = reads.map { $0.newest ?? .zero }
        unread = reads.map { read in read.entries.last.flatMap { $0.0 > floor ? $0.0 : nil } }
        before = Array(repeating: nil, count: reads.count)
    }

    /// The next read of step 2: a channel and the id its read ends before (nil: at the
    /// newest); nil when the replay is complete.
    mutating func nextRead() -> (channel: Int, before: StreamID?)? {
        var best: Int?
        for (index, newest) in unread.enumerated() {
            guard let newest else { continue }
            if let current = best, unread[current]! >= newest { continue }
            best = index
        }
        guard let best else { return nil }
        if kept.count >= limit, kept.first.map({ unread[best]! <= $0.id }) ?? true {
            // Everything left is older than what is kept: past the limit.
            lost = true
            return nil
        }
        return (best, before[best])
    }

    /// Adds a step-2 read of `channel` (up to `batchCount + 1` entries before `before`).
    mutating func add(_ read: ChannelRead, channel: Int) {
        let floor = position ?? .zero
        let entries = read.entries.filter { $0.0 > floor }
        if let newest = read.entries.last?.0, newest > readThrough[channel] { readThrough[channel] = newest }
        if let newest = read.newest, newest > newestHeld[channel] { newestHeld[channel] = newest }
        if read.entries.count > Self.batchCount, let oldest = entries.first?.0 {
            unread[channel] = oldest  // more may be left before it
            before[channel] = oldest
        } else {
            unread[channel] = nil
        }
        guard !entries.isEmpty else { return }
        for (id, record) in entries { kept.append((id, channel, record)) }
        kept.sort { $0.id < $1.id }
        if kept.count > limit {
            lost = true
            kept.removeFirst(kept.count - limit)
        }
    }

    /// What to replay, once ``nextRead()`` returned nil.
    func outcome(names: [String]) -> ReplayOutcome {
        ReplayOutcome(
            status: lost ? .gap : .complete, entries: kept.map { ($0.id, names[$0.channel], $0.record) }, readThrough: readThrough,
            waitThrough: zip(readThrough, newestHeld).map { min($0, $1) })
    }
}

extension RedisBroker {
    // MARK: Subscribing

    /// Subscribes; see ``Broker/subscribe(to:matching:lastEventID:)``.
    ///
    /// Cancelling the calling task while the subscription is being set up (its `SUBSCRIBE`,
    /// position read or replay still in flight) abandons it at once: the call throws
    /// `CancellationError`, and the channels nobody else here wants are released (`UNSUBSCRIBE`d
    /// once Redis has confirmed the `SUBSCRIBE`). A subscription that completes after the task
    /// was cancelled is cancelled too, never handed to a caller that has gone.
    public func subscribe(to channels: [String], matching patterns: [ChannelPattern], lastEventID: String?) async throws -> Subscription {
        try Task.checkCancellation()
        // The subscription lives on the caller's loop (a handler's), or on the broker's.
        let loop = fanOut.currentShare()?.index ?? 0
        let request = SubscribeRequest()
        let subscription = try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Subscription, any Error>) in
                onLoop(
                    {
                        guard !request.isCancelled else {
                            continuation.resume(throwing: CancellationError())
                            return
                        }
                        request.join = self.startSubscribing(to: channels, matching: patterns, lastEventID: lastEventID, loop: loop) {
                            result in
                            request.join = nil
                            if request.isCancelled {
                                if case .success(let subscription) = result { subscription.cancel() }
                                continuation.resume(throwing: CancellationError())
                            } else {
                                continuation.resume(with: result)
                            }
                        }
                    }, refused: { continuation.resume(throwing: Self.loopRefused) })
            }
        } onCancel: {
            onLoop(bypassingLimit: true) {
                request.isCancelled = true
                if let join = request.join { self.fail(join, .closed) }  // completes with CancellationError
            }
        }
        // Cancelled while the reply was on its way to this task.
        if Task.isCancelled {
            subscription.cancel()
            throw CancellationError()
        }
        return subscription
    }

    /// A ``subscribe(to:lastEventID:)`` call, for its cancellation handler. Loop-confined.
    private final class SubscribeRequest: @unchecked Sendable {
        var isCancelled = false
        /// The subscription being set up, while it is in flight.
        var join: Join?
    }

    /// Subscribes on the broker's loop thread, for a subscription on that loop; `completion`
    /// runs on the loop, at once when every channel
    /// is already live here and there is no `lastEventID`, else after one to three round trips.
    ///
    /// - Throws (through `completion`): ``BrokerError/backend(_:)`` when a Redis connection is
    ///   down, drops before the subscription is set up, or Redis does not answer within
    ///   ``Configuration/replyTimeout``.
    public func subscribeOnLoop(
        to channelNames: [String], lastEventID: String?, completion: @escaping (Result<Subscription, BrokerError>) -> Void
    ) {
        startSubscribing(to: channelNames, matching: [], lastEventID: lastEventID, loop: 0, completion)
    }

    /// ``subscribeOnLoop(to:lastEventID:completion:)``, returning the subscribe call in flight
    /// (nil when `completion` already ran), which ``fail(_:_:)`` abandons.
    @discardableResult
    private func startSubscribing(
        to channelNames: [String], matching patternList: [ChannelPattern], lastEventID: String?, loop: Int,
        _ completion: @escaping (Result<Subscription, BrokerError>) -> Void
    ) -> Join? {
        eventLoop.preconditionInEventLoop()
        var names: [String] = []
        var seen = Set<String>()
        do {
            for name in channelNames where seen.insert(name).inserted {
                try Self.validate(channel: name)
                names.append(name)
            }
            for pattern in patternList { try Self.validate(pattern: pattern) }
        } catch {
            completion(.failure(error))
            return nil
        }
        guard lifecycle == .running, command.isReady, subscriber.isReady else {
            completion(.failure(unavailable))
            return nil
        }
        var patterns: [ChannelPattern] = []
        for pattern in patternList where !patterns.contains(pattern) { patterns.append(pattern) }
        if !patterns.isEmpty {
            let added = Set(patterns.map { keys.glob(for: $0) }).filter { self.patternStates[$0] == nil }.count
            let limit = configuration.broker.maxPatterns
            if added > 0 && self.patternStates.count + added > limit {
                completion(.failure(.patternLimitReached(limit)))
                return nil
            }
        }
        let states = names.map(channelNamed)
        let patternStates = patterns.map(patternNamed)
        if lastEventID == nil, states.allSatisfy({ $0.phase == .live }), patternStates.allSatisfy({ $0.phase == .live }) {
            completion(.success(makeSubscription(names, patterns: patterns, status: .live, replay: [], on: loop)))
            return nil
        }
        let join = Join(channels: names, patterns: patterns, lastEventID: lastEventID, loop: loop, completion: completion)
        joins[ObjectIdentifier(join)] = join
        for state in states { state.joins.append(join) }
        for state in patternStates { state.joins.append(join) }
        if !patterns.isEmpty { retainPatterns(patterns) }
        join.timer = eventLoop.schedule(after: configuration.replyTimeout) { [weak self, weak join] in
            guard let self, let join else { return }
            self.fail(join, .backend("\(self.configuration.url) did not complete the subscription within \(self.configuration.replyTimeout)"))
        }
        sendReplayIfReady(join)
        return join.completion == nil ? nil : join
    }

    func channelNamed(_ name: String) -> ChannelState {
        if let channel = channels[name] { return channel }
        let channel = ChannelState(name: name, pubsubName: keys.pubsub(name), loopCount: fanOut.shares.count)
        channels[name] = channel
        if subscriber.subscribe([channel.pubsubName]) { channel.phase = .subscribing(sent: true) }
        return channel
    }

    /// Makes a subscription that lives on loop `loop` (its index in the fan-out) and counts it
    /// in its channels. One on the broker's loop joins its lists at once; one on another loop
    /// is sent there, behind the events already queued for it (all older than its start), so
    /// it gets exactly the events delivered after this moment.
    private func makeSubscription(
        _ names: [String], patterns: [ChannelPattern], status: ReplayStatus, replay: [BrokerEvent], on loop: Int
    ) -> Subscription {
        let share = fanOut.shares[loop]
        let subscription = Subscription(
            channels: names, patterns: patterns, replayStatus: status, eventLoop: share.loop,
            bufferLimit: configuration.broker.subscriberBufferCount, policy: configuration.broker.overflowPolicy, replay: replay,
            startPosition: startPosition(of: names, patterns: !patterns.isEmpty), onEnd: subscriptionEnded)
        for name in names {
            guard let channel = channels[name] else { continue }
            channel.subscriberCount += 1
            channel.subscriberCounts[loop] += 1
        }
        if !patterns.isEmpty { countPatternSubscription(patterns, on: loop) }
        subscriptionCount += 1
        if loop == 0 { share.attach(subscription) } else { fanOut.send(.attach(subscription), to: share) }
        return subscription
    }

    /// The position of a new subscription to `names` (all live), as an SSE id: the oldest of
    /// their positions. A live channel delivers every event after its position (its newest
    /// event here, or Redis's last id when it went live), so the subscription receives only
    /// events after this one, in every channel, besides its replay (all of it older). When the
    /// channels' positions differ, a client resuming from it is also given its other channels'
    /// events between the two, published before it subscribed: more than it needs, never less.
    /// A channel that went live before Redis held any event has none (its position is 0-0, which
    /// a replay could not tell from a channel forgotten long ago): nil until its first event.
    ///
    /// Every event received later is newer than the newest the subscriber connection received
    /// (``newestPush``, kept recent by the clock even on a quiet connection), so each channel's
    /// position is at least that. With `patterns` (all live) the position is that newest event,
    /// if it came within half the history's age (a position older than the history's age reads
    /// as a gap on a channel Redis forgot); otherwise (the clock could not tick: Redis
    /// unreachable) nil.
    private func startPosition(of names: [String], patterns: Bool) -> String? {
        let fresh = newestPush.flatMap { push in
            MonotonicClock.nanoseconds() - push.atNanoseconds <= historyMaxAgeMilliseconds / 2 * 1_000_000 ? push.id : nil
        }
        var oldest: StreamID?
        if patterns {
            guard let fresh else { return nil }
            oldest = fresh
        }
        for name in names {
            guard var position = channels[name]?.position, position != .zero else { return nil }
            if let fresh, fresh > position { position = fresh }
            oldest = min(oldest ?? position, position)
        }
        return oldest?.positionID
    }

    /// Both connections were lost within this long of each other: Redis went away (a crash, a
    /// restart), rather than the subscriber connection alone.
    static let togetherNanoseconds: UInt64 = 100_000_000

    /// Whether the subscriber connection's last loss came with the command connection's (see
    /// ``togetherNanoseconds``).
    var subscriberWentDownWithRedis: Bool {
        guard let subscriberLost = subscriberLostAtNanoseconds, let commandLost = commandLostAtNanoseconds else { return false }
        let apart = subscriberLost > commandLost ? subscriberLost - commandLost : commandLost - subscriberLost
        return apart <= Self.togetherNanoseconds
    }

    /// Notes an event the subscriber connection received (see ``newestPush``).
    func received(_ id: StreamID) {
        if id > newestPush?.id ?? .zero { newestPush = (id, MonotonicClock.nanoseconds()) }
    }

    /// A subscription ended (its `onEnd`, ``RedisBroker/subscriptionEnded``), on its loop: it
    /// leaves that loop's lists, and its channels' counts here.
    func unsubscribe(_ subscription: Subscription, error: SubscriptionError?) {
        guard let loop = fanOut.index(of: subscription.eventLoop) else { return }
        let share = fanOut.shares[loop]
        for (position, name) in subscription.channels.enumerated() { _ = share.remove(subscription, from: name, at: position) }
        for (position, pattern) in subscription.patterns.enumerated() {
            _ = share.remove(subscription, from: pattern, at: subscription.channels.count + position)
        }
        let (names, patterns, dropped) = (subscription.channels, subscription.patterns, subscription.dropped)
        // Clean-up: never lost to a full queue (refused only once the broker's loop stopped).
        onLoop(bypassingLimit: true) { self.unsubscribed(from: names, patterns: patterns, on: loop, error: error, dropped: dropped) }
    }

    /// A subscription on loop `loop` to `names` and `patterns` ended. The broker's loop.
    private func unsubscribed(from names: [String], patterns: [ChannelPattern], on loop: Int, error: SubscriptionError?, dropped: Int) {
        if !patterns.isEmpty { uncountPatternSubscription(patterns, on: loop) }
        if error == .slowConsumer { counters.slowConsumerDisconnectCount += 1 }
        counters.droppedEventCount += dropped
        subscriptionCount -= 1
        for name in names {
            guard let channel = channels[name], channel.subscriberCounts[loop] > 0 else { continue }
            channel.subscriberCounts[loop] -= 1
            channel.subscriberCount -= 1
            releaseIfUnused(channel)
        }
    }

    /// Ends every subscription to `channel`, on every loop, with `error`: at once on the
    /// broker's loop, behind what is queued on the others.
    func endSubscriptions(of channel: ChannelState, with error: SubscriptionError) {
        for (loop, count) in channel.subscriberCounts.enumerated() where count > 0 {
            if loop == 0 {
                fanOut.shares[0].endSubscriptions(of: channel.name, with: error)
            } else {
                fanOut.send(.end(channel: channel.name, error: error), to: fanOut.shares[loop])
            }
        }
    }

    /// Forgets a channel nobody here wants any more and `UNSUBSCRIBE`s it. A channel whose
    /// SUBSCRIBE is still unconfirmed waits for the confirmation first, so that a later
    /// SUBSCRIBE of the same name can never be mistaken for it.
    private func releaseIfUnused(_ channel: ChannelState) {
        guard channel.isUnused, channels[channel.name] === channel else { return }
        switch channel.phase {
        case .subscribing(sent: true):
            return
        case .subscribing(sent: false):
            forget(channel)
        case .syncing, .live:
            forget(channel)
            if lifecycle == .running { subscriber.unsubscribe([channel.pubsubName]) }
        }
    }

    /// Removes a channel's state (and its part in a catch-up in progress).
    private func forget(_ channel: ChannelState) {
        channels[channel.name] = nil
        if catchingUp.remove(channel.name) != nil { finishCatchUpIfDone() }
    }

    // MARK: Joins

    /// Starts a join's replay (see ``ReplayReader``) once each of its channels has its start
    /// position or has the read of it in flight on the command connection: the replay then
    /// reads after it, so the channel delivers every event newer than what the replay saw.
    func sendReplayIfReady(_ join: Join) {
        guard let lastEventID = join.lastEventID, !join.replaySent, join.completion != nil else { return }
        guard join.expansion == .notNeeded || join.expansion == .done else {
            expandIfReady(join)
            return
        }
        let ready = join.channels.allSatisfy { name in
            guard let channel = channels[name] else { return false }
            return channel.position != nil || channel.phase == .syncing(sent: true)
        }
        guard ready else { return }
        join.replaySent = true
        // A position id (what a stream opened with) is the position itself: step 1 only checks
        // what each channel lost after it. The greatest entry id has nothing after it that Redis
        // could name (reading after it fails): no position, so an unknown id (a gap).
        let position = StreamID(positionID: lastEventID).flatMap { $0 < StreamID.greatest ? $0 : nil }
        join.reader = ReplayReader(
            channelCount: join.channels.count, limit: replayLimit, historyMaxAgeMilliseconds: historyMaxAgeMilliseconds, position: position)
        if join.channels.isEmpty {
            join.reader!.endLookups()
            readNextChannel(join)
            return
        }
        // Step 1: where the id is, every channel at once (no events read).
        for (index, name) in join.channels.enumerated() {
            let sent = readChannel(name, finding: position == nil ? lastEventID : nil, after: position, limit: 0) { [weak self, weak join] reply in
                guard let self, let join, join.completion != nil, let read = self.replayRead(join, reply) else { return }
                if join.reader!.looked(read, channel: index) { self.readNextChannel(join) }
            }
            guard sent else {
                fail(join, unavailable)
                return
            }
        }
    }

    /// Step 2 of a join's replay: reads its channels in batches, newest first.
    private func readNextChannel(_ join: Join) {
        guard let (index, before) = join.reader!.nextRead() else {
            join.replay = join.reader!.outcome(names: join.channels)
            join.reader = nil
            completeIfReady(join)
            return
        }
        let sent = readChannel(
            join.channels[index], finding: nil, after: join.reader!.position, before: before, limit: ReplayReader.batchCount
        ) { [weak self, weak join] reply in
            guard let self, let join, join.completion != nil, let read = self.replayRead(join, reply) else { return }
            join.reader!.add(read, channel: index)
            self.readNextChannel(join)
        }
        if !sent { fail(join, unavailable) }
    }

    /// A replay reply, or nil after failing the join.
    private func replayRead(_ join: Join, _ reply: RedisValue?) -> ChannelRead? {
        guard let reply else {
            fail(join, unavailable)
            return nil
        }
        guard let read = ChannelRead(reply) else {
            fail(join, .backend("\(configuration.url) could not replay: \(reply.errorMessage ?? "unexpected reply")"))
            return nil
        }
        return read
    }

    /// Hands a join its subscription once its channels are live and its replay was read: the
    /// replay and the live events buffered meanwhile that the replay did not cover, merged in
    /// id order (so a multi-channel subscription never sees an id older than one before it).
    func completeIfReady(_ join: Join) {
        guard let completion = join.completion, join.channels.allSatisfy({ channels[$0]?.phase == .live }),
            join.patterns.allSatisfy({ patternStates[keys.glob(for: $0)]?.phase == .live }),
            join.expansion == .notNeeded || join.expansion == .done
        else { return }
        var merged: [(StreamID, BrokerEvent)] = []
        var status = ReplayStatus.live
        if join.lastEventID != nil {
            guard let replay = join.replay else { return }
            // The replay is read on the command connection and may be ahead of the pub/sub
            // connection: events it covers may still be on their way as live messages. Wait
            // until every channel's live position reached what the replay read, or they would
            // reach the new subscription a second time (each is published to both at once, so
            // they do arrive; the join's timer bounds the wait).
            for (index, name) in join.channels.enumerated() where (channels[name]?.position ?? .zero) < replay.waitThrough[index] {
                return
            }
            status = replay.status
            merged.reserveCapacity(replay.entries.count + join.buffer.count)
            for entry in replay.entries {
                if let event = makeEvent(channel: entry.channel, id: entry.id, record: entry.record) { merged.append((entry.id, event)) }
            }
            for (id, event) in join.buffer {
                // A channel of the replay: only what the replay did not cover. Another (a live
                // event through a pattern): all of it.
                if let index = join.channels.firstIndex(of: event.channel), id <= replay.readThrough[index] { continue }
                merged.append((id, event))
            }
        } else {
            merged = join.buffer
        }
        if join.channels.count > 1 || !join.patterns.isEmpty {
            merged.sort { $0.0 < $1.0 }
            // An event can reach a join through its channel and through a pattern: once.
            var previous: StreamID?
            merged.removeAll { entry in
                defer { previous = entry.0 }
                return entry.0 == previous
            }
        }
        if join.expansionIsIncomplete { status = .gap }
        // Made before the join lets go of its channels and patterns, so that none is released
        // in between.
        let subscription = makeSubscription(join.channels, patterns: join.patterns, status: status, replay: merged.map(\.1), on: join.loop)
        detach(join)
        completion(.success(subscription))
    }

    func fail(_ join: Join, _ error: BrokerError) {
        guard let completion = join.completion else { return }
        detach(join)
        completion(.failure(error))
        for name in join.channels { if let channel = channels[name] { releaseIfUnused(channel) } }
    }

    private func detach(_ join: Join) {
        join.completion = nil
        join.timer?.cancel()
        join.timer = nil
        joins[ObjectIdentifier(join)] = nil
        for name in join.channels { channels[name]?.joins.removeAll { $0 === join } }
        for pattern in join.patterns { patternStates[keys.glob(for: pattern)]?.joins.removeAll { $0 === join } }
        if !join.patterns.isEmpty { releasePatterns(join.patterns) }
    }

    func failAllJoins(_ error: BrokerError) {
        for join in Array(joins.values) { fail(join, error) }
    }

    // MARK: Connection changes

    /// After the subscriber connection came back: SUBSCRIBE every channel again (one command).
    func resubscribe() {
        let pending = channels.values.filter { $0.phase == .subscribing(sent: false) }
        guard subscriber.subscribe([keys.anchor] + pending.map(\.pubsubName)) else { return }
        for channel in pending { channel.phase = .subscribing(sent: true) }
        resubscribePatterns()
    }

    /// The subscriber connection is gone: channels wait to be resubscribed (their held events
    /// will be read again from the stream), subscribe calls in progress fail.
    ///
    /// Every channel that had a position catches up from it once the connection is back, and
    /// none of them delivers anything until all of them have read their catch-up: then the
    /// events they read and held are delivered merged in id order, so that a subscription to
    /// several channels receives the events of the outage in publish order too.
    func subscriptionsLostTheirConnection(_ error: BrokerError) {
        for channel in channels.values {
            channel.phase = .subscribing(sent: false)
            channel.held.removeAll()
            channel.heldOverflowed = false  // the catch-up reads everything after the position
            channel.caughtUp = false
            channel.syncToken &+= 1
        }
        failAllJoins(error)
        patternsLostTheirConnection()
        newestPush = nil
        for (name, channel) in channels where channel.isUnused { channels[name] = nil }
        catchingUp = Set(channels.values.filter { $0.position != nil }.map(\.name))
    }

    /// After the command connection came back: send the syncs that waited for it.
    func resumeSyncs() {
        for channel in Array(channels.values) where channel.phase == .syncing(sent: false) { requestSync(channel) }
    }

    // MARK: Live events and syncing

    func handlePush(_ value: RedisValue) {
        if handlePatternPush(value) { return }
        guard let parts = value.elements, parts.count == 3, case .bulk(let kind) = parts[0], case .bulk(let pubsubName) = parts[1]
        else { return }
        if pubsubName == keys.anchor {
            if kind == Self.messageKind, case .bulk(let payload) = parts[2] {
                clockTicked(payload)
            } else if kind == Self.subscribeKind {
                tickClock()  // the first tick that can reach this connection
            }
            return
        }
        guard let name = keys.channel(fromPubSub: pubsubName), let channel = channels[name] else { return }
        if kind == Self.messageKind, case .bulk(let payload) = parts[2] {
            guard let space = payload.firstIndex(of: UInt8(ascii: " ")), let id = StreamID(bytes: payload[..<space]),
                let record = EventRecord(messageFields: payload[(space + 1)...])
            else {
                logger.warning("skipping a malformed message on \(String(decoding: pubsubName, as: UTF8.self))")
                return
            }
            received(id)
            switch channel.phase {
            case .live: deliver(channel, id: id, record: record)
            case .syncing:
                if channel.held.count < heldLimit { channel.held.append((id, record)) } else { channel.heldOverflowed = true }
            case .subscribing: break  // from an earlier subscription; the next sync reads it again
            }
        } else if kind == Self.subscribeKind, channel.phase == .subscribing(sent: true) {
            if channel.isUnused {
                forget(channel)
                subscriber.unsubscribe([channel.pubsubName])
                return
            }
            channel.phase = .syncing(sent: false)
            requestSync(channel)
        }
    }

    private static let messageKind = bytes("message")
    private static let subscribeKind = bytes("subscribe")

    /// Reads a confirmed channel's start position (`GET <prefix>lastid`) or, when it has one,
    /// catches up after it (the replay script for that channel, bounded by the history).
    private func requestSync(_ channel: ChannelState) {
        guard lifecycle == .running, channel.phase == .syncing(sent: false), channels[channel.name] === channel, command.isReady else { return }
        channel.syncToken &+= 1
        let token = channel.syncToken
        let handler: (RedisValue?) -> Void = { [weak self, weak channel] reply in
            guard let self, let channel else { return }
            self.syncReplied(channel, token: token, reply)
        }
        let sent: Bool
        if let position = channel.position {
            sent = readChannel(channel.name, finding: nil, after: position, limit: catchUpLimit, handler)
        } else {
            sent = command.send([bytes("GET"), keys.lastID], handler)
        }
        guard sent else { return }
        channel.phase = .syncing(sent: true)
        for join in channel.joins { sendReplayIfReady(join) }
    }

    private func syncReplied(_ channel: ChannelState, token: Int, _ reply: RedisValue?) {
        guard channels[channel.name] === channel, channel.syncToken == token, channel.phase == .syncing(sent: true) else { return }
        guard let reply else {
            channel.phase = .syncing(sent: false)  // sent again when the command connection is back
            return
        }
        if let position = channel.position {
            guard var read = ChannelRead(reply) else {
                syncFailed(channel, reply)
                return
            }
            if position < read.historyStart && subscriberWentDownWithRedis {
                // Redis lost its data, but this process received until Redis itself went away
                // (both connections at once), so nothing it delivered is missing but what was on
                // its way at that instant: the streams go on, their history begins anew. Only
                // a subscriber connection that was down while Redis still took publishes
                // (events this process never saw, gone with the data) ends them.
                read.historyStart = .zero
            }
            if read.lostEvents(after: position, historyMaxAgeMilliseconds: historyMaxAgeMilliseconds) || read.entries.count > catchUpLimit {
                historyLost(channel, after: position, read: read)
                return
            }
            // Held until every channel has caught up; then delivered in id order.
            channel.held.insert(contentsOf: read.entries, at: 0)
            channel.caughtUp = true
            if catchingUp.remove(channel.name) != nil {
                finishCatchUpIfDone()
            } else {
                goLive(channel)
            }
            return
        }
        switch reply {
        case .null: channel.position = .zero
        case .bulk(let text):
            guard let id = StreamID(bytes: text[...]) else {
                syncFailed(channel, reply)
                return
            }
            channel.position = id
        default:
            syncFailed(channel, reply)
            return
        }
        goLive(channel)
    }

    /// Delivers what a synced channel held and makes it live.
    private func goLive(_ channel: ChannelState) {
        if channel.caughtUp { channel.held.sort { $0.0 < $1.0 } }  // a catch-up read, then what came meanwhile
        let held = channel.held
        channel.held.removeAll()
        channel.caughtUp = false
        for (id, record) in held { deliver(channel, id: id, record: record) }
        guard channels[channel.name] === channel else { return }  // its last subscriber overflowed
        if channel.heldOverflowed {
            readBackDroppedEvents(channel)
            return
        }
        channel.phase = .live
        for join in channel.joins { completeIfReady(join) }
    }

    /// More live events arrived while the channel synced than it may hold; those not held are in
    /// the stream after the channel's position. Subscriptions it already had (a catch-up after a
    /// lost connection) end with ``SubscriptionError/historyLost`` — delivering the events read
    /// back now could put them behind newer ones of their other channels — and their clients
    /// replay; subscribe calls in progress keep waiting: the channel syncs again (a catch-up
    /// read after its position) before it goes live, and they sort what they collected.
    private func readBackDroppedEvents(_ channel: ChannelState) {
        heldOverflowCount += 1
        channel.heldOverflowed = false
        logger.warning("channel \(channel.name): more than \(heldLimit) events arrived while it synced; reading them back from the stream")
        endSubscriptions(of: channel, with: .historyLost)
        guard channels[channel.name] === channel else { return }
        channel.phase = .syncing(sent: false)
        requestSync(channel)
    }

    /// Once every channel has read its catch-up: their events, merged in id order, then live.
    private func finishCatchUpIfDone() {
        guard catchingUp.isEmpty else { return }
        let ready = channels.values.filter { $0.caughtUp && $0.phase == .syncing(sent: true) }
        guard !ready.isEmpty else { return }
        var merged: [(id: StreamID, channel: ChannelState, record: EventRecord)] = []
        for channel in ready {
            for (id, record) in channel.held { merged.append((id, channel, record)) }
            channel.held.removeAll()
        }
        merged.sort { $0.id < $1.id }
        for entry in merged where channels[entry.channel.name] === entry.channel {
            deliver(entry.channel, id: entry.id, record: entry.record)
        }
        for channel in ready where channels[channel.name] === channel { goLive(channel) }
    }

    /// A catch-up found that events after the channel's position left the history while the
    /// subscriber connection was down (trimmed by count or age): they can never be delivered,
    /// so the channel's subscriptions end with ``SubscriptionError/historyLost``; their clients
    /// reconnect with their last id and are told `gap`. The channel is released with them.
    private func historyLost(_ channel: ChannelState, after position: StreamID, read: ChannelRead) {
        let through = read.trimmedThrough.map { " (through \($0))" } ?? ""
        logger.warning(
            """
            channel \(channel.name): events after \(position) left the history\(through) before the subscriber connection \
            was back; ending its \(channel.subscriberCount) subscriptions so that their clients replay
            """
        )
        for join in channel.joins { fail(join, .backend("\(configuration.url): events of channel \(channel.name) left the history")) }
        endSubscriptions(of: channel, with: .historyLost)
        // Normally released with its last subscription; if anything is left, it starts afresh.
        guard channels[channel.name] === channel else { return }
        channel.held.removeAll()
        channel.position = read.entries.last?.0 ?? position
        channel.caughtUp = true
        if catchingUp.remove(channel.name) != nil { finishCatchUpIfDone() } else { goLive(channel) }
    }

    /// Redis answered a sync with an error: subscribe calls waiting for the channel fail (their
    /// replay may not line up with a later start), and the sync is retried after a while.
    private func syncFailed(_ channel: ChannelState, _ reply: RedisValue) {
        let reason = reply.errorMessage ?? "unexpected reply"
        logger.error("channel \(channel.name): cannot read its position from \(configuration.url): \(reason)")
        channel.phase = .syncing(sent: false)
        for join in channel.joins { fail(join, .backend("\(configuration.url) could not set up the subscription: \(reason)")) }
        eventLoop.schedule(after: configuration.reconnectMaxDelay) { [weak self, weak channel] in
            guard let self, let channel else { return }
            self.requestSync(channel)
        }
    }

    /// Hands one event to the channel's subscribers (and subscribe calls in progress), unless it
    /// is not newer than the channel's position (already delivered: a duplicate).
    private func deliver(_ channel: ChannelState, id: StreamID, record: EventRecord) {
        guard id > channel.position ?? .zero else { return }
        channel.position = id
        guard channel.subscriberCount > 0 || !channel.joins.isEmpty, let event = makeEvent(channel: channel.name, id: id, record: record)
        else { return }
        channel.deliveredEventCount += 1
        // Other loops get it in their inbox (one wakeup per loop per batch); this loop at once.
        if channel.subscriberCount > channel.subscriberCounts[0] {
            var wakeups: [LoopFanOut.Share] = []
            fanOut.lock.withLock { _ in
                for (loop, count) in channel.subscriberCounts.enumerated() where loop > 0 && count > 0 {
                    if fanOut.queue(.event(event, .channelSubscribers), for: fanOut.shares[loop]) { wakeups.append(fanOut.shares[loop]) }
                }
            }
            for share in wakeups { fanOut.scheduleDrain(of: share) }
        }
        if channel.subscriberCounts[0] > 0 { fanOut.shares[0].deliver(event, to: .channelSubscribers) }
        guard !channel.joins.isEmpty else { return }
        var overflowing: [Join] = []
        var replayed: [Join] = []
        for join in channel.joins {
            if join.buffer.count < joinBufferLimit { join.buffer.append((id, event)) } else { overflowing.append(join) }
            if join.replay != nil { replayed.append(join) }
        }
        for join in overflowing {
            fail(join, .backend("more than \(joinBufferLimit) events arrived while the subscription was set up"))
        }
        // A join whose replay was read waits for the live messages to catch up with it.
        if channel.phase == .live { for join in replayed { completeIfReady(join) } }
    }

    /// Builds the delivered event and its bytes, once per event and process.
    func makeEvent(channel: String, id: StreamID, record: EventRecord) -> BrokerEvent? {
        let event = record.serverSentEvent(entryID: id)
        guard let encoded = try? event.encoded() else {
            logger.warning("channel \(channel): skipping event \(id), which cannot be encoded")
            return nil
        }
        sequence += 1
        return BrokerEvent(event: event, channel: channel, sequence: sequence, encoded: encoded, publishedAtNanoseconds: MonotonicClock.nanoseconds())
    }

    /// Runs the replay script for one channel: finding the event whose wire id is
    /// `lastEventID` (nil: reading after `after`, or from the start) and reading at most
    /// `limit + 1` of the newest entries after it and before `before`.
    private func readChannel(
        _ name: String, finding lastEventID: String?, after: StreamID?, before: StreamID? = nil, limit: Int,
        _ handler: @escaping (RedisValue?) -> Void
    ) -> Bool {
        let arguments = [
            keys.stream(name), keys.meta(name), keys.publisherIDs(name), keys.historyStart, keys.lastID, bytes(lastEventID ?? ""),
            bytes(after?.description ?? ""), historyCountBytes, slackBytes, ageBytes, bytes(String(limit)), bytes(before?.description ?? ""),
        ]
        return evaluate(replayScriptSHA, RedisScripts.replay, keyCount: 5, arguments, handler)
    }
}
