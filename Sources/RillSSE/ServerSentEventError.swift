/// Why a ``ServerSentEvent`` cannot be encoded.
///
/// Each case is a field value that would let the payload escape its field on the wire (a line
/// break would start a new, attacker-chosen field) or that the wire format cannot express. The
/// associated value is the offending input, so a log line can show it.
public enum ServerSentEventError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `event` type contains a CR or LF, which would end the `event:` line early.
    case eventTypeContainsLineBreak(String)
    /// The `id` contains a CR or LF, which would end the `id:` line early.
    case idContainsLineBreak(String)
    /// The `id` contains U+0000; clients ignore such an `id` field entirely, so it would silently
    /// not take effect.
    case idContainsNull(String)
    /// The `id` begins or ends with a space or a tab: a client sends it back as `Last-Event-ID`,
    /// an HTTP field whose value loses them (RFC 9110 §5.5), so the server could never find it.
    case idHasSurroundingWhitespace(String)
    /// The `retry` duration is negative; the wire format only has unsigned decimal digits.
    case negativeRetry(Duration)

    /// A message naming the field and the rule it breaks.
    public var description: String {
        switch self {
        case .eventTypeContainsLineBreak(let value):
            "SSE event type must not contain CR or LF: \(value.debugDescription)"
        case .idContainsLineBreak(let value):
            "SSE id must not contain CR or LF: \(value.debugDescription)"
        case .idContainsNull(let value):
            "SSE id must not contain NUL (clients ignore such an id): \(value.debugDescription)"
        case .idHasSurroundingWhitespace(let value):
            "SSE id must not begin or end with a space or tab (Last-Event-ID loses them): \(value.debugDescription)"
        case .negativeRetry(let duration):
            "SSE retry must not be negative: \(duration)"
        }
    }
}
