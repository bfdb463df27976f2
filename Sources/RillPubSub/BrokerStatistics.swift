/// Counters of a broker, for metrics endpoints.
public struct BrokerStatistics: Sendable, Hashable {
    /// Events published.
    public var publishedEventCount: Int = 0
    /// Events handed to subscriptions (one per subscriber per event).
    public var deliveredEventCount: Int = 0
    /// Events dropped by the `dropOldest` policy.
    public var droppedEventCount: Int = 0
    /// Subscriptions ended because their consumer fell too far behind.
    public var slowConsumerDisconnectCount: Int = 0
    /// Subscriptions open now.
    public var subscriptionCount: Int = 0
    /// Events that left the in-memory history early to keep it within
    /// ``BrokerConfiguration/maxHistoryBytes`` or ``BrokerConfiguration/maxChannels`` (a later
    /// replay across them reports a gap).
    public var evictedEventCount: Int = 0
    /// What the in-memory history holds now, in bytes as ``BrokerConfiguration/maxHistoryBytes``
    /// counts them.
    public var historyByteCount: Int = 0
    /// Channels with at least one subscriber (by name).
    public var subscribedChannelCount: Int = 0
    /// Subscribers per channel, for channels that have any; empty from
    /// `statistics(includingChannels: false)`.
    public var subscribersPerChannel: [String: Int] = [:]

    /// Creates zeroed counters.
    public init() {}
}
