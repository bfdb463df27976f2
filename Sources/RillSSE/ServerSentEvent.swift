/// One Server-Sent Event as a server publishes it.
///
/// A value of this type is what an application hands to a stream; ``encode(into:)`` turns it into
/// the `text/event-stream` wire format once, and those bytes can then be shared by every
/// subscriber.
///
/// Each field maps to one part of the wire format, and `nil` always means "write nothing":
///
/// ```swift
/// let event = ServerSentEvent(data: "42", event: "price", id: "7")
/// let bytes = try event.encoded()   // "event: price\nid: 7\ndata: 42\n\n"
/// ```
///
/// Validation (line breaks in `event`/`id`, NUL in `id`, a negative `retry`) happens when the
/// event is encoded, so building one never fails; see ``ServerSentEventError``.
public struct ServerSentEvent: Sendable, Hashable {
    /// The payload. `nil` writes no `data` field at all, so a browser dispatches nothing (useful
    /// for an id-only or comment-only event). `""` writes one empty `data:` line, which a browser
    /// dispatches as a message with empty data. Split into one `data:` line per line of text, on
    /// CR, LF and CRLF.
    public var data: String?

    /// The event type (`addEventListener` name). `nil` or `""` writes no `event` line, so the
    /// client uses its default type, `"message"`. Must not contain CR or LF.
    public var event: String?

    /// The event id the client remembers and sends back as `Last-Event-ID` when it reconnects.
    /// `nil` writes no `id` line (the client keeps its previous id); `""` writes an explicit empty
    /// `id:` that resets the client's last event id; `"0"` is a real id like any other. Must not
    /// contain CR, LF or NUL.
    public var id: String?

    /// How long the client should wait before reconnecting. Written as whole milliseconds
    /// (truncated toward zero) in decimal digits. Must not be negative.
    public var retry: Duration?

    /// A comment, invisible to `onmessage` and event listeners; used for heartbeats and to
    /// flush headers early. Written as one `:` line per line of text (split on CR, LF and CRLF).
    /// `""` writes a single bare `:` line.
    public var comment: String?

    /// Creates an event. Every field is optional; see each property for how `nil` and `""` differ.
    ///
    /// ```swift
    /// ServerSentEvent(data: "hello")                 // data: hello
    /// ServerSentEvent(id: "", retry: .seconds(5))    // id:      retry: 5000  (no dispatch)
    /// ServerSentEvent(comment: "keep-alive")         // : keep-alive
    /// ```
    public init(
        data: String? = nil,
        event: String? = nil,
        id: String? = nil,
        retry: Duration? = nil,
        comment: String? = nil
    ) {
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment
    }
}
