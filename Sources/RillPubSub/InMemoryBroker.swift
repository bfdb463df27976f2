internal import DequeModule
public import RillCore
public import RillSSE

/// The embedded broker: channels, bounded history and fan-out in this process, on one event
/// loop, with no lock on the delivery path.
///
/// ```swift
/// let broker = InMemoryBroker(eventLoop: app.eventLoop)
/// try await broker.publish(ServerSentEvent(data: "hello"), to: "news")
/// broker.post(ServerSentEvent(data: "from any thread"), to: "news")    // never blocks
/// ```
///
/// Ids: when the publisher gives none, the broker assigns its sequence number (`"1"`, `"2"`, …,
/// increasing across all channels). A `Last-Event-ID` identifies the event whose id equals it
/// exactly, in the history of the channels subscribed to; that event is the client's position
/// in every one of them. An id that parses as a number is looked up by sequence number first
/// (a fast path), but counts only if the event there carries exactly that id: a publisher's
/// own numeric id (`"5"` on the event with sequence 10) is never read as a sequence number.
/// An id the history does not hold gives ``ReplayStatus/gap``, with what the history holds.
///
/// Memory: each channel keeps ``BrokerConfiguration/historyCount`` events for at most
/// ``BrokerConfiguration/historyMaxAge``; all channels together keep at most
/// ``BrokerConfiguration/maxHistoryBytes`` (the oldest events of the least recently published
/// channels go first) in at most ``BrokerConfiguration/maxChannels`` channels. Whatever leaves
/// the history is remembered as a gap, so a client replaying from it is told `gap`, never
/// silently given less. A channel with no subscribers and no history is forgotten; if it comes
/// back, it starts from what the broker forgot (a replay across the forgotten part is a gap).
/// Each event is stored once (its framed wire bytes) and shared by the history and every
/// subscriber. A replay is read from the history as the subscriber drains, not copied.
public final class InMemoryBroker: Broker, @unchecked Sendable {
    /// The loop that owns the broker's state; publishes from elsewhere hop onto it.
    public let eventLoop: EventLoop
    /// History, buffer and overflow settings.
    public let configuration: BrokerConfiguration

    fileprivate final class Channel {
        let name: String
        var subscribers: [Subscription] = []
        var history = Deque<BrokerEvent>()
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

        init(name: String, trimmedThrough: UInt64) {
            self.name = name
            self.trimmedThrough = trimmedThrough
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

    private var channels: [String: Channel] = [:]
    /// Channels with history, least recently published first (evicted in that order).
    private var oldestChannel: Channel?
    private var newestChannel: Channel?
    /// What all histories count toward ``BrokerConfiguration/maxHistoryBytes``.
    private var historyBytes = 0
    /// The highest sequence number dropped from a channel that was forgotten since.
    private var forgottenThrough: UInt64 = 0
    private var sequence: UInt64 = 0
    private var counters = BrokerStatistics()
    private var subscriptionCount = 0
    /// Channels with at least one subscriber (so that a full broker knows at once whether any
    /// channel could be forgotten).
    private var busyChannelCount = 0
    private let historyMaxAgeMilliseconds: UInt64

    /// Creates a broker on `eventLoop`.
    public init(eventLoop: EventLoop, configuration: BrokerConfiguration = .init()) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        historyMaxAgeMilliseconds = configuration.historyMaxAge.wholeMilliseconds
        eventLoop.executeBypassingLimit { [weak self] in self?.scheduleSweep() }
    }

    // MARK: Publishing

    @discardableResult
    public func publish(_ event: ServerSentEvent, to channel: String) async throws -> PublishReceipt {
        if eventLoop.inEventLoop { return try publishOnLoop(event, to: channel) }
        return try await withUnsafeThrowingContinuation { continuation in
            let queued = eventLoop.execute { [self] in
                continuation.resume(with: Result { try self.publishOnLoop(event, to: channel) })
            }
            if !queued { continuation.resume(throwing: Self.loopRefused) }
        }
    }

    /// Publishes from any thread without waiting: a queue consumer, a database listener, a
    /// timer. The event is published on the loop shortly after; an invalid event is dropped and
    /// reported to `onError` (called on the loop).
    public func post(_ event: ServerSentEvent, to channel: String, onError: (@Sendable (any Error) -> Void)? = nil) {
        let work: @Sendable () -> Void = { [self] in
            do { try self.publishOnLoop(event, to: channel) } catch { onError?(error) }
        }
        if !eventLoop.execute(work) { onError?(Self.loopRefused) }
    }

    /// What a caller from another thread is told when the loop refused its work (shut down, or
    /// its cross-thread queue full): never a wait for a closure that will not run.
    static let loopRefused = BrokerError.backend("the event loop refused the work (shut down or overloaded)")

    /// Publishes on the loop thread, synchronously. Fan-out: the event is encoded once and the
    /// same bytes go to every subscriber.
    @discardableResult
    public func publishOnLoop(_ event: ServerSentEvent, to channelName: String) throws -> PublishReceipt {
        eventLoop.preconditionInEventLoop()
        try Self.validate(channel: channelName)
        var event = event
        let next = sequence + 1
        if event.id == nil { event.id = String(next) }
        let encoded: [UInt8]
        do { encoded = try event.encoded() } catch { throw BrokerError.invalidEvent(error.description) }
        let channel = try channelNamed(channelName)
        sequence = next
        let now = eventLoop.nowMilliseconds
        let delivered = BrokerEvent(event: event, channel: channelName, sequence: next, encoded: encoded, publishedAtMilliseconds: now)
        counters.publishedEventCount += 1
        if configuration.historyCount > 0 {
            let cost = delivered.storedByteCount
            channel.history.append(delivered)
            channel.historyBytes += cost
            historyBytes += cost
            markRecentlyPublished(channel)
            trim(channel, now: now)
            if historyBytes > configuration.maxHistoryBytes { evictOldestHistory() }
        } else {
            channel.trimmedThrough = next
        }
        // Iterate a copy: a subscriber that overflows is removed from the list meanwhile.
        let subscribers = channel.subscribers
        var reached = 0
        for subscriber in subscribers where subscriber.deliver(delivered) { reached += 1 }
        counters.deliveredEventCount += reached
        removeIfUnused(channelName, channel)
        return PublishReceipt(id: delivered.id, subscriberCount: reached)
    }

    // MARK: Subscribing

    public func subscribe(to channels: [String], lastEventID: String?) async throws -> Subscription {
        if eventLoop.inEventLoop { return try subscribeOnLoop(to: channels, lastEventID: lastEventID) }
        return try await withUnsafeThrowingContinuation { continuation in
            let queued = eventLoop.execute { [self] in
                continuation.resume(with: Result { try self.subscribeOnLoop(to: channels, lastEventID: lastEventID) })
            }
            if !queued { continuation.resume(throwing: Self.loopRefused) }
        }
    }

    /// Subscribes on the loop thread. Replay and registration happen in one step, so an event
    /// published meanwhile is either replayed or delivered live — never both, never neither.
    /// The replay is read from the history as the subscriber takes it (see ``Subscription``).
    public func subscribeOnLoop(to channelNames: [String], lastEventID: String?) throws -> Subscription {
        eventLoop.preconditionInEventLoop()
        // Repeats are dropped; a list without any (the usual case) is not copied.
        var names = channelNames
        if Self.hasRepeats(names) {
            var seen = Set<String>()
            names = names.filter { seen.insert($0).inserted }
        }
        for name in names { try Self.validate(channel: name) }
        let now = eventLoop.nowMilliseconds
        for name in names { if let channel = channels[name] { trim(channel, now: now) } }
        let status = replayStatus(after: lastEventID, in: names)
        var subscribed: [Channel] = []
        subscribed.reserveCapacity(names.count)
        do {
            for name in names { subscribed.append(try channelNamed(name, keeping: names)) }
        } catch {
            for (name, channel) in zip(names, subscribed) { removeIfUnused(name, channel) }
            throw error
        }
        var source: HistoryReplay?
        if let after = status.after { source = HistoryReplay(channels: subscribed, after: after) }
        let subscription = Subscription(
            channels: names, replayStatus: status.status, eventLoop: eventLoop, bufferLimit: configuration.subscriberBufferCount,
            policy: configuration.overflowPolicy, replay: [], replaySource: source, onEnd: subscriptionEnded)
        for (index, channel) in subscribed.enumerated() {
            if channel.subscribers.isEmpty { busyChannelCount += 1 }
            subscription.addToChannelList(&channel.subscribers, at: index)
        }
        subscriptionCount += 1
        return subscription
    }

    /// What every subscription calls when it ends: one closure for all of them, rather than a
    /// context allocated per subscription (every byte of an idle stream counts).
    private lazy var subscriptionEnded: (Subscription, SubscriptionError?) -> Void = { [weak self] subscription, error in
        self?.unsubscribe(subscription, error: error)
    }

    /// Whether a name occurs twice: no allocation for short lists (a scan), a set for long ones.
    private static func hasRepeats(_ names: [String]) -> Bool {
        guard names.count > 1 else { return false }
        guard names.count > 16 else {
            return names.indices.dropFirst().contains { index in names[..<index].contains(names[index]) }
        }
        return Set(names).count < names.count
    }

    /// The replay status for `lastEventID`, and the sequence number after which the replay
    /// starts (nil: no replay).
    private func replayStatus(after lastEventID: String?, in names: [String]) -> (status: ReplayStatus, after: UInt64?) {
        guard let lastEventID else { return (.live, nil) }
        guard let position = position(of: lastEventID, in: names) else { return (.gap, 0) }
        let lost = names.contains { (channels[$0]?.trimmedThrough ?? forgottenThrough) > position }
        return (lost ? .gap : .complete, position)
    }

    /// The sequence number of the event whose id is exactly `id` in these channels' history
    /// (the latest, if several carry it). A decimal id is first looked up as a sequence number,
    /// and accepted only if the event there carries exactly that id.
    private func position(of id: String, in names: [String]) -> UInt64? {
        let number = UInt64(id)
        var position: UInt64?
        for name in names {
            guard let channel = channels[name], !channel.history.isEmpty else { continue }
            if let number {
                let index = channel.firstIndex(after: number - min(number, 1))
                if index < channel.history.endIndex, channel.history[index].sequence == number, channel.history[index].id == id {
                    position = max(position ?? 0, number)
                    continue
                }
            }
            if let match = channel.history.last(where: { $0.id == id }) {
                position = max(position ?? 0, match.sequence)
            }
        }
        return position
    }

    /// A replay read from the history of a subscription's channels as its subscriber takes it:
    /// the events after `after` up to each channel's last event at subscription time, merged in
    /// sequence order. Events published later are delivered live.
    private final class HistoryReplay: ReplaySource {
        private let channels: [Channel]
        /// Per channel, the sequence number of its last event to replay.
        private let lastSequences: [UInt64]
        /// Per channel, what it had dropped when the replay began (a gap already reported).
        private let trimmedAtStart: [UInt64]
        /// The sequence number of the last event produced.
        private var after: UInt64

        init(channels: [Channel], after: UInt64) {
            self.channels = channels
            self.lastSequences = channels.map { $0.history.last?.sequence ?? 0 }
            self.trimmedAtStart = channels.map(\.trimmedThrough)
            self.after = after
        }

        func produce(maxBytes: Int, into events: inout Deque<BrokerEvent>) -> ReplayProgress {
            // History is trimmed oldest first: a channel that dropped an event past `after`
            // since the replay began, while it still had events to replay, dropped the next one
            // this replay needed.
            for (index, channel) in channels.enumerated()
            where lastSequences[index] > after && channel.trimmedThrough > max(after, trimmedAtStart[index]) {
                return .lost
            }
            var indices = channels.map { $0.firstIndex(after: after) }
            var bytes = 0
            while bytes < maxBytes {
                var best = -1
                var bestSequence = UInt64.max
                for (index, channel) in channels.enumerated() where indices[index] < channel.history.endIndex {
                    let sequence = channel.history[indices[index]].sequence
                    if sequence <= lastSequences[index], sequence < bestSequence {
                        best = index
                        bestSequence = sequence
                    }
                }
                guard best >= 0 else { return .finished }
                let event = channels[best].history[indices[best]]
                indices[best] += 1
                events.append(event)
                bytes += event.encodedBytes.count
                after = event.sequence
            }
            return lastSequences.contains { $0 > after } ? .more : .finished
        }
    }

    private func unsubscribe(_ subscription: Subscription, error: SubscriptionError?) {
        if error == .slowConsumer { counters.slowConsumerDisconnectCount += 1 }
        counters.droppedEventCount += subscription.dropped
        for (index, name) in subscription.channels.enumerated() {
            guard let channel = channels[name] else { continue }
            guard subscription.removeFromChannelList(&channel.subscribers, at: index) else { continue }
            if channel.subscribers.isEmpty { busyChannelCount -= 1 }
            removeIfUnused(name, channel)
        }
        subscriptionCount -= 1
    }

    // MARK: History and housekeeping

    /// The channel named `name`, made if needed; past ``BrokerConfiguration/maxChannels`` the
    /// least recently published channel without subscribers is forgotten to make room.
    /// The channels named in `keeping` are not forgotten (a subscription is being made to them).
    private func channelNamed(_ name: String, keeping: [String] = []) throws(BrokerError) -> Channel {
        if let channel = channels[name] { return channel }
        if channels.count >= configuration.maxChannels { try forgetLeastRecentlyPublishedChannel(keeping: keeping) }
        let channel = Channel(name: name, trimmedThrough: forgottenThrough)
        channels[name] = channel
        return channel
    }

    /// Forgets the least recently published channel that has no subscribers (channels with
    /// subscribers met on the way count as recently used). Throws if every channel has some.
    ///
    /// When no channel can go, it throws at once rather than walking every channel (with all
    /// channels busy, each refused subscribe would otherwise cost a walk of `maxChannels`).
    private func forgetLeastRecentlyPublishedChannel(keeping: [String]) throws(BrokerError) {
        let idleKept = keeping.reduce(0) { count, name in count + (channels[name]?.subscribers.isEmpty == true ? 1 : 0) }
        guard channels.count - busyChannelCount > idleKept else { throw .channelLimitReached(configuration.maxChannels) }
        var remaining = channels.count
        while remaining > 0, let channel = oldestChannel {
            remaining -= 1
            guard channel.subscribers.isEmpty, !keeping.contains(channel.name) else {
                markRecentlyPublished(channel)
                continue
            }
            counters.evictedEventCount += channel.history.count
            while let first = channel.history.popFirst() { channel.trimmedThrough = first.sequence }
            historyBytes -= channel.historyBytes
            channel.historyBytes = 0
            unlist(channel)
            removeIfUnused(channel.name, channel)
            return
        }
        throw .channelLimitReached(configuration.maxChannels)
    }

    /// Drops the oldest events of the least recently published channels until the histories fit
    /// ``BrokerConfiguration/maxHistoryBytes``.
    private func evictOldestHistory() {
        while historyBytes > configuration.maxHistoryBytes, let channel = oldestChannel {
            while historyBytes > configuration.maxHistoryBytes, let first = channel.history.popFirst() {
                dropped(first, from: channel)
                counters.evictedEventCount += 1
            }
            if channel.history.isEmpty {
                unlist(channel)
                removeIfUnused(channel.name, channel)
            }
        }
    }

    private func dropped(_ event: BrokerEvent, from channel: Channel) {
        let cost = event.storedByteCount
        channel.historyBytes -= cost
        historyBytes -= cost
        channel.trimmedThrough = event.sequence
    }

    /// Moves `channel` to the recent end of the eviction order.
    private func markRecentlyPublished(_ channel: Channel) {
        if channel.isListed {
            guard newestChannel !== channel else { return }
            unlist(channel)
        }
        channel.isListed = true
        channel.previous = newestChannel
        if let newest = newestChannel { newest.next = channel } else { oldestChannel = channel }
        newestChannel = channel
    }

    private func unlist(_ channel: Channel) {
        guard channel.isListed else { return }
        channel.isListed = false
        let next = channel.next
        if let previous = channel.previous { previous.next = next } else { oldestChannel = next }
        if let next { next.previous = channel.previous } else { newestChannel = channel.previous }
        channel.previous = nil
        channel.next = nil
    }

    private func trim(_ channel: Channel, now: UInt64) {
        while channel.history.count > configuration.historyCount, let first = channel.history.popFirst() {
            dropped(first, from: channel)
        }
        while let first = channel.history.first, now >= first.publishedAtMilliseconds + historyMaxAgeMilliseconds {
            channel.history.removeFirst()
            dropped(first, from: channel)
        }
        if channel.history.isEmpty { unlist(channel) }
    }

    /// A channel with no subscribers and no history is forgotten: channel names never leak.
    /// What it had dropped is kept broker-wide, and a channel made later starts from it, so a
    /// client that comes back to it with an old id still hears about the gap (conservatively:
    /// it may hear of one it did not have).
    private func removeIfUnused(_ name: String, _ channel: Channel) {
        guard channel.subscribers.isEmpty && channel.history.isEmpty else { return }
        forgottenThrough = max(forgottenThrough, channel.trimmedThrough)
        unlist(channel)
        if channels[name] === channel { channels[name] = nil }
    }

    /// Ages out history of channels nobody publishes to any more.
    private func scheduleSweep() {
        let interval = max(1000, min(60_000, historyMaxAgeMilliseconds / 4))
        eventLoop.schedule(after: .milliseconds(Int64(interval))) { [weak self] in
            guard let self else { return }
            let now = self.eventLoop.nowMilliseconds
            for (name, channel) in self.channels {
                self.trim(channel, now: now)
                self.removeIfUnused(name, channel)
            }
            self.scheduleSweep()
        }
    }

    /// The number of channels the broker holds state for (subscribers or history).
    public var channelCount: Int {
        eventLoop.preconditionInEventLoop()
        return channels.count
    }

    public func statistics() async -> BrokerStatistics {
        if eventLoop.inEventLoop { return statisticsOnLoop() }
        return await withUnsafeContinuation { continuation in
            let queued = eventLoop.execute { [self] in continuation.resume(returning: self.statisticsOnLoop()) }
            if !queued { continuation.resume(returning: BrokerStatistics()) }
        }
    }

    private func statisticsOnLoop() -> BrokerStatistics {
        var statistics = counters
        statistics.subscriptionCount = subscriptionCount
        statistics.historyByteCount = historyBytes
        for (name, channel) in channels where !channel.subscribers.isEmpty {
            statistics.subscribersPerChannel[name] = channel.subscribers.count
        }
        statistics.droppedEventCount += channels.values.reduce(0) { total, channel in
            total + channel.subscribers.reduce(0) { $0 + $1.dropped }
        }
        return statistics
    }
}
