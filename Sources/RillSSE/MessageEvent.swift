/// One event as a client dispatches it, the Swift counterpart of the browser's `MessageEvent`
/// for an `EventSource`.
///
/// Produced by ``ServerSentEventParser``. Compare whole values in tests:
///
/// ```swift
/// #expect(events == [MessageEvent(type: "price", data: "42", lastEventID: "7")])
/// ```
public struct MessageEvent: Sendable, Hashable {
    /// The event type: the last `event` field of the event, or `"message"` when there was none
    /// (or it was empty).
    public var type: String
    /// The `data` field values joined with LF, without a trailing LF.
    public var data: String
    /// The stream's last event id when this event was dispatched: the most recent `id` field seen
    /// in this or any earlier event, or `""` if none (or after an explicit empty `id:`).
    public var lastEventID: String

    /// Creates an event; `type` defaults to `"message"` and `lastEventID` to `""`, as in a browser.
    public init(type: String = "message", data: String, lastEventID: String = "") {
        self.type = type
        self.data = data
        self.lastEventID = lastEventID
    }
}
