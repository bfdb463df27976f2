import RillSSE
import Testing

/// The wire text of an event; byte-exact for ASCII, and failures print readable strings.
private func wire(_ event: ServerSentEvent) throws -> String {
    String(decoding: try event.encoded(), as: UTF8.self)
}

@Suite("Encoding a ServerSentEvent")
struct ServerSentEventEncoderTests {
    @Test func `single-line data is written as one data line and a blank line`() throws {
        #expect(try wire(ServerSentEvent(data: "hello")) == "data: hello\n\n")
    }

    @Test func `data is split on LF, CR and CRLF, with CRLF counting as one line end`() throws {
        #expect(
            try wire(ServerSentEvent(data: "a\nb\rc\r\nd"))
                == "data: a\ndata: b\ndata: c\ndata: d\n\n")
        // LF then CR is two line ends, CRLF then LF is two as well.
        #expect(try wire(ServerSentEvent(data: "a\n\rb")) == "data: a\ndata:\ndata: b\n\n")
        #expect(try wire(ServerSentEvent(data: "a\r\n\nb")) == "data: a\ndata:\ndata: b\n\n")
    }

    @Test func `data is not split on U+2028, U+2029, U+0085, VT or FF`() throws {
        let data = "a\u{2028}b\u{2029}c\u{85}d\u{0B}e\u{0C}f"
        #expect(try ServerSentEvent(data: data).encoded() == utf8("data: ") + utf8(data) + utf8("\n\n"))
    }

    @Test func `empty data writes one bare data line`() throws {
        #expect(try wire(ServerSentEvent(data: "")) == "data:\n\n")
    }

    @Test func `a trailing line break writes a final empty data line`() throws {
        #expect(try wire(ServerSentEvent(data: "a\n")) == "data: a\ndata:\n\n")
        #expect(try wire(ServerSentEvent(data: "\n")) == "data:\ndata:\n\n")
        #expect(try wire(ServerSentEvent(data: "a\r\n")) == "data: a\ndata:\n\n")
    }

    @Test func `a value starting with a space keeps it behind the one separator space`() throws {
        #expect(try wire(ServerSentEvent(data: " x")) == "data:  x\n\n")
        #expect(try wire(ServerSentEvent(data: "x", event: " t", id: "1")) == "event:  t\nid: 1\ndata: x\n\n")
    }

    @Test func `NUL in data is written as is`() throws {
        #expect(try ServerSentEvent(data: "a\0b").encoded() == [0x64, 0x61, 0x74, 0x61, 0x3A, 0x20, 0x61, 0x00, 0x62, 0x0A, 0x0A])
    }

    @Test func `an empty id is written as exactly "id:"`() throws {
        #expect(try wire(ServerSentEvent(id: "")) == "id:\n\n")
        #expect(try wire(ServerSentEvent(data: "x", id: "")) == "id:\ndata: x\n\n")
    }

    @Test func `id "0" is a real id`() throws {
        #expect(try wire(ServerSentEvent(data: "x", id: "0")) == "id: 0\ndata: x\n\n")
    }

    @Test func `an empty event type writes no event line`() throws {
        #expect(try wire(ServerSentEvent(data: "x", event: "")) == "data: x\n\n")
    }

    @Test func `fields are written in the order comment, event, id, retry, data`() throws {
        let event = ServerSentEvent(
            data: "d", event: "e", id: "1", retry: .seconds(2), comment: "c")
        #expect(try wire(event) == ": c\nevent: e\nid: 1\nretry: 2000\ndata: d\n\n")
    }

    @Test(
        arguments: [
            (Duration.seconds(3), "3000"),
            (.milliseconds(1500), "1500"),
            (.milliseconds(5), "5"),
            (.seconds(1) + .milliseconds(5), "1005"),
            (.seconds(10), "10000"),
            (.zero, "0"),
            (.microseconds(2500), "2"),
            (.microseconds(999), "0"),
            (.seconds(Int64.max), "9223372036854775807000"),
        ])
    func `retry is written as whole milliseconds in decimal digits`(retry: Duration, digits: String) throws {
        #expect(try wire(ServerSentEvent(retry: retry)) == "retry: \(digits)\n\n")
    }

    @Test func `a comment writes one colon line per line of text`() throws {
        #expect(try wire(ServerSentEvent(comment: "hello")) == ": hello\n\n")
        #expect(try wire(ServerSentEvent(comment: "a\nb\r\nc\rd")) == ": a\n: b\n: c\n: d\n\n")
        #expect(try wire(ServerSentEvent(comment: "")) == ":\n\n")
        #expect(try wire(ServerSentEvent(comment: "a\n")) == ": a\n:\n\n")
    }

    @Test func `encodedComment writes a heartbeat comment event`() throws {
        #expect(ServerSentEvent.encodedComment("keep-alive") == utf8(": keep-alive\n\n"))
        #expect(ServerSentEvent.encodedComment("") == utf8(":\n\n"))
        #expect(ServerSentEvent.encodedComment("x\r\ny") == utf8(": x\n: y\n\n"))
        #expect(ServerSentEvent.encodedComment("x\r\ny") == (try ServerSentEvent(comment: "x\r\ny").encoded()))
    }

    @Test func `an event without fields encodes to no bytes`() throws {
        #expect(try ServerSentEvent().encoded() == [])
        #expect(try ServerSentEvent(event: "").encoded() == [])
    }

    @Test(
        arguments: [
            ServerSentEvent(data: "x"),
            ServerSentEvent(data: ""),
            ServerSentEvent(data: "x\n"),
            ServerSentEvent(data: "x\r"),
            ServerSentEvent(id: "7"),
            ServerSentEvent(id: ""),
            ServerSentEvent(retry: .seconds(1)),
            ServerSentEvent(comment: "ping"),
            ServerSentEvent(comment: ""),
            ServerSentEvent(data: "a\nb", event: "e", id: "1", retry: .zero, comment: "c\n"),
        ])
    func `every event ends with a blank line`(event: ServerSentEvent) throws {
        let bytes = try event.encoded()
        #expect(bytes.suffix(2) == [0x0A, 0x0A])
        // Exactly one blank line, at the end: no earlier "\n\n" that would end the event early.
        let lineFeedPairs = zip(bytes, bytes.dropFirst()).filter { $0 == (0x0A, 0x0A) }.count
        #expect(lineFeedPairs == 1)
    }

    @Test func `encode(into:) appends after the bytes already in the buffer`() throws {
        var buffer = utf8("data: first\n\n")
        try ServerSentEvent(data: "second").encode(into: &buffer)
        try ServerSentEvent(data: "third").encode(into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "data: first\n\ndata: second\n\ndata: third\n\n")
    }

    @Test(
        arguments: [
            (ServerSentEvent(data: "x", event: "a\nb"), ServerSentEventError.eventTypeContainsLineBreak("a\nb")),
            (ServerSentEvent(data: "x", event: "a\r"), .eventTypeContainsLineBreak("a\r")),
            (ServerSentEvent(data: "x", id: "1\n2"), .idContainsLineBreak("1\n2")),
            (ServerSentEvent(data: "x", id: "\r"), .idContainsLineBreak("\r")),
            (ServerSentEvent(data: "x", id: "1\u{0}2"), .idContainsNull("1\u{0}2")),
            (ServerSentEvent(data: "x", id: " 7"), .idHasSurroundingWhitespace(" 7")),
            (ServerSentEvent(data: "x", id: "7\t"), .idHasSurroundingWhitespace("7\t")),
            (ServerSentEvent(data: "x", retry: .milliseconds(-1)), .negativeRetry(.milliseconds(-1))),
            (ServerSentEvent(data: "x", retry: .nanoseconds(-1)), .negativeRetry(.nanoseconds(-1))),
        ])
    func `invalid fields throw and leave the buffer untouched`(event: ServerSentEvent, error: ServerSentEventError) {
        let original = utf8("data: before\n\n")
        var buffer = original
        #expect(throws: error) { try event.encode(into: &buffer) }
        #expect(buffer == original)
        #expect(throws: error) { try event.encoded() }
    }

    @Test func `error descriptions name the field and show the value`() {
        #expect(
            ServerSentEventError.eventTypeContainsLineBreak("a\nb").description
                == #"SSE event type must not contain CR or LF: "a\nb""#)
        #expect(ServerSentEventError.idContainsLineBreak("1\r").description == #"SSE id must not contain CR or LF: "1\r""#)
        #expect(ServerSentEventError.idContainsNull("1\u{0}").description.hasPrefix("SSE id must not contain NUL"))
        #expect(ServerSentEventError.negativeRetry(.seconds(-1)).description == "SSE retry must not be negative: -1.0 seconds")
    }
}
