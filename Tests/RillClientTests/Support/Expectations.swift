import Rill

/// What `/fixture` of Examples/SSETestServer must put on the wire and what a spec-conformant
/// client must make of it. Kept here as literals, independent of the server's source, so a change
/// to either side shows up as a failure.
enum Fixture {
    /// The body, one element per HTTP chunk: the opening comment, then exactly one event per chunk
    /// (checklist S6, S7), each ending in a blank line.
    static let chunks: [String] = [
        ":ok\n\n",
        ": fixture start\n\n",
        "event: multi\nid: 1\ndata: a\ndata: b\ndata: c\ndata: d\n\n",  // S1: CR, LF and CRLF
        "id: 2\ndata: before\u{2028}after\n\n",  // S1: U+2028 is not a line break
        "event: empty\nid: 3\ndata:\n\n",
        "id: 4\ndata:  leading space\n\n",  // F3: one space is stripped, the second is data
        "id:\ndata: after empty id\n\n",  // S3: an explicit empty id
        "id: 0\ndata: zero\n\n",  // S3: "0" is a real id
        "id: 7\nretry: 1234\n\n",  // S4, L2: no data, so nothing is dispatched
        ": a comment inside an event\ndata: after id-only\n\n",
        "event: unicode-ü\nid: ü-9\ndata: €豆腐 🎉 naïve\n\n",
        "id: 10\ndata: trailing newline\ndata:\n\n",
        "event: done\nid: 11\ndata: end\n\n",
    ]

    /// The events a browser's EventSource dispatches for the body (type, data, lastEventId).
    static let dispatched: [MessageEvent] = [
        MessageEvent(type: "multi", data: "a\nb\nc\nd", lastEventID: "1"),
        MessageEvent(data: "before\u{2028}after", lastEventID: "2"),
        MessageEvent(type: "empty", data: "", lastEventID: "3"),
        MessageEvent(data: " leading space", lastEventID: "4"),
        MessageEvent(data: "after empty id", lastEventID: ""),
        MessageEvent(data: "zero", lastEventID: "0"),
        MessageEvent(data: "after id-only", lastEventID: "7"),  // L1/L2: the id-only block's id
        MessageEvent(type: "unicode-ü", data: "€豆腐 🎉 naïve", lastEventID: "ü-9"),
        MessageEvent(data: "trailing newline\n", lastEventID: "10"),
        MessageEvent(type: "done", data: "end", lastEventID: "11"),
    ]

    /// The `id` field of each dispatched event's own block, nil where the block had none (what
    /// clients that do not carry the id forward, like sseclient-py and swift-openapi-runtime,
    /// report per event).
    static let ownIDs: [String?] = ["1", "2", "3", "4", "", "0", nil, "ü-9", "10", "11"]
}

/// What `/events` of the test server sends on a connection that follows Last-Event-ID `start`:
/// ids `start+1 ...`, odd ids an unnamed two-line message, even ids a `tick` event.
func expectedEvent(id: Int) -> MessageEvent {
    id.isMultiple(of: 2)
        ? MessageEvent(type: "tick", data: "tick \(id)", lastEventID: "\(id)")
        : MessageEvent(type: "message", data: "line1\nline2", lastEventID: "\(id)")
}

/// One `/events` connection as `/seen-last-event-ids` reports it.
struct SeenConnection: Decodable, Sendable {
    var lastEventID: String?
    var startedAtMilliseconds: Int
    var endedAtMilliseconds: Int?
}
