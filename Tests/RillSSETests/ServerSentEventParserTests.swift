import RillSSE
import Testing

@Suite("Parsing an event stream")
struct ServerSentEventParserTests {
    @Test(arguments: ParserVector.all, FeedMode.all)
    func `WHATWG checklist vectors dispatch the same events however the stream is chunked`(vector: ParserVector, mode: FeedMode) {
        var parser = ServerSentEventParser()
        let events = mode.feed(vector.input, to: &parser)
        parser.finish()
        #expect(events == vector.events)
        #expect(parser.lastEventID == vector.lastEventID)
        #expect(parser.reconnectionTime == vector.reconnectionTime)
        #expect(parser.oversizedLineCount == 0)
    }

    @Test func `a CR at the end of one chunk and an LF at the start of the next are one line end`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse(utf8("data:a\r")) == [])
        #expect(parser.parse(utf8("\ndata:b\r")) == [])
        #expect(parser.parse(utf8("\n")) == [])
        // Had either LF counted as a second line end, "a" would already have been dispatched.
        #expect(parser.parse(utf8("\r\n")) == [MessageEvent(data: "a\nb")])
    }

    @Test func `a CR dispatches at once, without waiting to see whether an LF follows`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse(utf8("data:a\r\r")) == [MessageEvent(data: "a")])
        #expect(parser.parse(utf8("\ndata:b\n\n")) == [MessageEvent(data: "b")])
    }

    @Test func `a multi-byte character split across chunks decodes whole`() {
        var parser = ServerSentEventParser()
        let bytes = utf8("data: €\n\n")  // € is E2 82 AC
        #expect(parser.parse(bytes[0..<7]) == [])
        #expect(parser.parse(bytes[7..<8]) == [])
        #expect(parser.parse(bytes[8...]) == [MessageEvent(data: "€")])
    }

    @Test func `the initial last event id is carried by events until the stream sends an id (L3)`() {
        var parser = ServerSentEventParser(lastEventID: "42")
        #expect(parser.lastEventID == "42")
        #expect(
            parser.parse(utf8("data:a\n\nid:43\ndata:b\n\n"))
                == [MessageEvent(data: "a", lastEventID: "42"), MessageEvent(data: "b", lastEventID: "43")])
    }

    @Test func `finish() discards the incomplete event, so it cannot leak into the next connection`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse(utf8("data:a\n\nevent:late\nid:9\ndata:stale\n")) == [MessageEvent(data: "a")])
        parser.finish()
        #expect(parser.parse(utf8("\n")) == [])
        #expect(parser.parse(utf8("data:fresh\n\n")) == [MessageEvent(data: "fresh", lastEventID: "")])
    }

    @Test func `finish() discards a partial line`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse(utf8("data:a\n\ndata:b")) == [MessageEvent(data: "a")])
        parser.finish()
        #expect(parser.parse(utf8("c\n\n")) == [])
        #expect(parser.parse(utf8("data:d\n\n")) == [MessageEvent(data: "d")])
    }

    @Test func `finish() keeps the last event id and reconnection time for the next connection`() {
        var parser = ServerSentEventParser()
        _ = parser.parse(utf8("retry:1500\nid:7\ndata:a\n\n"))
        parser.finish()
        #expect(parser.lastEventID == "7")
        #expect(parser.reconnectionTime == .milliseconds(1500))
        #expect(parser.parse(utf8("data:b\n\n")) == [MessageEvent(data: "b", lastEventID: "7")])
    }

    @Test func `finish() allows a BOM again at the start of the next stream`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse(byteOrderMark + utf8("data:1\n\n")) == [MessageEvent(data: "1")])
        parser.finish()
        #expect(parser.parse(byteOrderMark + utf8("data:2\n\n")) == [MessageEvent(data: "2")])
    }

    @Test func `finish() in the middle of a BOM starts the next stream cleanly`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse([0xEF, 0xBB]) == [])
        parser.finish()
        #expect(parser.parse(utf8("data:1\n\n")) == [MessageEvent(data: "1")])
    }

    @Test func `empty chunks change nothing`() {
        var parser = ServerSentEventParser()
        #expect(parser.parse([UInt8]()) == [])
        #expect(parser.parse(UnsafeRawBufferPointer(start: nil, count: 0)) == [])
        #expect(parser.parse(byteOrderMark + utf8("data:1\n\n")) == [MessageEvent(data: "1")])
    }

    @Test(arguments: FeedMode.all)
    func `a line longer than maxLineBytes is dropped, counted, and its event not dispatched`(mode: FeedMode) {
        var parser = ServerSentEventParser(maxLineBytes: 8)
        let stream = utf8(
            "data:abc\n\n"  // exactly 8 bytes: accepted
                + "data:abcd\n\n"  // 9 bytes: dropped, the event with it
                + "data:ok\ndata:abcdefghijklmnop\ndata:ok\n\n"  // dropped, partial data not sent
                + "id:1\ndata:abcdefghijkl\n\n"  // the id still applies
                + ":a long comment line\ndata:x\n\n"  // any long line drops its event
                + "data:ok\r\n\r\n")
        let events = mode.feed(stream, to: &parser)
        #expect(events == [MessageEvent(data: "abc"), MessageEvent(data: "ok", lastEventID: "1")])
        #expect(parser.oversizedLineCount == 4)
        #expect(parser.lastEventID == "1")
    }

    @Test func `an endless line is dropped without being buffered, and the stream recovers after it`() {
        var parser = ServerSentEventParser(maxLineBytes: 16)
        #expect(parser.parse(utf8("data:")) == [])
        for _ in 0..<1000 {
            #expect(parser.parse(utf8("xxxxxxxxxx")) == [])
        }
        #expect(parser.parse(utf8("\n\ndata:after\n\n")) == [MessageEvent(data: "after")])
        #expect(parser.oversizedLineCount == 1)
    }

    @Test func `maxLineBytes defaults to 1 MiB and a 1 MiB data line is accepted`() {
        var parser = ServerSentEventParser()
        #expect(parser.maxLineBytes == 1_048_576)
        let payload = String(repeating: "y", count: 1_048_576 - 5)
        let stream = utf8("data:" + payload + "\n\n")
        var events: [MessageEvent] = []
        for start in stride(from: 0, to: stream.count, by: 4096) {
            events += parser.parse(stream[start..<Swift.min(start + 4096, stream.count)])
        }
        #expect(events == [MessageEvent(data: payload)])
        #expect(parser.oversizedLineCount == 0)
    }
}
