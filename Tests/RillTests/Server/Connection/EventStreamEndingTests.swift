import Testing

@testable import Rill

/// What a relayed stream keeps for its ending: nothing without a farewell or deadline, one
/// shared object for the streams with the same farewell, its own with a deadline.
@Suite struct EventStreamEndingTests {
    @Test func `streams with the same farewell share one ending; a deadline's is their own`() throws {
        let farewell = ServerSentEvent(data: #"{"reason":"shutdown"}"#, event: "rill-reconnect")
        #expect(try EventStreamEnding.make(farewell: nil, deadline: nil) == nil)
        let first = try #require(try EventStreamEnding.make(farewell: farewell, deadline: nil))
        let second = try #require(try EventStreamEnding.make(farewell: farewell, deadline: nil))
        #expect(first === second, "one object and one encoding for every stream with this farewell")
        #expect(first.farewell == (try farewell.encoded()))
        let other = try #require(try EventStreamEnding.make(farewell: ServerSentEvent(data: "bye"), deadline: nil))
        #expect(other !== first)
        #expect(other.farewell == (try ServerSentEvent(data: "bye").encoded()))
        let deadline = EventStreamDeadline(.now + .seconds(60), finalEvent: ServerSentEvent(data: "over"))
        let timed = try #require(try EventStreamEnding.make(farewell: farewell, deadline: deadline))
        #expect(timed !== first && timed.deadline != nil)
        first.disarm()  // never armed, shared: touches nothing
    }
}
