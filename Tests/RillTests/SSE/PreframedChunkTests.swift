import HTTPTypes
import RillHTTP
import Testing

@testable import Rill

/// Bytes framed once and shared by every connection must be exactly what framing them per
/// connection would produce.
@Suite struct PreframedChunkTests {
    @Test func `the shared chunks are the framed comments`() {
        for (comment, chunk) in [
            (EventStreamWriter.openingComment, HTTPConnection.openingChunk),
            (HTTPConnection.heartbeatComment, HTTPConnection.heartbeatChunk),
        ] {
            var framed: [UInt8] = []
            HTTPResponseSerializer.writeChunk(comment, into: &framed)
            #expect(framed == chunk)
        }
    }

    @Test func `an event is framed once per fan-out and its chunk shared by every stream`() {
        var framer = SharedChunkFramer()
        let event = Array("id: 1\ndata: hello\n\n".utf8)
        let first = framer.chunk(of: event)
        var expected: [UInt8] = []
        HTTPResponseSerializer.writeChunk(event, into: &expected)
        #expect(first == expected)
        // The same event again: the very same array, no new framing.
        let second = framer.chunk(of: event)
        first.withUnsafeBufferPointer { a in second.withUnsafeBufferPointer { b in #expect(a.baseAddress == b.baseAddress) } }
        // The next event (the same length, other bytes) gets its own chunk.
        let next = Array("id: 2\ndata: hello\n\n".utf8)
        var expectedNext: [UInt8] = []
        HTTPResponseSerializer.writeChunk(next, into: &expectedNext)
        #expect(framer.chunk(of: next) == expectedNext)
    }

    @Test func `shared stream fields already hold the standard fields`() {
        for status in [ReplayStatus.live, .complete, .gap] {
            let fields = status.headerFields
            #expect(EventStream.withStandardFields(fields) == fields)
            #expect(fields[.contentType] == "text/event-stream; charset=utf-8")
            #expect(fields[Application.replayField] == status.headerValue)
        }
    }

    @Test func `fields lacking, altering or repeating a standard field are completed`() throws {
        let shared = ReplayStatus.live.headerFields
        #expect(EventStream.hasStandardFields(shared))
        let custom = try #require(HTTPField.Name("X-Custom"))
        var lacking = shared
        lacking[.cacheControl] = nil
        lacking[custom] = "1"
        var altered = shared
        altered[.contentType] = "text/plain"
        var repeated = shared
        repeated.append(HTTPField(name: .cacheControl, value: "no-store"))
        for fields in [lacking, altered, repeated, HTTPFields()] {
            #expect(!EventStream.hasStandardFields(fields))
            let completed = EventStream.withStandardFields(fields)
            #expect(EventStream.hasStandardFields(completed))
            #expect(completed[values: .cacheControl] == ["no-store"])
            #expect(completed[values: .contentType] == ["text/event-stream; charset=utf-8"])
            #expect(completed[values: EventStream.accelBuffering] == ["no"])
        }
        #expect(EventStream.withStandardFields(lacking)[custom] == "1")
    }
}
