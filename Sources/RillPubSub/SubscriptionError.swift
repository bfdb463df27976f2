/// Why a subscription ended with an error.
public enum SubscriptionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The consumer fell more than the buffer behind (policy `disconnect`).
    case slowConsumer
    /// The broker shut down or lost its backend for good.
    case brokerClosed
    /// Events the subscription should have received left the history before they could be
    /// delivered (RedisBroker: trimmed during an outage); reconnecting with the last id
    /// received replays what is left, with status `.gap`.
    case historyLost

    public var description: String {
        switch self {
        case .slowConsumer: "the subscriber fell too far behind and was disconnected"
        case .brokerClosed: "the broker is closed"
        case .historyLost: "events for the subscription left the history before they could be delivered"
        }
    }
}

/// Why a publish or subscribe was refused.
public enum BrokerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The event is invalid (an `event` or `id` containing a line break, …).
    case invalidEvent(String)
    /// A channel name is empty, longer than 256 bytes, holds a control character or is not
    /// in Unicode Normalization Form C (NFC); or a subscribed pattern is not in NFC.
    case invalidChannel(String)
    /// The broker is closed.
    case closed
    /// The backend (Redis) failed.
    case backend(String)
    /// The broker holds history for its maximum number of channels (the associated value), all
    /// with subscribers: a publish to a channel without history is refused
    /// (``BrokerConfiguration/maxChannels``).
    case channelLimitReached(Int)
    /// The process's subscriptions use the maximum number of distinct patterns (the associated
    /// value): a subscription adding another is refused (``BrokerConfiguration/maxPatterns``).
    case patternLimitReached(Int)

    public var description: String {
        switch self {
        case .invalidEvent(let reason): "invalid event: \(reason)"
        case .invalidChannel(let name):
            "invalid channel name or pattern '\(name)': 1 to 256 bytes of text in Unicode Normalization Form C (NFC), without control characters"
        case .closed: "the broker is closed"
        case .backend(let reason): "broker backend failed: \(reason)"
        case .channelLimitReached(let limit): "the broker already holds its maximum of \(limit) channels"
        case .patternLimitReached(let limit): "the subscriptions already use the maximum of \(limit) distinct patterns"
        }
    }
}
