/// What a broker holds for one channel, for dashboards (``Broker/channelStatistics()``).
public struct ChannelStatistics: Sendable, Hashable {
    /// The channel's name.
    public var name: String
    /// Subscriptions to it by name, on all loops (pattern subscriptions not included).
    public var subscriberCount: Int
    /// Events published to it since the broker started holding state for it — for the Redis
    /// broker, the events this process received for it while it had subscribers. The
    /// difference between two readings over time is the channel's rate.
    public var publishedEventCount: Int
    /// Events its history holds now; nil when the broker does not know without asking its
    /// backend (Redis).
    public var historyEventCount: Int?
    /// What its history holds, in bytes as ``BrokerConfiguration/maxHistoryBytes`` counts them;
    /// nil when the broker does not know.
    public var historyByteCount: Int?

    /// Creates a channel's statistics.
    public init(name: String, subscriberCount: Int, publishedEventCount: Int, historyEventCount: Int? = nil, historyByteCount: Int? = nil) {
        self.name = name
        self.subscriberCount = subscriberCount
        self.publishedEventCount = publishedEventCount
        self.historyEventCount = historyEventCount
        self.historyByteCount = historyByteCount
    }
}
