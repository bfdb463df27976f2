import RillCore
import RillPubSub
import RillSSE
import Testing

/// A subscription's start position (`~` and the broker's sequence number), what an event stream
/// opens with, read back as a `Last-Event-ID`.
@Suite struct StartPositionTests {
    @Test func `position ids are formatted and parsed exactly, anything else is not one`() {
        #expect(PositionID.format(0) == "~0")
        #expect(PositionID.format(1234) == "~1234")
        #expect(PositionID.format(1_700_000_000_000, 3) == "~1700000000000-3")
        #expect(PositionID.parse("~1234")! == (1234, 0))
        #expect(PositionID.parse("~1700000000000-3")! == (1_700_000_000_000, 3))
        #expect(PositionID.parse("~18446744073709551615")! == (.max, 0))
        for id in ["", "~", "1234", "~-1", "~1-", "~1-2-3", "~a", "~12a", " ~1", "~1 ", "~18446744073709551616", "~+1", "～1"] {
            #expect(PositionID.parse(id) == nil, "\(id)")
            #expect(!PositionID.isPosition(id), "\(id)")
        }
    }

    @Test func `a publisher's id of the position form is refused, other ids with a tilde are not`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        await #expect(throws: BrokerError.self) { try await broker.publish(ServerSentEvent(data: "x", id: "~5"), to: "a") }
        await #expect(throws: BrokerError.self) { try await broker.publish(ServerSentEvent(data: "x", id: "~5-1"), to: "a") }
        let receipt = try await broker.publish(ServerSentEvent(data: "x", id: "~five"), to: "a")
        #expect(receipt.id == "~five")
        await loop.shutdown()
    }

    @Test func `a subscription starts at the last sequence number, and resuming from it replays what it missed`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (first, status, replayed) = try await onLoop(loop) { () -> (String?, ReplayStatus, [BrokerEvent]) in
            for n in 1...3 { try broker.publishOnLoop(ServerSentEvent(data: "before \(n)"), to: n == 2 ? "b" : "a") }
            let quiet = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: nil)
            let position = quiet.startPosition
            quiet.cancel()  // the client left before its first event
            try broker.publishOnLoop(ServerSentEvent(data: "missed a"), to: "a")
            try broker.publishOnLoop(ServerSentEvent(data: "elsewhere"), to: "c")
            try broker.publishOnLoop(ServerSentEvent(data: "missed b", id: "mine"), to: "b")
            let back = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: position)
            return (position, back.replayStatus, back.takeBuffered())
        }
        #expect(first == "~3")
        #expect(status == .complete)
        #expect(data(replayed) == ["missed a", "missed b"])
        #expect(replayed.map(\.id) == ["4", "mine"])
        await loop.shutdown()
    }

    @Test func `resuming from a position with nothing published since is complete and empty`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (fresh, status, replayed, again) = try await onLoop(loop) { () -> (String?, ReplayStatus, [BrokerEvent], String?) in
            let fresh = try broker.subscribeOnLoop(to: ["a"], lastEventID: nil)
            let back = try broker.subscribeOnLoop(to: ["a"], lastEventID: fresh.startPosition)
            return (fresh.startPosition, back.replayStatus, back.takeBuffered(), back.openingPosition)
        }
        #expect(fresh == "~0")
        #expect(status == .complete && replayed.isEmpty)
        // Nothing to replay: its stream opens with its own position.
        #expect(again == "~0")
        await loop.shutdown()
    }

    @Test func `a position whose events left the history, or that the broker never reached, is a gap`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 2, firstSequenceNumber: 1))
        let results = try await onLoop(loop) { () -> [(ReplayStatus, [String], String?)] in
            try broker.publishOnLoop(ServerSentEvent(data: "n1"), to: "a")
            let early = try broker.subscribeOnLoop(to: ["a"], lastEventID: nil).startPosition
            for n in 2...5 { try broker.publishOnLoop(ServerSentEvent(data: "n\(n)"), to: "a") }
            let trimmed = try broker.subscribeOnLoop(to: ["a"], lastEventID: early)
            let recent = try broker.subscribeOnLoop(to: ["a"], lastEventID: "~3")
            let future = try broker.subscribeOnLoop(to: ["a"], lastEventID: "~99")
            let redisForm = try broker.subscribeOnLoop(to: ["a"], lastEventID: "~3-1")
            return [trimmed, recent, future, redisForm].map {
                ($0.replayStatus, $0.takeBuffered().map { $0.event.data ?? "" }, $0.openingPosition)
            }
        }
        #expect(results[0].0 == .gap && results[0].1 == ["n4", "n5"])
        // Events 4 and 5 are all that followed position 3, and the history still has them.
        #expect(results[1].0 == .complete && results[1].1 == ["n4", "n5"])
        #expect(results[2].0 == .gap && results[2].1 == ["n4", "n5"])
        #expect(results[3].0 == .gap && results[3].1 == ["n4", "n5"])
        await loop.shutdown()
    }

    @Test func `a pattern subscription resumes from its position too`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let replayed = try await onLoop(loop) { () -> [String] in
            try broker.publishOnLoop(ServerSentEvent(data: "old"), to: "rooms.1")
            let quiet = try broker.subscribeOnLoop(to: [], matching: [try ChannelPattern("rooms.*")], lastEventID: nil)
            let position = quiet.startPosition
            quiet.cancel()
            try broker.publishOnLoop(ServerSentEvent(data: "new 2"), to: "rooms.2")
            try broker.publishOnLoop(ServerSentEvent(data: "other"), to: "halls.1")
            try broker.publishOnLoop(ServerSentEvent(data: "new 1"), to: "rooms.1")
            let back = try broker.subscribeOnLoop(to: [], matching: [try ChannelPattern("rooms.*")], lastEventID: position)
            #expect(back.replayStatus == .complete)
            return back.takeBuffered().map { $0.event.data ?? "" }
        }
        #expect(replayed == ["new 2", "new 1"])
        await loop.shutdown()
    }
}
