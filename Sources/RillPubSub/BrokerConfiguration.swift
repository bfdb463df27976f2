/// Bounds and policies of a broker. Every bound is explicit.
public struct BrokerConfiguration: Sendable {
    /// What a subscription does when its buffer is full because its consumer is slower than
    /// the publishers.
    public enum OverflowPolicy: Sendable, Equatable {
        /// End the subscription with ``SubscriptionError/slowConsumer``; over HTTP the client
        /// is disconnected and reconnects with `Last-Event-ID` to replay from history. The
        /// default: it bounds memory and loses nothing the history still holds.
        case disconnect
        /// Drop the oldest buffered event to make room (counted in
        /// ``BrokerStatistics/droppedEventCount``).
        case dropOldest
    }

    /// Events kept per channel for replay (0 keeps none).
    public var historyCount: Int
    /// Events older than this leave the history.
    public var historyMaxAge: Duration
    /// Events one subscription may hold before its consumer takes them.
    public var subscriberBufferCount: Int
    /// What happens when that buffer is full.
    public var overflowPolicy: OverflowPolicy

    /// Creates a configuration; defaults: 1,000 events or 1 hour of history per channel, 256
    /// buffered events per subscriber, disconnect on overflow.
    public init(
        historyCount: Int = 1000, historyMaxAge: Duration = .seconds(3600), subscriberBufferCount: Int = 256,
        overflowPolicy: OverflowPolicy = .disconnect
    ) {
        precondition(historyCount >= 0 && subscriberBufferCount >= 1, "history count ≥ 0 and buffer count ≥ 1")
        self.historyCount = historyCount
        self.historyMaxAge = historyMaxAge
        self.subscriberBufferCount = subscriberBufferCount
        self.overflowPolicy = overflowPolicy
    }
}
