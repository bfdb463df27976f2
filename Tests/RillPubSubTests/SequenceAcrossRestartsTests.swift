import RillCore
import RillPubSub
import RillSSE
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The in-memory broker's ids across a restart: a new process must not take an id of the old
/// one for its own (which would resume a client silently past events it never had).
@Suite struct SequenceAcrossRestartsTests {
    /// Publishes `count` events without ids to `channel` on a new broker, subscribes first so
    /// that the last one's id and the stream's opening position can be kept, and shuts the
    /// broker's loop down (the "process" ends).
    private func runProcess(publishing count: Int, to channel: String, configuration: BrokerConfiguration = .init()) async throws
        -> (ids: [String], position: String?)
    {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: configuration)
        let result = try await onLoop(loop) { () -> ([String], String?) in
            let subscription = try broker.subscribeOnLoop(to: [channel], lastEventID: nil)
            let position = subscription.startPosition
            for n in 1...count { try broker.publishOnLoop(ServerSentEvent(data: "old \(n)"), to: channel) }
            return (subscription.takeBuffered().compactMap(\.id), position)
        }
        await loop.shutdown()
        return (result.0, result.1)
    }

    @Test func `ids start from the clock in microseconds and keep increasing in a later broker`() async throws {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let before = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        let first = try await runProcess(publishing: 3, to: "a")
        let firstIDs = first.ids.compactMap { UInt64($0) }
        #expect(firstIDs.count == 3)
        #expect(firstIDs[0] >= before)
        #expect(firstIDs == [firstIDs[0], firstIDs[0] + 1, firstIDs[0] + 2])
        // Exact as a JavaScript number (what a browser client may parse an id into).
        #expect(firstIDs[2] < 1 << 53)
        try await Task.sleep(for: .milliseconds(2))
        let second = try await runProcess(publishing: 1, to: "a")
        #expect(UInt64(second.ids[0])! > firstIDs[2])
    }

    @Test func `a client resuming with an id of an earlier process is told gap and gets all the new one holds`() async throws {
        for fixed in [nil, 1] as [UInt64?] {
            // The old process: the client saw events up to the fifth, and its stream's position.
            let old = try await runProcess(publishing: 5, to: "news", configuration: .init(firstSequenceNumber: fixed))
            try await Task.sleep(for: .milliseconds(2))
            // The new process published as many (and more) before the client came back.
            let loop = try EventLoop()
            let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: fixed))
            let outcomes = try await onLoop(loop) { () -> [(ReplayStatus, [String])] in
                for n in 1...7 { try broker.publishOnLoop(ServerSentEvent(data: "new \(n)"), to: "news") }
                return try [old.ids[4], old.position!].map { id in
                    let back = try broker.subscribeOnLoop(to: ["news"], lastEventID: id)
                    return (back.replayStatus, data(back.takeBuffered()))
                }
            }
            await loop.shutdown()
            if fixed == nil {
                // Ids from the clock: neither the old event's id nor the old position is taken
                // for one of the new process's; the client gets everything, told it missed some.
                for (status, replayed) in outcomes {
                    #expect(status == .gap)
                    #expect(replayed == (1...7).map { "new \($0)" })
                }
            } else {
                // What fixed ids give (documented): the old `5` is the new `5`, and the client
                // silently skips the new process's first five events.
                #expect(outcomes[0].0 == .complete)
                #expect(outcomes[0].1 == ["new 6", "new 7"])
            }
        }
    }
}
