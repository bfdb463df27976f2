public import RillSSE

/// Publish/subscribe of Server-Sent Events on named channels.
///
/// ```swift
/// let receipt = try await broker.publish(ServerSentEvent(data: "hi", event: "notify"), to: "users.42")
/// let subscription = try await broker.subscribe(to: ["users.42"], lastEventID: request.lastEventID)
/// for try await delivered in subscription { print(delivered.event.data ?? "") }
/// ```
///
/// `publish` never waits for a subscriber: each subscription has its own bounded buffer and
/// overflow policy, so one slow subscriber never delays the others.
public protocol Broker: AnyObject, Sendable {
    /// Publishes `event` to `channel`; the broker assigns an id when `event.id` is nil.
    ///
    /// - Throws: ``BrokerError`` for an invalid event or channel, or when the broker is closed.
    @discardableResult
    func publish(_ event: ServerSentEvent, to channel: String) async throws -> PublishReceipt

    /// Subscribes to `channels` and to every channel that one of `patterns` matches (each
    /// event once, however many match it). With a `lastEventID`, the events published after it
    /// that the history still holds — of the channels named and of those the patterns match —
    /// come first, in id order, then live events, with no gap and no duplicate; see
    /// ``Subscription/replayStatus``.
    func subscribe(to channels: [String], matching patterns: [ChannelPattern], lastEventID: String?) async throws -> Subscription

    /// Publishes from any thread without waiting — a queue consumer, a database listener, a
    /// timer callback. Errors go to `onError`.
    func post(_ event: ServerSentEvent, to channel: String, onError: (@Sendable (any Error) -> Void)?)

    /// Current counters.
    func statistics() async -> BrokerStatistics

    /// Current counters; with `includingChannels` false, without
    /// ``BrokerStatistics/subscribersPerChannel`` — one entry per subscribed channel, which at
    /// 100,000 channels is a dictionary built under the broker's lock: periodic metrics reports
    /// do without it.
    func statistics(includingChannels: Bool) async -> BrokerStatistics

    /// Every channel the broker holds state for (subscribers, history), in no particular order.
    /// Costs one pass over the channels: for dashboards, not for every request.
    func channelStatistics() async -> [ChannelStatistics]

    /// Records that `channels` missed events after every position handed out so far, from any
    /// thread, without waiting: a client that later resumes from one of those positions is told
    /// ``ReplayStatus/gap``. Presence calls it for the notice channels of changes that no stream
    /// heard. A channel that never had events is left alone unless `includingUnpublished` (one
    /// whose watchers may have gone before any notice was published).
    func markEventsLost(in channels: [String], includingUnpublished: Bool)
}

extension Broker {
    /// Subscribes to `channels`; see ``subscribe(to:matching:lastEventID:)``.
    public func subscribe(to channels: [String], lastEventID: String?) async throws -> Subscription {
        try await subscribe(to: channels, matching: [], lastEventID: lastEventID)
    }

    /// Default: ``statistics()``.
    public func statistics(includingChannels: Bool) async -> BrokerStatistics { await statistics() }

    /// Default: the channels with subscribers, from ``statistics()`` (no publish counts, no
    /// history).
    public func channelStatistics() async -> [ChannelStatistics] {
        await statistics().subscribersPerChannel.map { ChannelStatistics(name: $0.key, subscriberCount: $0.value, publishedEventCount: 0) }
    }

    /// Default: nothing (a client that resumes after such a loss is told what the history
    /// holds).
    public func markEventsLost(in channels: [String], includingUnpublished: Bool) {}

    /// Default: a task that publishes and reports failures.
    public func post(_ event: ServerSentEvent, to channel: String, onError: (@Sendable (any Error) -> Void)?) {
        Task {
            do { try await publish(event, to: channel) } catch { onError?(error) }
        }
    }
}

extension Broker {
    /// Refuses a publisher's id of the position form (`PositionID`): reserved for the
    /// positions event streams open with, so that a `Last-Event-ID` of that form never names
    /// an event.
    package static func validate(publisherID id: String?) throws(BrokerError) {
        guard let id, PositionID.isPosition(id) else { return }
        throw BrokerError.invalidEvent("the id '\(id)' has the form of a stream position (~ and digits), which is reserved")
    }

    /// Validates a channel name: 1 to 256 bytes, no control characters, in Unicode
    /// Normalization Form C (``Swift/StringProtocol/isInNormalizationFormC``).
    package static func validate(channel: String) throws(BrokerError) {
        let bytes = channel.utf8
        guard !bytes.isEmpty, bytes.count <= 256, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }),
            channel.isInNormalizationFormC
        else {
            throw BrokerError.invalidChannel(channel)
        }
    }

    /// Validates a subscribed pattern: in Unicode Normalization Form C like a channel name (a
    /// pattern in another form would match a name by canonical equivalence in memory but not
    /// byte by byte on Redis). ``ChannelPattern/init(_:)`` checks the rest.
    package static func validate(pattern: ChannelPattern) throws(BrokerError) {
        guard pattern.description.isInNormalizationFormC else { throw BrokerError.invalidChannel(pattern.description) }
    }
}
