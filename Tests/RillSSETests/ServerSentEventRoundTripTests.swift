import RillSSE
import Testing

@Suite("Encoding then parsing")
struct ServerSentEventRoundTripTests {
    /// Events chosen to stress the wire format: every kind of line end, empty and whitespace-led
    /// values, values that look like fields, unicode, NUL, and blocks that dispatch nothing.
    static let trickyEvents: [ServerSentEvent] = [
        ServerSentEvent(data: "plain"),
        ServerSentEvent(data: "a\nb\rc\r\nd"),
        ServerSentEvent(data: ""),
        ServerSentEvent(data: "\n"),
        ServerSentEvent(data: "\r\n"),
        ServerSentEvent(data: "\r"),
        ServerSentEvent(data: "a\n"),
        ServerSentEvent(data: "\n\n\n"),
        ServerSentEvent(data: "\r\r\n\n\r"),
        ServerSentEvent(data: " leading space"),
        ServerSentEvent(data: "  two leading spaces\n one"),
        ServerSentEvent(data: "trailing space "),
        ServerSentEvent(data: ":starts with a colon"),
        ServerSentEvent(data: "data: fake field\nid: fake\nevent: fake\n\nretry: 1"),
        ServerSentEvent(data: "emoji 😀 €豆腐, separators \u{2028}\u{2029}\u{85}\u{0B}\u{0C} kept"),
        ServerSentEvent(data: "nul\u{0}inside"),
        ServerSentEvent(data: "\u{FEFF}BOM-led data"),
        ServerSentEvent(data: "x", event: "update", id: "1"),
        ServerSentEvent(id: "0"),
        ServerSentEvent(data: "after id-only block"),
        ServerSentEvent(data: "y", event: " spaced type"),
        ServerSentEvent(data: "z", id: "an id with spaces"),
        ServerSentEvent(data: "reset", id: ""),
        ServerSentEvent(data: "after comment", comment: "multi\nline\r\ncomment"),
        ServerSentEvent(data: "r", retry: .seconds(2)),
        ServerSentEvent(data: "u", id: "é-ünïcode-id"),
        ServerSentEvent(comment: "heartbeat"),
        ServerSentEvent(event: "ping"),
        ServerSentEvent(data: "type reset after a data-less event"),
        ServerSentEvent(data: "", event: "empty-data", id: "last"),
    ]

    @Test(arguments: FeedMode.all)
    func `tricky events come back with the same type, data and last event id`(mode: FeedMode) throws {
        var stream: [UInt8] = ServerSentEvent.encodedComment("stream start")
        for event in Self.trickyEvents {
            try event.encode(into: &stream)
        }

        var parser = ServerSentEventParser()
        let events = mode.feed(stream, to: &parser)
        parser.finish()

        #expect(events == Self.expectedMessages(for: Self.trickyEvents))
        #expect(parser.lastEventID == "last")
        #expect(parser.reconnectionTime == .seconds(2))
        #expect(parser.oversizedLineCount == 0)
    }

    @Test func `the expected messages are what they should be`() {
        // Guards the model the round trip compares against, so a shared mistake cannot pass.
        let expected = Self.expectedMessages(for: Self.trickyEvents)
        #expect(expected.count == 27)
        #expect(expected[1] == MessageEvent(data: "a\nb\nc\nd"))
        #expect(expected[8] == MessageEvent(data: "\n\n\n\n"))
        #expect(expected[17] == MessageEvent(type: "update", data: "x", lastEventID: "1"))
        #expect(expected[18] == MessageEvent(data: "after id-only block", lastEventID: "0"))
        #expect(expected[21] == MessageEvent(data: "reset", lastEventID: ""))
        #expect(expected[26] == MessageEvent(type: "empty-data", data: "", lastEventID: "last"))
    }

    @Test func `each event alone round-trips, byte by byte`() throws {
        for event in Self.trickyEvents {
            var parser = ServerSentEventParser()
            let events = FeedMode.byteByByte.feed(try event.encoded(), to: &parser)
            #expect(events == Self.expectedMessages(for: [event]), "\(event)")
        }
    }

    /// What a conforming client dispatches for `events`: data-less events dispatch nothing but
    /// their id sticks; the format has one kind of line end, so CR and CRLF come back as LF.
    static func expectedMessages(for events: [ServerSentEvent]) -> [MessageEvent] {
        var lastEventID = ""
        var messages: [MessageEvent] = []
        for event in events {
            if let id = event.id {
                lastEventID = id
            }
            guard let data = event.data else { continue }
            let type = event.event.flatMap { $0.isEmpty ? nil : $0 } ?? "message"
            messages.append(
                MessageEvent(type: type, data: normalizingLineEnds(data), lastEventID: lastEventID))
        }
        return messages
    }

    private static func normalizingLineEnds(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" && previousWasCarriageReturn {
                previousWasCarriageReturn = false
                continue
            }
            previousWasCarriageReturn = scalar == "\r"
            scalars.append(scalar == "\r" ? "\n" : scalar)
        }
        return String(scalars)
    }
}
