public import RillSSE

/// An event as a broker delivers it: the event (its `id` always set), the channel it was
/// published to, its position in the broker's order, and its wire bytes, encoded once at
/// publish time and shared by every subscriber.
public struct BrokerEvent: Sendable {
    /// The event; ``ServerSentEvent/id`` is the publisher's id or the one the broker assigned.
    public let event: ServerSentEvent
    /// The channel it was published to.
    public let channel: String
    /// The broker's monotonic sequence number (orders events across channels).
    public let sequence: UInt64
    /// The event in `text/event-stream` format, `\n\n`-terminated.
    public let encoded: [UInt8]
    /// When it was published, on the loop's millisecond clock (for history age).
    let publishedAtMilliseconds: UInt64

    /// The event's id.
    public var id: String { event.id ?? "" }

    package init(event: ServerSentEvent, channel: String, sequence: UInt64, encoded: [UInt8], publishedAtMilliseconds: UInt64) {
        self.event = event
        self.channel = channel
        self.sequence = sequence
        self.encoded = encoded
        self.publishedAtMilliseconds = publishedAtMilliseconds
    }
}

/// What a publish achieved.
public struct PublishReceipt: Sendable, Hashable {
    /// The id the event was published with (assigned by the broker when the publisher gave none).
    public let id: String
    /// How many subscriptions of this process received it (for Redis: this process's share).
    public let subscriberCount: Int

    package init(id: String, subscriberCount: Int) {
        self.id = id
        self.subscriberCount = subscriberCount
    }
}
