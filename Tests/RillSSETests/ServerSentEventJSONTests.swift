import Foundation
import RillSSE
import Testing

private struct Price: Codable, Equatable {
    var symbol: String
    var cents: Int
    var note: String
}

@Suite("Building a ServerSentEvent from JSON")
struct ServerSentEventJSONTests {
    private static let price = Price(symbol: "ACME", cents: 1250, note: "line one\nline two")

    @Test func `compact JSON becomes the data, with the other fields passed through`() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let event = try ServerSentEvent(
            json: Self.price, event: "price", id: "9", retry: .seconds(1), encoder: encoder)
        #expect(event.data == #"{"cents":1250,"note":"line one\nline two","symbol":"ACME"}"#)
        #expect(event.event == "price")
        #expect(event.id == "9")
        #expect(event.retry == .seconds(1))
        #expect(event.comment == nil)
        // The newline inside the string is escaped by JSON, so the data stays one line.
        #expect(
            String(decoding: try event.encoded(), as: UTF8.self)
                == "event: price\nid: 9\nretry: 1000\n"
                + #"data: {"cents":1250,"note":"line one\nline two","symbol":"ACME"}"# + "\n\n")
    }

    @Test func `the default encoder is used when none is given`() throws {
        let event = try ServerSentEvent(json: [1, 2, 3])
        #expect(event.data == "[1,2,3]")
        #expect(event.event == nil && event.id == nil && event.retry == nil)
    }

    @Test func `pretty-printed JSON is split into data lines and reassembles exactly`() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let event = try ServerSentEvent(json: Self.price, encoder: encoder)
        let prettyText = try #require(event.data)
        #expect(prettyText.contains("\n"))

        let wire = String(decoding: try event.encoded(), as: UTF8.self)
        #expect(wire.hasPrefix("data: {\ndata:   \"cents\" : 1250,\n"))
        #expect(wire.hasSuffix("\ndata: }\n\n"))

        var parser = ServerSentEventParser()
        let events = parser.parse(try event.encoded())
        #expect(events == [MessageEvent(data: prettyText)])
        let decoded = try JSONDecoder().decode(Price.self, from: Data(events[0].data.utf8))
        #expect(decoded == Self.price)
    }

    @Test func `an encoding failure is thrown`() {
        #expect(throws: EncodingError.self) {
            try ServerSentEvent(json: Double.nan)
        }
    }
}
