import RillSSE
import Testing

/// One stream from the WHATWG conformance checklist (WPT `eventsource/format-*` and LaunchDarkly
/// sse-contract-tests), with what a conforming client dispatches for it and the state it is left
/// in after the stream ends.
struct ParserVector: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var events: [MessageEvent]
    var lastEventID = ""
    var reconnectionTime: Duration? = nil

    var testDescription: String { name }

    static let all: [ParserVector] = [
        ParserVector(
            name: "F4 format-field-data: empty values and colon-less data lines",
            input: utf8("data:\n\ndata\ndata\n\ndata:test\n\n"),
            events: [MessageEvent(data: ""), MessageEvent(data: "\n"), MessageEvent(data: "test")]),
        ParserVector(
            name: "E2 data lines join with LF and one trailing LF is removed",
            input: utf8("data: YHOO\ndata: +2\ndata: 10\n\n"),
            events: [MessageEvent(data: "YHOO\n+2\n10")]),
        ParserVector(
            name: "E4 format-data-before-final-empty-line: the unterminated event is dropped",
            input: utf8("retry:1000\ndata:test1\n\nid:test\ndata:test2"),
            events: [MessageEvent(data: "test1")],
            lastEventID: "",
            reconnectionTime: .milliseconds(1000)),
        ParserVector(
            name: "E4 an event whose last line ended but had no blank line is dropped",
            input: utf8("data:a\n\ndata:b\n"),
            events: [MessageEvent(data: "a")]),
        ParserVector(
            name: "D2 format-bom: one leading BOM is skipped",
            input: byteOrderMark + utf8("data:1\n\ndata:2\n\ndata:3\n\n"),
            events: [MessageEvent(data: "1"), MessageEvent(data: "2"), MessageEvent(data: "3")]),
        ParserVector(
            name: "D2 format-bom-2: a second BOM belongs to the first field name",
            input: byteOrderMark + byteOrderMark + utf8("data:1\n\ndata:2\n\ndata:3\n\n"),
            events: [MessageEvent(data: "2"), MessageEvent(data: "3")]),
        ParserVector(
            name: "D2 a BOM later in the stream is not skipped",
            input: utf8("data:1\n\n") + byteOrderMark + utf8("data:2\n\ndata:3\n\n"),
            events: [MessageEvent(data: "1"), MessageEvent(data: "3")]),
        ParserVector(
            name: "D2 the start of a BOM that is not a BOM stays in the first line",
            input: [0xEF, 0xBB] + utf8("data:1\n\ndata:2\n\n"),
            events: [MessageEvent(data: "2")]),
        ParserVector(
            name: "D2 a BOM alone before a line end leaves an empty first line",
            input: byteOrderMark + utf8("\ndata:1\n\n"),
            events: [MessageEvent(data: "1")]),
        ParserVector(
            name: "F6 format-field-event-empty: an empty event type means message",
            input: utf8("event: \ndata:data\n\n"),
            events: [MessageEvent(type: "message", data: "data")]),
        ParserVector(
            name: "F6 E3 the event type applies to one event only",
            input: utf8("event:test\ndata:x\n\ndata:y\n\n"),
            events: [MessageEvent(type: "test", data: "x"), MessageEvent(type: "message", data: "y")]),
        ParserVector(
            name: "F6 the last event field wins",
            input: utf8("event:a\nevent:b\ndata:x\n\n"),
            events: [MessageEvent(type: "b", data: "x")]),
        ParserVector(
            name: "F9 format-field-retry-bogus: retry with a non-digit is ignored",
            input: utf8("retry:3000\nretry:1000x\ndata:x\n\n"),
            events: [MessageEvent(data: "x")],
            reconnectionTime: .milliseconds(3000)),
        ParserVector(
            name: "F9 signs, inner spaces, decimals and empty retry values are ignored",
            input: utf8("retry: 7\nretry:+5\nretry:-1\nretry:  5\nretry:5.0\nretry:\nretry:5 \nretry\n\n"),
            events: [],
            reconnectionTime: .milliseconds(7)),
        ParserVector(
            name: "F9 retry 0 is valid",
            input: utf8("retry:250\n\nretry:0\n\n"),
            events: [],
            reconnectionTime: .zero),
        ParserVector(
            name: "F9 a retry too large for Int64 milliseconds saturates",
            input: utf8("retry:99999999999999999999999\n\n"),
            events: [],
            reconnectionTime: .milliseconds(Int64.max)),
        ParserVector(
            name: "F8 an id containing NUL is ignored",
            input: utf8("id: 123\nid: bad\u{0}id\ndata: hello\n\n"),
            events: [MessageEvent(data: "hello", lastEventID: "123")],
            lastEventID: "123"),
        ParserVector(
            name: "D3 F2 format-comments: comments among CR, LF and CRLF line ends",
            input: utf8(
                "data:1\r:\u{0}\n:\r\ndata:2\n:" + String(repeating: "x", count: 2048)
                    + "\rdata:3\n:data:fail\r:" + String(repeating: "x", count: 2048)
                    + "\ndata:4\n\n"),
            events: [MessageEvent(data: "1\n2\n3\n4")]),
        ParserVector(
            name: "F2 comment-only blocks dispatch nothing",
            input: utf8(":hello\n\n: data: x\n\n:\n\n"),
            events: []),
        ParserVector(
            name: "F4 a line without a colon is a field with an empty value",
            input: utf8("data\n\nevent\ndata:x\n\nid:3\n\nid\ndata:y\n\n"),
            events: [
                MessageEvent(data: ""), MessageEvent(type: "message", data: "x"),
                MessageEvent(data: "y", lastEventID: ""),
            ]),
        ParserVector(
            name: "F3 exactly one leading space is removed, nothing else is trimmed",
            input: utf8("data:  x\ndata:\ty\ndata:z \ndata::w\ndata: \n\n"),
            events: [MessageEvent(data: " x\n\ty\nz \n:w\n")]),
        ParserVector(
            name: "F3 the name ends at the first colon",
            input: utf8("data:a:b: c\n\n"),
            events: [MessageEvent(data: "a:b: c")]),
        ParserVector(
            name: "F5 field names are case-sensitive and unknown fields are ignored",
            input: utf8("Data:x\ncolor: blue\nDATA:y\n data:q\ndata:z\n\nEvent:e\ndata:w\n\n"),
            events: [MessageEvent(data: "z"), MessageEvent(data: "w")]),
        ParserVector(
            name: "F10 field order does not matter",
            input: utf8("data:d\nevent:t\nid:1\n\nid:2\nevent:u\ndata:e\n\n"),
            events: [
                MessageEvent(type: "t", data: "d", lastEventID: "1"),
                MessageEvent(type: "u", data: "e", lastEventID: "2"),
            ],
            lastEventID: "2"),
        ParserVector(
            name: "D3 CR-only line ends",
            input: utf8("data:a\rdata:b\r\revent:t\rdata:c\r\r"),
            events: [MessageEvent(data: "a\nb"), MessageEvent(type: "t", data: "c")]),
        ParserVector(
            name: "D3 CRLF line ends",
            input: utf8("data:a\r\ndata:b\r\n\r\ndata:c\r\n\r\n"),
            events: [MessageEvent(data: "a\nb"), MessageEvent(data: "c")]),
        ParserVector(
            name: "D3 mixed line ends",
            input: utf8("data:a\rdata:b\ndata:c\r\n\rdata:d\n\r\ndata:e\r\r\n"),
            events: [MessageEvent(data: "a\nb\nc"), MessageEvent(data: "d"), MessageEvent(data: "e")]),
        ParserVector(
            name: "D3 LF CR is two line ends, not one",
            input: utf8("data:a\n\rdata:b\n\n"),
            events: [MessageEvent(data: "a"), MessageEvent(data: "b")]),
        ParserVector(
            name: "E5 100 events in one chunk arrive in order",
            input: utf8((0..<100).map { "id: \($0)\ndata: event \($0)\n\n" }.joined()),
            events: (0..<100).map { MessageEvent(data: "event \($0)", lastEventID: "\($0)") },
            lastEventID: "99"),
        ParserVector(
            name: "D5 multi-byte UTF-8 characters",
            input: utf8("event: 價格\ndata: €豆腐\ndata: 😀\n\n"),
            events: [MessageEvent(type: "價格", data: "€豆腐\n😀")]),
        ParserVector(
            name: "D1 invalid UTF-8 becomes U+FFFD",
            input: utf8("data: ") + [0xFF, 0xFE] + utf8("ok\ndata: ") + [0xE2, 0x82] + utf8("\ndata: ")
                + [0xE2, 0x82, 0x41] + utf8("\nid: ") + [0xC3] + utf8("\nevent: ") + [0x80]
                + utf8("\n\n"),
            events: [
                MessageEvent(
                    type: "\u{FFFD}", data: "\u{FFFD}\u{FFFD}ok\n\u{FFFD}\n\u{FFFD}A",
                    lastEventID: "\u{FFFD}")
            ],
            lastEventID: "\u{FFFD}"),
        ParserVector(
            name: "D6 format-null-character: NUL is allowed in data",
            input: utf8("data:\u{0}\n\ndata:a\u{0}b\n\n"),
            events: [MessageEvent(data: "\u{0}"), MessageEvent(data: "a\u{0}b")]),
        ParserVector(
            name: "L1 the last event id persists until replaced, and an empty id resets it",
            input: utf8("id:1\ndata:a\n\ndata:b\n\nid:\ndata:c\n\ndata:d\n\n"),
            events: [
                MessageEvent(data: "a", lastEventID: "1"), MessageEvent(data: "b", lastEventID: "1"),
                MessageEvent(data: "c", lastEventID: ""), MessageEvent(data: "d", lastEventID: ""),
            ]),
        ParserVector(
            name: "L2 E1 an id-only block updates the id without dispatching",
            input: utf8("id:5\n\ndata:x\n\nid: 6\n\n"),
            events: [MessageEvent(data: "x", lastEventID: "5")],
            lastEventID: "6"),
        ParserVector(
            name: "E1 an event-only block dispatches nothing and resets the type",
            input: utf8("event:foo\n\ndata:x\n\n"),
            events: [MessageEvent(type: "message", data: "x")]),
        ParserVector(
            name: "L2 an id after the data in the same block applies to that event",
            input: utf8("data:a\nid:7\n\n"),
            events: [MessageEvent(data: "a", lastEventID: "7")],
            lastEventID: "7"),
        ParserVector(
            name: "E4 an id in an unterminated block never takes effect",
            input: utf8("id:1\ndata:a\n\nid:2\n"),
            events: [MessageEvent(data: "a", lastEventID: "1")],
            lastEventID: "1"),
    ]
}
