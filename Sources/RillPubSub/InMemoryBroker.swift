import DequeModule
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
/// increasing across all channels), so a `Last-Event-ID` locates the client's position in
/// every channel it subscribes to.
public final class InMemoryBroker: Broker, @unchecked Sendable {
    /// The loop that owns the broker's state; publishes from elsewhere hop onto it.
    public let eventLoop: EventLoop
    /// History, buffer and overflow settings.
    public let configuration: BrokerConfiguration

    private final class Channel {
        var subscribers: [Subscription] = []
        var history = Deque<BrokerEvent>()
        /// The highest sequence number that left the history (by count or age): a client whose
        /// last event is older than this missed something.
        var trimmedThrough: UInt64 = 0
    }

    private var channels: [String: Channel] = [:]
    /// The highest sequence number dropped from a channel that was forgotten since.
    private var forgottenThrough: UInt64 = 0
    private var sequence: UInt64 = 0
    private var counters = BrokerStatistics()
    private var subscriptionCount = 0
    private let historyMaxAgeMilliseconds: UInt64

    /// Creates a broker on `eventLoop`.
    public init(eventLoop: EventLoop, configuration: BrokerConfiguration = .init()) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        let (seconds, attoseconds) = configuration.historyMaxAge.components
        historyMaxAgeMilliseconds = UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds / 1_000_000_000_000_000))
        eventLoop.execute { [weak self] in self?.scheduleSweep() }
    }

    // MARK: Publishing

    @discardableResult
    public func publish(_ event: ServerSentEvent, to channel: String) async throws -> PublishReceipt {
        if eventLoop.inEventLoop { return try publishOnLoop(event, to: channel) }
        return try await withUnsafeThrowingContinuation { continuation in
            eventLoop.execute { [self] in
                continuation.resume(with: Result { try self.publishOnLoop(event, to: channel) })
            }
        }
    }

    /// Publishes from any thread without waiting: a queue consumer, a database listener, a
    /// timer. The event is published on the loop shortly after; an invalid event is dropped and
    /// reported to `onError` (called on the loop).
    public func post(_ event: ServerSentEvent, to channel: String, onError: (@Sendable (any Error) -> Void)? = nil) {
        let work: @Sendable () -> Void = { [self] in
            do { try self.publishOnLoop(event, to: channel) } catch { onError?(error) }
        }
        eventLoop.execute(work)
    }

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
        sequence = next
        let now = eventLoop.nowMilliseconds
        let delivered = BrokerEvent(event: event, channel: channelName, sequence: next, encoded: encoded, publishedAtMilliseconds: now)
        counters.publishedEventCount += 1
        let channel = channelNamed(channelName)
        if configuration.historyCount > 0 {
            channel.history.append(delivered)
            trim(channel, now: now)
        } else {
            channel.trimmedThrough = next
        }
        // Iterate a copy: a subscriber that overflows is removed from the list meanwhile.
        let subscribers = channel.subscribers
        var reached = 0
        for subscriber in subscribers where subscriber.deliver(delivered) { reached += 1 }
        counters.deliveredEventCount += reached
        removeIfUnused(channelName, channel)
        return PublishReceipt(id: event.id!, subscriberCount: reached)
    }

    // MARK: Subscribing

    public func subscribe(to channels: [String], lastEventID: String?) async throws -> Subscription {
        if eventLoop.inEventLoop { return try subscribeOnLoop(to: channels, lastEventID: lastEventID) }
        return try await withUnsafeThrowingContinuation { continuation in
            eventLoop.execute { [self] in
                continuation.resume(with: Result { try self.subscribeOnLoop(to: channels, lastEventID: lastEventID) })
            }
        }
    }

    /// Subscribes on the loop thread. Replay and registration happen in one step, so an event
    /// published meanwhile is either replayed or delivered live — never both, never neither.
    public func subscribeOnLoop(to channelNames: [String], lastEventID: String?) throws -> Subscription {
        eventLoop.preconditionInEventLoop()
        var names: [String] = []
        for name in channelNames where !names.contains(name) {
            try Self.validate(channel: name)
            names.append(name)
        }
        let now = eventLoop.nowMilliseconds
        let (status, replay) = replay(after: lastEventID, in: names, now: now)
        let subscription = Subscription(
            channels: names, replayStatus: status, eventLoop: eventLoop, bufferLimit: configuration.subscriberBufferCount,
            policy: configuration.overflowPolicy, replay: replay
        ) { [weak self] subscription, error in
            self?.unsubscribe(subscription, error: error)
        }
        for (index, name) in names.enumerated() {
            let channel = channelNamed(name)
            subscription.addToChannelList(&channel.subscribers, at: index)
        }
        subscriptionCount += 1
        return subscription
    }

    private func replay(after lastEventID: String?, in names: [String], now: UInt64) -> (ReplayStatus, [BrokerEvent]) {
        guard let lastEventID else { return (.live, []) }
        for name in names { if let channel = channels[name] { trim(channel, now: now) } }
        // The client's position: the event with that id in these channels' history, else the
        // broker-assigned sequence number it encodes.
        var position: UInt64?
        for name in names {
            if let match = channels[name]?.history.last(where: { $0.id == lastEventID }) {
                position = max(position ?? 0, match.sequence)
            }
        }
        if position == nil, let number = UInt64(lastEventID), number <= sequence { position = number }
        guard let position else {
            return (.gap, mergedHistory(of: names, after: 0))
        }
        let lost = names.contains { (channels[$0]?.trimmedThrough ?? forgottenThrough) > position }
        return (lost ? .gap : .complete, mergedHistory(of: names, after: position))
    }

    private func mergedHistory(of names: [String], after position: UInt64) -> [BrokerEvent] {
        var events: [BrokerEvent] = []
        for name in names {
            guard let history = channels[name]?.history else { continue }
            events.append(contentsOf: history.filter { $0.sequence > position })
        }
        if names.count > 1 { events.sort { $0.sequence < $1.sequence } }
        return events
    }

    private func unsubscribe(_ subscription: Subscription, error: SubscriptionError?) {
        if error == .slowConsumer { counters.slowConsumerDisconnectCount += 1 }
        counters.droppedEventCount += subscription.dropped
        for (index, name) in subscription.channels.enumerated() {
            guard let channel = channels[name] else { continue }
            guard subscription.removeFromChannelList(&channel.subscribers, at: index) else { continue }
            removeIfUnused(name, channel)
        }
        subscriptionCount -= 1
    }

    // MARK: History and housekeeping

    private func channelNamed(_ name: String) -> Channel {
        if let channel = channels[name] { return channel }
        let channel = Channel()
        channels[name] = channel
        return channel
    }

    private func trim(_ channel: Channel, now: UInt64) {
        while channel.history.count > configuration.historyCount, let first = channel.history.popFirst() {
            channel.trimmedThrough = first.sequence
        }
        while let first = channel.history.first, now >= first.publishedAtMilliseconds + historyMaxAgeMilliseconds {
            channel.history.removeFirst()
            channel.trimmedThrough = first.sequence
        }
    }

    /// A channel with no subscribers and no history is forgotten: channel names never leak.
    /// What it had dropped is kept broker-wide, so a client that comes back to it later with an
    /// old id still hears about the gap (conservatively: it may hear of one it did not have).
    private func removeIfUnused(_ name: String, _ channel: Channel) {
        guard channel.subscribers.isEmpty && channel.history.isEmpty else { return }
        forgottenThrough = max(forgottenThrough, channel.trimmedThrough)
        channels[name] = nil
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
            eventLoop.execute { [self] in continuation.resume(returning: self.statisticsOnLoop()) }
        }
    }

    private func statisticsOnLoop() -> BrokerStatistics {
        var statistics = counters
        statistics.subscriptionCount = subscriptionCount
        for (name, channel) in channels where !channel.subscribers.isEmpty {
            statistics.subscribersPerChannel[name] = channel.subscribers.count
        }
        statistics.droppedEventCount += channels.values.reduce(0) { total, channel in
            total + channel.subscribers.reduce(0) { $0 + $1.dropped }
        }
        return statistics
    }
}
