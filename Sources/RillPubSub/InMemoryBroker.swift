internal import DequeModule
public import RillCore
public import RillSSE

#if canImport(Glibc)
    import Glibc
#endif

/// The embedded broker: channels, bounded history and fan-out in this process, over one or
/// several event loops, with no lock on the path from a publish to each subscriber.
///
/// ```swift
/// let broker = InMemoryBroker(eventLoop: app.eventLoop)
/// try await broker.publish(ServerSentEvent(data: "hello"), to: "news")
/// broker.post(ServerSentEvent(data: "from any thread"), to: "news")    // never blocks
/// ```
///
/// Loops: a subscription lives on the loop it was made on (a handler's), and each loop delivers
/// to its own subscribers. A publish — on any of the broker's loops or any other thread — takes
/// the broker's one lock for what the process shares (the id order, the history, which loops
/// subscribe to what), delivers at once to the subscribers on the publisher's own loop, and
/// queues the event for every other loop that has subscribers on the channel: **one** wakeup
/// per loop per batch of events, however many subscribers each loop has. So ids are monotonic
/// across loops, every loop sees the events of a channel in id order, and a `Last-Event-ID`
/// replay is the same whichever loop the client lands on. A loop that falls more than
/// ``BrokerConfiguration/maxPendingCrossLoopEvents`` events behind (a handler blocking it) ends
/// the subscriptions whose events it could not queue as slow consumers: their clients
/// reconnect and replay the rest from the history.
///
/// Ids: when the publisher gives none, the broker assigns its sequence number, increasing by
/// one across all channels from ``BrokerConfiguration/firstSequenceNumber`` (by default the
/// clock at start in microseconds, `"1764864000000000"`, so that ids keep increasing across
/// restarts). A `Last-Event-ID` identifies the event whose id equals it
/// exactly, in the history of the channels subscribed to; that event is the client's position
/// in every one of them. An id that parses as a number is looked up by sequence number first
/// (a fast path), but counts only if the event there carries exactly that id: a publisher's
/// own numeric id (`"5"` on the event with sequence 10) is never read as a sequence number.
/// An id the broker assigned stays the client's position after its event left the history
/// (ids are one order), so a replay never repeats what the client had and is a gap only if
/// events after it were lost — unless a publisher has used ids that read as this broker's
/// sequence numbers (by default, numbers from the clock in microseconds): then, and for any
/// other id, an id the history does not hold gives ``ReplayStatus/gap``, with what the
/// history holds.
/// A position id (``Subscription/startPosition``, `~` and a sequence number: what an event
/// stream opens with) is the client's position in every channel as it stands; one beyond the
/// broker's sequence, or before its first event (from an earlier process), is a gap, and so is
/// any id the history does not hold: what an earlier process published is gone.
///
/// Memory: each channel keeps ``BrokerConfiguration/historyCount`` events for at most
/// ``BrokerConfiguration/historyMaxAge``; all channels together keep at most
/// ``BrokerConfiguration/maxHistoryBytes`` (the oldest events of the least recently published
/// channels go first, the server's own presence-notice channels before publishers' channels)
/// in at most ``BrokerConfiguration/maxChannels`` channels with history. Whatever leaves
/// the history is remembered as a gap, so a client replaying from it is told `gap`, never
/// silently given less. A channel with no subscribers and no history is forgotten; if it comes
/// back, it starts from what the broker forgot (a replay across the forgotten part is a gap).
/// Each event is stored once (its framed wire bytes) and shared by the history and every
/// subscriber on every loop. A replay is read from the history as the subscriber drains, not
/// copied.
public final class InMemoryBroker: Broker, @unchecked Sendable {
    /// The first of ``eventLoops``: it ages out history, and subscriptions made from threads
    /// that are none of the broker's loops live on it.
    public let eventLoop: EventLoop
    /// The loops whose handlers subscribe and publish (a server's loops).
    public let eventLoops: [EventLoop]
    /// History, buffer and overflow settings.
    public let configuration: BrokerConfiguration

    /// A channel's shared state: its history and which loops subscribe to it. Under ``lock``.
    final class Channel {
        let name: String
        /// Subscriptions to the channel on all loops.
        var subscriberCount = 0
        /// Per loop (by index in ``InMemoryBroker/eventLoops``), its subscriptions to the
        /// channel: the loops a publish must reach. Empty when the broker has one loop.
        var subscriberCountsByLoop: [Int]
        var history = Deque<BrokerEvent>()
        /// Events published to it while the broker held it.
        var publishedEventCount = 0
        /// What ``history`` counts toward the broker's history budget.
        var historyBytes = 0
        /// The highest sequence number that left the history (by count, age or budget), or that
        /// the broker had forgotten when the channel was made: a client whose last event is
        /// older than this missed something.
        var trimmedThrough: UInt64
        /// Neighbours in the broker's list of channels with history, least recently published
        /// first. `unowned(unsafe)`: the previous channel holds this one through `next`.
        unowned(unsafe) var previous: Channel?
        var next: Channel?
        var isListed = false
        /// One of the server's own channels (presence notices, `rill-presence/…`): listed apart
        /// and the first to lose its history, so that notices clients cause cannot push
        /// publishers' events out.
        let isServerChannel: Bool

        init(name: String, trimmedThrough: UInt64, loopCount: Int) {
            self.name = name
            self.trimmedThrough = trimmedThrough
            isServerChannel = name.utf8.starts(with: ChannelPattern.serverChannelPrefix.utf8)
            subscriberCountsByLoop = loopCount > 1 ? Array(repeating: 0, count: loopCount) : []
        }

        /// The index of the first history event with a sequence number above `sequence`.
        func firstIndex(after sequence: UInt64) -> Int {
            var low = history.startIndex
            var high = history.endIndex
            while low < high {
                let middle = low + (high - low) / 2
                if history[middle].sequence <= sequence { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// A pattern's subscriptions on all loops, and per loop (as ``Channel``'s). Under ``lock``.
    final class PatternEntry {
        var subscriberCount = 0
        var subscriberCountsByLoop: [Int]

        init(loopCount: Int) { subscriberCountsByLoop = loopCount > 1 ? Array(repeating: 0, count: loopCount) : [] }
    }

    /// The loops' subscribers and inboxes.
    let fanOut: LoopFanOut
    /// Guards what the loops share: the channels and their history, the sequence, the counters
    /// below, and every loop's inbox (the fan-out's lock: events are queued in id order). Never
    /// held while a subscriber is handed an event.
    var lock: SanitizerVisibleMutex<Void> { _read { yield fanOut.lock } }
    var channels: [String: Channel] = [:]
    /// Channels with history, least recently published first (evicted in that order): index 0
    /// the publishers' channels, 1 the server's own (``Channel/isServerChannel``), evicted first.
    var oldestChannels: [Channel?] = [nil, nil]
    var newestChannels: [Channel?] = [nil, nil]
    /// How many channels each list holds: the channels with history, which
    /// ``BrokerConfiguration/maxChannels`` bounds.
    var listedChannelCounts = [0, 0]
    /// Publishers' channels with history that have subscribers (which cannot be forgotten).
    var busyListedChannelCount = 0
    /// What all histories count toward ``BrokerConfiguration/maxHistoryBytes``.
    var historyBytes = 0
    /// The highest sequence number dropped from a channel that was forgotten since (what a
    /// pattern's replay, which cannot name its channels, must assume any of them lost).
    var forgottenThrough: UInt64 = 0
    /// Forgotten channels that had lost events, by name: what each had dropped, so that a
    /// channel made again starts from its own loss, not from every other channel's (a quiet
    /// channel, which never lost anything, must not report a gap because others aged out).
    /// At most ``BrokerConfiguration/maxChannels`` names, oldest out first into
    /// ``forgottenOverflowThrough``.
    var forgottenChannels: [String: UInt64] = [:]
    var forgottenOrder = Deque<(name: String, through: UInt64)>()
    /// The highest loss of a forgotten channel whose name was let go: a channel not among
    /// ``forgottenChannels`` may have been it.
    var forgottenOverflowThrough: UInt64 = 0
    /// The highest sequence number whose dropping left its channel's history empty: such a
    /// channel is no longer among those with history, where a pattern's replay looks.
    var emptiedThrough: UInt64 = 0
    /// The patterns subscribed to, on any loop, found by channel name.
    let patternEntries = ChannelPatternIndex<PatternEntry>()
    /// The sequence number of the last event published (``startSequence``: none yet).
    var sequence: UInt64 = 0
    /// The sequence number before this broker's first event: everything up to it (an earlier
    /// process's events) counts as forgotten, so a replay from there is a gap.
    let startSequence: UInt64
    /// Whether a publisher has given an event an id that reads as a sequence number after
    /// ``startSequence`` (now or later): from then on an id no event in the history carries is
    /// never taken for a position (``formerPosition(of:in:matched:)``), since it may have been
    /// that publisher's.
    var publisherIDsReadAsSequences = false
    var counters = BrokerStatistics()
    private var subscriptionCount = 0
    /// Channels with at least one subscriber (so that a full broker knows at once whether any
    /// channel could be forgotten).
    var busyChannelCount = 0
    /// Set when the first loop shuts down: publishing and subscribing fail from then on.
    private var isClosed = false
    let historyMaxAgeMilliseconds: UInt64

    /// Each loop's subscribers and the events queued for it, by loop index.
    var shares: [LoopFanOut.Share] { fanOut.shares }
    /// What every subscription calls when it ends: one closure for all of them, rather than a
    /// context allocated per subscription (every byte of an idle stream counts). Set once, at
    /// the end of `init` (not lazily: loops subscribe concurrently).
    private var subscriptionEnded: (Subscription, SubscriptionError?) -> Void = { _, _ in }

    /// Creates a broker on `eventLoop`.
    public convenience init(eventLoop: EventLoop, configuration: BrokerConfiguration = .init()) {
        self.init(eventLoops: [eventLoop], configuration: configuration)
    }

    /// Creates a broker whose subscribers live on `eventLoops` (at least one).
    public init(eventLoops: [EventLoop], configuration: BrokerConfiguration = .init()) {
        precondition(!eventLoops.isEmpty, "a broker needs at least one event loop")
        self.eventLoop = eventLoops[0]
        self.eventLoops = eventLoops
        self.configuration = configuration
        historyMaxAgeMilliseconds = configuration.historyMaxAge.wholeMilliseconds
        startSequence = max(configuration.firstSequenceNumber ?? Self.clockMicroseconds(), 1) - 1
        sequence = startSequence
        forgottenThrough = startSequence
        forgottenOverflowThrough = startSequence
        emptiedThrough = startSequence
        fanOut = LoopFanOut(
            loops: eventLoops, maxPendingEvents: configuration.maxPendingCrossLoopEvents,
            maxPendingBytes: configuration.maxPendingCrossLoopBytes)
        subscriptionEnded = { [weak self] subscription, error in self?.unsubscribe(subscription, error: error) }
        eventLoop.executeBypassingLimit { [weak self] in
            guard let self else { return }
            self.scheduleSweep()
            self.eventLoop.onShutdown { [weak self] in self?.lock.withLock { _ in self?.isClosed = true } }
        }
        // A loop that stops ends its subscriptions: nothing would ever deliver to them again.
        for share in shares {
            share.loop.executeBypassingLimit { share.loop.onShutdown { share.endAll(with: .brokerClosed) } }
        }
    }

    /// Microseconds since 1970 (UTC), from the system's real-time clock: the default first
    /// sequence number.
    static func clockMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(max(now.tv_sec, 0)) * 1_000_000 + UInt64(max(now.tv_nsec, 0)) / 1000
    }

    /// The share of the loop whose thread is calling; nil on any other thread.
    func currentShare() -> LoopFanOut.Share? { fanOut.currentShare() }

    /// Whether the calling thread is one of ``eventLoops`` (where ``subscribeOnLoop(to:matching:lastEventID:)``
    /// and the other `…OnLoop` calls may be made).
    public var isOnOneOfItsLoops: Bool { currentShare() != nil }

    // MARK: Publishing

    /// Publishes at once, from any thread (see ``publishOnLoop(_:to:)``).
    @discardableResult
    public func publish(_ event: ServerSentEvent, to channel: String) async throws -> PublishReceipt {
        try publishOnLoop(event, to: channel)
    }

    /// Publishes from any thread without waiting: a queue consumer, a database listener, a
    /// timer. An invalid event is dropped and reported to `onError`, on the calling thread.
    public func post(_ event: ServerSentEvent, to channel: String, onError: (@Sendable (any Error) -> Void)? = nil) {
        do { try publishOnLoop(event, to: channel) } catch { onError?(error) }
    }

    /// What a caller is told once the broker's first loop shut down, or when it refused the
    /// work: never a wait for a closure that will not run.
    static let loopRefused = BrokerError.backend("the event loop refused the work (shut down or overloaded)")

    /// Publishes synchronously, on one of the broker's loops or any other thread. Fan-out: the
    /// event is encoded once and the same bytes go to every subscriber — on the calling loop
    /// before this returns, on the other loops when they next run (one wakeup per loop per
    /// batch). The receipt counts the subscribers on the calling loop that took the event and
    /// those registered on the other loops.
    @discardableResult
    public func publishOnLoop(_ event: ServerSentEvent, to channelName: String) throws -> PublishReceipt {
        try Self.validate(channel: channelName)
        try Self.validate(publisherID: event.id)
        let here = currentShare()
        let publishedAt = MonotonicClock.nanoseconds()
        let now = here?.loop.nowMilliseconds ?? publishedAt / 1_000_000
        var event = event
        // Encoded outside the lock: an event that takes the sequence number as its id gets its
        // digits appended there, into capacity reserved for them (no encoding, no allocation).
        var encoded: [UInt8]?
        var awaitingID: EventAwaitingID?
        if event.id != nil { encoded = try Self.encode(event) } else { awaitingID = try EventAwaitingID(event) }
        let idReadsAsSequence = event.id.flatMap { UInt64($0) }.map { $0 > startSequence } ?? false
        var delivered: BrokerEvent?
        var deliverHere = false
        var remoteSubscribers = 0
        var wakeups: [LoopFanOut.Share] = []
        var backlog = LoopFanOut.Share.Backlog()
        try lock.withLock { _ throws(BrokerError) in
            guard !isClosed else { throw Self.loopRefused }
            let next = sequence + 1
            if awaitingID != nil {
                event.id = String(next)
                encoded = awaitingID!.encoded(withID: next)
            }
            let channel = channelNamed(channelName)
            if configuration.historyCount > 0 && !channel.isListed && listedChannelCounts[0] + listedChannelCounts[1] >= configuration.maxChannels {
                do throws(BrokerError) {
                    try forgetLeastRecentlyPublishedChannel(keeping: [channelName])
                } catch {
                    removeIfUnused(channelName, channel)
                    throw error
                }
            }
            sequence = next
            if idReadsAsSequence { publisherIDsReadAsSequences = true }
            let published = BrokerEvent(
                event: event, channel: channelName, sequence: next, encoded: encoded!, publishedAtNanoseconds: publishedAt)
            delivered = published
            counters.publishedEventCount += 1
            channel.publishedEventCount += 1
            if configuration.historyCount > 0 {
                let cost = published.storedByteCount
                channel.history.append(published)
                channel.historyBytes += cost
                historyBytes += cost
                markRecentlyPublished(channel)
                trim(channel, now: now)
                if historyBytes > configuration.maxHistoryBytes { evictOldestHistory() }
            } else {
                channel.trimmedThrough = next
            }
            // Pattern subscribers count like the channel's own (a subscription matched both ways
            // counts twice here, but takes the event once).
            var patternSubscribers = 0
            var patternSubscribersByLoop: [Int] = []
            if !patternEntries.isEmpty {
                if shares.count > 1 { patternSubscribersByLoop = Array(repeating: 0, count: shares.count) }
                patternEntries.forEachMatch(of: channelName) { entry in
                    patternSubscribers += entry.subscriberCount
                    for (index, count) in entry.subscriberCountsByLoop.enumerated() { patternSubscribersByLoop[index] += count }
                }
            }
            if channel.subscriberCount + patternSubscribers > 0 {
                if shares.count == 1 {
                    if here != nil {
                        deliverHere = true
                    } else {
                        remoteSubscribers = channel.subscriberCount + patternSubscribers
                        if fanOut.queue(.event(published), for: shares[0]) { wakeups.append(shares[0]) }
                    }
                } else {
                    for index in shares.indices {
                        let count = channel.subscriberCountsByLoop[index] + (patternSubscribers > 0 ? patternSubscribersByLoop[index] : 0)
                        guard count > 0 else { continue }
                        if index == here?.index {
                            deliverHere = true
                        } else {
                            remoteSubscribers += count
                            if fanOut.queue(.event(published), for: shares[index]) { wakeups.append(shares[index]) }
                        }
                    }
                }
                // What was queued for this loop before this event goes first.
                if deliverHere, let here, here.hasQueuedMessages { backlog = here.takeInbox() }
            }
            removeIfUnused(channelName, channel)
        }
        for share in wakeups { fanOut.scheduleDrain(of: share) }
        var reached = 0
        if deliverHere, let here, let delivered {
            here.process(backlog)
            reached = here.deliver(delivered)
        }
        return PublishReceipt(id: delivered!.id, subscriberCount: reached + remoteSubscribers)
    }

    private static func encode(_ event: ServerSentEvent) throws(BrokerError) -> [UInt8] {
        do { return try event.encoded() } catch { throw BrokerError.invalidEvent(error.description) }
    }

    // MARK: Subscribing

    public func subscribe(to channels: [String], matching patterns: [ChannelPattern], lastEventID: String?) async throws -> Subscription {
        if currentShare() != nil { return try subscribeOnLoop(to: channels, matching: patterns, lastEventID: lastEventID) }
        return try await withUnsafeThrowingContinuation { continuation in
            let queued = eventLoop.execute { [self] in
                continuation.resume(with: Result { try self.subscribeOnLoop(to: channels, matching: patterns, lastEventID: lastEventID) })
            }
            if !queued { continuation.resume(throwing: Self.loopRefused) }
        }
    }

    /// Subscribes on one of the broker's loops; the subscription lives on it. Replay and
    /// registration happen in one step, so an event published meanwhile on any loop is either
    /// replayed or delivered live — never both, never neither. The replay is read from the
    /// history as the subscriber takes it (see ``Subscription``).
    ///
    /// A pattern's replay covers the channels it matches that still hold history, found by
    /// walking the channels published to since the client's event (newest first), so it costs
    /// what the replay needs, not the number of channels.
    public func subscribeOnLoop(to channelNames: [String], matching patterns: [ChannelPattern] = [], lastEventID: String?) throws
        -> Subscription
    {
        guard let share = currentShare() else {
            preconditionFailure("subscribeOnLoop must be called on one of the broker's event loops")
        }
        // Repeats are dropped; a list without any (the usual case) is not copied.
        var names = channelNames
        if Self.hasRepeats(names) {
            var seen = Set<String>()
            names = names.filter { seen.insert($0).inserted }
        }
        for name in names { try Self.validate(channel: name) }
        for pattern in patterns { try Self.validate(pattern: pattern) }
        var patterns = patterns
        if patterns.count > 1 {
            var seen = Set<ChannelPattern>()
            patterns = patterns.filter { seen.insert($0).inserted }
        }
        let now = share.loop.nowMilliseconds
        var status = ReplayStatus.live
        var source: HistoryReplay?
        var backlog = LoopFanOut.Share.Backlog()
        var position: UInt64 = 0
        try lock.withLock { _ throws(BrokerError) in
            guard !isClosed else { throw Self.loopRefused }
            if !patterns.isEmpty {
                let added = patterns.reduce(0) { $0 + (patternEntries[$1] == nil ? 1 : 0) }
                if added > 0 && patternEntries.count + added > configuration.maxPatterns {
                    throw .patternLimitReached(configuration.maxPatterns)
                }
            }
            for name in names { if let channel = channels[name] { trim(channel, now: now) } }
            // The channels the patterns match that may hold what the client missed.
            var matched: [Channel] = []
            var matchedAll = true
            if let lastEventID, !patterns.isEmpty {
                (matched, matchedAll) = channelsWithHistory(matching: patterns, excluding: names, publishedAfter: Self.floor(for: lastEventID))
                for channel in matched { trim(channel, now: now) }
            }
            let replay = replayStatus(after: lastEventID, in: names, matched: matched, hasPatterns: !patterns.isEmpty, matchedAll: matchedAll)
            status = replay.status
            var subscribed: [Channel] = []
            subscribed.reserveCapacity(names.count)
            for name in names { subscribed.append(channelNamed(name)) }
            // A replay only when the history holds something after the client's position (else the
            // stream opens with its own position at once).
            if let after = replay.after, subscribed.contains(where: { ($0.history.last?.sequence ?? 0) > after }) || !matched.isEmpty {
                source = HistoryReplay(broker: self, channels: subscribed + matched, after: after)
            }
            for channel in subscribed {
                if channel.subscriberCount == 0 {
                    busyChannelCount += 1
                    if channel.isListed && !channel.isServerChannel { busyListedChannelCount += 1 }
                }
                channel.subscriberCount += 1
                if shares.count > 1 { channel.subscriberCountsByLoop[share.index] += 1 }
            }
            for pattern in patterns {
                let entry: PatternEntry
                if let existing = patternEntries[pattern] {
                    entry = existing
                } else {
                    entry = PatternEntry(loopCount: shares.count)
                    patternEntries[pattern] = entry
                }
                entry.subscriberCount += 1
                if shares.count > 1 { entry.subscriberCountsByLoop[share.index] += 1 }
            }
            subscriptionCount += 1
            position = sequence
            // What was queued for this loop was published before this subscription: it goes
            // to the loop's other subscribers first.
            backlog = share.takeInbox()
        }
        share.process(backlog)
        let subscription = Subscription(
            channels: names, patterns: patterns, replayStatus: status, eventLoop: share.loop,
            bufferLimit: configuration.subscriberBufferCount, policy: configuration.overflowPolicy, replay: [], replaySource: source,
            startPosition: PositionID.format(position), onEnd: subscriptionEnded)
        share.attach(subscription)
        return subscription
    }

    /// Whether a name occurs twice: no allocation for short lists (a scan), a set for long ones.
    private static func hasRepeats(_ names: [String]) -> Bool {
        guard names.count > 1 else { return false }
        guard names.count > 16 else {
            return names.indices.dropFirst().contains { index in names[..<index].contains(names[index]) }
        }
        return Set(names).count < names.count
    }

    /// On the subscription's loop.
    private func unsubscribe(_ subscription: Subscription, error: SubscriptionError?) {
        guard let index = fanOut.index(of: subscription.eventLoop) else { return }
        let share = shares[index]
        lock.withLock { _ in
            if error == .slowConsumer { counters.slowConsumerDisconnectCount += 1 }
            counters.droppedEventCount += subscription.dropped
            for (position, name) in subscription.channels.enumerated() {
                guard share.remove(subscription, from: name, at: position), let channel = channels[name] else { continue }
                channel.subscriberCount -= 1
                if shares.count > 1 { channel.subscriberCountsByLoop[index] -= 1 }
                if channel.subscriberCount == 0 {
                    busyChannelCount -= 1
                    if channel.isListed && !channel.isServerChannel { busyListedChannelCount -= 1 }
                }
                removeIfUnused(name, channel)
            }
            for (position, pattern) in subscription.patterns.enumerated() {
                guard share.remove(subscription, from: pattern, at: subscription.channels.count + position),
                    let entry = patternEntries[pattern]
                else { continue }
                entry.subscriberCount -= 1
                if shares.count > 1 { entry.subscriberCountsByLoop[index] -= 1 }
                if entry.subscriberCount == 0 { patternEntries[pattern] = nil }
            }
            subscriptionCount -= 1
        }
    }

    // MARK: Statistics

    /// The number of channels the broker holds state for (subscribers or history).
    public var channelCount: Int { lock.withLock { _ in channels.count } }

    /// The number of distinct patterns subscribed to, on all loops.
    public var patternCount: Int { lock.withLock { _ in patternEntries.count } }

    public func channelStatistics() async -> [ChannelStatistics] {
        lock.withLock { _ in
            channels.values.map {
                ChannelStatistics(
                    name: $0.name, subscriberCount: $0.subscriberCount, publishedEventCount: $0.publishedEventCount,
                    historyEventCount: $0.history.count, historyByteCount: $0.historyBytes)
            }
        }
    }

    public func statistics() async -> BrokerStatistics { await statistics(includingChannels: true) }

    public func statistics(includingChannels: Bool) async -> BrokerStatistics {
        var statistics = lock.withLock { _ in
            var statistics = counters
            statistics.subscriptionCount = subscriptionCount
            statistics.historyByteCount = historyBytes
            statistics.subscribedChannelCount = busyChannelCount
            if includingChannels {
                for (name, channel) in channels where channel.subscriberCount > 0 {
                    statistics.subscribersPerChannel[name] = channel.subscriberCount
                }
            }
            return statistics
        }
        // Only `dropOldest` drops from open subscriptions: otherwise no walk over the lists.
        let drops = configuration.overflowPolicy == .dropOldest
        for share in shares {
            let (delivered, dropped) = await share.onLoop { (share.deliveredCount, drops ? share.droppedByLiveSubscriptions : 0) } ?? (0, 0)
            statistics.deliveredEventCount += delivered
            statistics.droppedEventCount += dropped
        }
        return statistics
    }
}
