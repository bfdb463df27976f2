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
    /// ``encoded`` framed as one HTTP/1.1 chunk (`size CRLF bytes CRLF`), built once at publish
    /// time so that a fan-out to thousands of chunked responses copies nothing per subscriber.
    public let chunk: [UInt8]
    /// When it was published, on the loop's millisecond clock (for history age).
    let publishedAtMilliseconds: UInt64

    /// The event's id.
    public var id: String { event.id ?? "" }

    /// `bytes` as one HTTP/1.1 chunk.
    package static func frame(_ bytes: [UInt8]) -> [UInt8] {
        var chunk: [UInt8] = []
        chunk.reserveCapacity(bytes.count + 12)
        chunk.append(contentsOf: String(bytes.count, radix: 16).utf8)
        chunk.append(13)
        chunk.append(10)
        chunk.append(contentsOf: bytes)
        chunk.append(13)
        chunk.append(10)
        return chunk
    }

    package init(event: ServerSentEvent, channel: String, sequence: UInt64, encoded: [UInt8], publishedAtMilliseconds: UInt64) {
        self.event = event
        self.channel = channel
        self.sequence = sequence
        self.encoded = encoded
        self.chunk = Self.frame(encoded)
        self.publishedAtMilliseconds = publishedAtMilliseconds
    }
}

/// What a publish achieved.
public struct PublishReceipt: Sendable, Hashable, Codable {
    /// The id the event was published with (assigned by the broker when the publisher gave none).
    public let id: String
    /// How many subscriptions of this process received it (for Redis: this process's share).
    public let subscriberCount: Int

    package init(id: String, subscriberCount: Int) {
        self.id = id
        self.subscriberCount = subscriberCount
    }
}
