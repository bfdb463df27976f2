public import RillSSE

/// An event as a broker delivers it: its id, the channel it was published to, its position in
/// the broker's order, and its wire bytes in `text/event-stream` format, encoded once at
/// publish time and shared by every subscriber and by the history.
///
/// Storage: one copy of the event, ``encodedBytes``; ``event`` is decoded from it on demand. A
/// stored event costs its wire bytes plus ``storageOverheadBytes``. How the bytes travel (an
/// HTTP/1.1 chunk, an HTTP/2 DATA frame) is the server's business: it frames each event once
/// per fan-out, not per subscriber.
public struct BrokerEvent: Sendable {
    /// The event's id: the publisher's, or the one the broker assigned.
    public let id: String
    /// The channel it was published to.
    public let channel: String
    /// The broker's monotonic sequence number (orders events across channels).
    public let sequence: UInt64
    /// The event in `text/event-stream` format, `\n\n`-terminated. Shared: every subscriber
    /// and the history hold the same storage.
    public let encodedBytes: [UInt8]
    /// When it was published (the in-memory broker) or received from the backend (Redis), on
    /// `CLOCK_MONOTONIC` in nanoseconds: the history's age, and the server's publish-to-write
    /// latency.
    package let publishedAtNanoseconds: UInt64

    /// ``publishedAtNanoseconds`` on the loop's millisecond clock (for history age).
    var publishedAtMilliseconds: UInt64 { publishedAtNanoseconds / 1_000_000 }

    /// The event, decoded from its wire bytes (each access decodes; the broker keeps only the
    /// bytes). ``ServerSentEvent/id`` is always set.
    public var event: ServerSentEvent { ServerSentEvent(decodingEncoded: encodedBytes[...], id: id) }

    /// Fixed bytes a stored event costs besides its wire bytes (this value, its array's header,
    /// allocator rounding), counted by the in-memory broker's history budget.
    public static let storageOverheadBytes = 96

    /// The bytes a stored event is counted for: its wire bytes, its id and channel when they
    /// are not stored inline, and ``storageOverheadBytes``.
    public var storedByteCount: Int {
        encodedBytes.count + Self.storageOverheadBytes + (id.utf8.count > 15 ? id.utf8.count : 0)
    }

    /// An event from its encoded bytes; `event.id` must be set (it is what the bytes carry).
    package init(event: ServerSentEvent, channel: String, sequence: UInt64, encoded: [UInt8], publishedAtNanoseconds: UInt64) {
        self.id = event.id ?? ""
        self.channel = channel
        self.sequence = sequence
        self.encodedBytes = encoded
        self.publishedAtNanoseconds = publishedAtNanoseconds
    }
}

extension ServerSentEvent {
    /// Decodes the output of ``encoded()`` (fields `name: value`, one per line; `data` lines
    /// joined with line feeds; `:` comments).
    init(decodingEncoded bytes: ArraySlice<UInt8>, id: String) {
        self.init()
        self.id = id
        var data: [UInt8]?
        var comment: [UInt8]?
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex, let lineEnd = bytes[lineStart...].firstIndex(of: 10) {
            let line = bytes[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            guard !line.isEmpty else { continue }
            let colon = line.firstIndex(of: 58) ?? line.endIndex
            var valueStart = colon < line.endIndex ? colon + 1 : colon
            if valueStart < line.endIndex, line[valueStart] == 32 { valueStart += 1 }
            let value = line[valueStart...]
            switch String(decoding: line[..<colon], as: UTF8.self) {
            case "": Self.appendLine(value, to: &comment)
            case "data": Self.appendLine(value, to: &data)
            case "event": event = String(decoding: value, as: UTF8.self)
            case "retry": retry = Int(String(decoding: value, as: UTF8.self)).map { .milliseconds($0) }
            default: break
            }
        }
        self.data = data.map { String(decoding: $0, as: UTF8.self) }
        self.comment = comment.map { String(decoding: $0, as: UTF8.self) }
    }

    private static func appendLine(_ line: ArraySlice<UInt8>, to lines: inout [UInt8]?) {
        if lines == nil {
            lines = Array(line)
        } else {
            lines!.append(10)
            lines!.append(contentsOf: line)
        }
    }
}

/// What a publish achieved.
public struct PublishReceipt: Sendable, Hashable, Codable {
    /// The id the event was published with (assigned by the broker when the publisher gave none).
    public let id: String
    /// How many subscriptions of this process received it (for Redis: this process's share).
    /// Exact for the publishing loop's subscriptions; on the process's other loops, counted
    /// before they deliver: a subscription matched more than one way there (by the channel and
    /// a pattern, or by two patterns) counts once per way, though it takes the event once.
    public let subscriberCount: Int

    package init(id: String, subscriberCount: Int) {
        self.id = id
        self.subscriberCount = subscriberCount
    }
}
