import RillHTTP
import Testing

@testable import Rill

/// Bytes framed once and shared by every connection must be exactly what framing them per
/// connection would produce.
@Suite struct PreframedChunkTests {
    @Test func theSharedChunksAreTheFramedComments() {
        for (comment, chunk) in [
            (HTTPConnection.openingComment, HTTPConnection.openingChunk),
            (HTTPConnection.heartbeatComment, HTTPConnection.heartbeatChunk),
        ] {
            var framed: [UInt8] = []
            HTTPResponseSerializer.writeChunk(comment, into: &framed)
            #expect(framed == chunk)
        }
    }

    @Test func sharedStreamFieldsAlreadyHoldTheStandardFields() {
        for status in [ReplayStatus.live, .complete, .gap] {
            let fields = status.headerFields
            #expect(EventStream.withStandardFields(fields) == fields)
            #expect(fields[.contentType] == "text/event-stream; charset=utf-8")
            #expect(fields[Application.replayField] == status.headerValue)
        }
    }
}
