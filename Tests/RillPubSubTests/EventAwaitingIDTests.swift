import RillPubSub
import RillSSE
import Testing

@Suite struct EventAwaitingIDTests {
    @Test func `putting the sequence number in gives exactly the encoding with that id`() throws {
        let events = [
            ServerSentEvent(data: "hello"),
            ServerSentEvent(data: ""),
            ServerSentEvent(data: "two\nlines\r\nand a CR\r", event: "notify", retry: .milliseconds(2500)),
            ServerSentEvent(data: "x", event: "id", comment: "id:\nid: 7\n:"),
            ServerSentEvent(data: "id:", comment: ""),
        ]
        for event in events {
            for sequence: UInt64 in [0, 1, 9, 10, 99, 100, 12_345, 1_000_000_007, UInt64.max] {
                var awaiting = try EventAwaitingID(event)
                var expected = event
                expected.id = String(sequence)
                #expect(awaiting.encoded(withID: sequence) == (try expected.encoded()), "\(event) with \(sequence)")
            }
        }
    }

    @Test func `an event that cannot be encoded is refused before any id is taken`() {
        #expect(throws: BrokerError.self) { _ = try EventAwaitingID(ServerSentEvent(data: "x", event: "two\nlines")) }
    }
}
