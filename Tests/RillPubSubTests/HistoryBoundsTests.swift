import DequeModule
import RillCore
import RillPubSub
import RillSSE
import Testing

/// `count` events of `size` bytes of data each.
private func payload(_ size: Int) -> String { String(repeating: "x", count: size) }

/// Last-Event-ID rule: an id identifies the event that carries exactly it.
@Suite struct LastEventIDRuleTests {
    @Test func `an ID no event carries is a gap, even when it parses as a sequence number`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (status, replayed) = try await onLoop(loop) {
            for n in 1...5 { try broker.publishOnLoop(ServerSentEvent(data: "n\(n)", id: "p\(n)"), to: "a") }
            // "3" is sequence number 3, but that event's id is "p3": "3" names no event.
            let subscription = try broker.subscribeOnLoop(to: ["a"], lastEventID: "3")
            return (subscription.replayStatus, subscription.takeBuffered())
        }
        #expect(status == .gap)
        #expect(data(replayed) == ["n1", "n2", "n3", "n4", "n5"])
        await loop.shutdown()
    }

    @Test func `a publisher's numeric ID is matched exactly, not read as a sequence number`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (status, replayed) = try await onLoop(loop) {
            for n in 1...9 { try broker.publishOnLoop(ServerSentEvent(data: "other \(n)"), to: "other") }
            try broker.publishOnLoop(ServerSentEvent(data: "tenth", id: "5"), to: "a")  // sequence 10
            try broker.publishOnLoop(ServerSentEvent(data: "eleventh"), to: "a")
            let subscription = try broker.subscribeOnLoop(to: ["a", "other"], lastEventID: "5")
            return (subscription.replayStatus, subscription.takeBuffered())
        }
        // Position 10 (the event carrying "5"), not sequence number 5.
        #expect(status == .complete)
        #expect(data(replayed) == ["eleventh"])
        await loop.shutdown()
    }

    @Test func `a broker-assigned ID stays the client's position after its event left the history`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 3))
        let results = try await onLoop(loop) { () -> [(ReplayStatus, [String])] in
            for n in 1...2 { try broker.publishOnLoop(ServerSentEvent(data: "b\(n)"), to: "b") }
            let ids = try (1...5).map { try broker.publishOnLoop(ServerSentEvent(data: "a\($0)"), to: "a").id }
            // a2 left a's history (a3, a4 and a5 are held): nothing after it was lost, and b1 and
            // b2 came before it.
            let justTrimmed = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: ids[1])
            // After a1, a2 was lost: a gap, and still nothing from before a1.
            let lostAfter = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: ids[0])
            // The same id on a channel that never lost anything.
            let otherChannel = try broker.subscribeOnLoop(to: ["b"], lastEventID: ids[1])
            // Not a number this broker handed out: the one past its last, and a leading zero.
            let beyond = try broker.subscribeOnLoop(to: ["a"], lastEventID: String(UInt64(ids[4])! + 1))
            let padded = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: "0" + ids[1])
            return [justTrimmed, lostAfter, otherChannel, beyond, padded].map { ($0.replayStatus, data($0.takeBuffered())) }
        }
        #expect(results[0].0 == .complete && results[0].1 == ["a3", "a4", "a5"])
        #expect(results[1].0 == .gap && results[1].1 == ["a3", "a4", "a5"])
        #expect(results[2].0 == .complete && results[2].1.isEmpty)
        #expect(results[3].0 == .gap && results[3].1 == ["a3", "a4", "a5"])
        #expect(results[4].0 == .gap && results[4].1 == ["b1", "b2", "a3", "a4", "a5"])
        await loop.shutdown()
    }

    @Test func `once a publisher used IDs that read as sequence numbers, a trimmed ID is a gap again`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 3, firstSequenceNumber: 1))
        let (status, replayed) = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "b1", id: "900"), to: "b")  // sequence 1
            for n in 1...5 { try broker.publishOnLoop(ServerSentEvent(data: "a\(n)"), to: "a") }  // 2...6
            // "3" (a2's) left the history; a publisher's "3" might have been meant.
            let subscription = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: "3")
            return (subscription.replayStatus, data(subscription.takeBuffered()))
        }
        #expect(status == .gap)
        #expect(replayed == ["b1", "a3", "a4", "a5"])
        await loop.shutdown()
    }

    @Test func `a forgotten channel's last ID is a position: complete if it lost nothing after it`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 1))
        let results = try await onLoop(loop) { () -> [(ReplayStatus, [String])] in
            let first = try broker.publishOnLoop(ServerSentEvent(data: "a1"), to: "a").id
            let last = try broker.publishOnLoop(ServerSentEvent(data: "a2"), to: "a").id
            try broker.publishOnLoop(ServerSentEvent(data: "c1"), to: "c")  // forgets a
            let fromLast = try broker.subscribeOnLoop(to: ["a"], lastEventID: last)
            let fromFirst = try broker.subscribeOnLoop(to: ["a"], lastEventID: first)
            return [fromLast, fromFirst].map { ($0.replayStatus, data($0.takeBuffered())) }
        }
        #expect(results[0].0 == .complete && results[0].1.isEmpty)
        #expect(results[1].0 == .gap && results[1].1.isEmpty)
        await loop.shutdown()
    }

    @Test func `the sequence fast path checks the ID of the event it finds`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (status, replayed) = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "one", id: "2"), to: "a")  // sequence 1
            try broker.publishOnLoop(ServerSentEvent(data: "two", id: "x"), to: "a")  // sequence 2
            try broker.publishOnLoop(ServerSentEvent(data: "three"), to: "a")  // sequence 3, id "3"
            let subscription = try broker.subscribeOnLoop(to: ["a"], lastEventID: "2")
            return (subscription.replayStatus, subscription.takeBuffered())
        }
        #expect(status == .complete)
        #expect(data(replayed) == ["two", "three"])
        await loop.shutdown()
    }
}

/// ``InMemoryBroker/markEventsLost(in:includingUnpublished:)``: presence marks the notices it did not publish.
@Suite struct MarkedLossTests {
    @Test func `a channel marked lost is a gap from any earlier event, and trimming never lowers the mark`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 3, firstSequenceNumber: 1))
        let (beforeMark, afterMark, replayed) = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "one"), to: "a")  // 1
            try broker.publishOnLoop(ServerSentEvent(data: "two"), to: "a")  // 2
            broker.markEventsLost(in: ["a", "never-held"], includingUnpublished: false)  // 3: no event has it
            try broker.publishOnLoop(ServerSentEvent(data: "four"), to: "a")  // 4
            // A fourth event trims "one" (sequence 1): the loss stays at 3, not 1.
            try broker.publishOnLoop(ServerSentEvent(data: "five"), to: "a")  // 5
            let fromTwo = try broker.subscribeOnLoop(to: ["a"], lastEventID: "2")
            let fromFour = try broker.subscribeOnLoop(to: ["a"], lastEventID: "4")
            return (fromTwo.replayStatus, fromFour.replayStatus, fromTwo.takeBuffered())
        }
        #expect(beforeMark == .gap)
        #expect(data(replayed) == ["four", "five"])
        #expect(afterMark == .complete)
        // A channel the broker never held is left alone (not made).
        #expect(await broker.channelStatistics().map(\.name) == ["a"])
        await loop.shutdown()
    }
}

extension MarkedLossTests {
    /// Audit 10 L2: a marked notice channel that is forgotten raised the floor of every
    /// pattern's resume to its fresh mark — a false gap for subscribers no pattern could have
    /// given a notice.
    @Test func `a forgotten notice channel's mark is no pattern subscriber's gap`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 10, maxChannels: 2, firstSequenceNumber: 1))
        let status = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "joined"), to: "rill-presence/room")
            let position = try broker.publishOnLoop(ServerSentEvent(data: "d1"), to: "data/x").id
            broker.markEventsLost(in: ["rill-presence/room"], includingUnpublished: false)
            // A third channel with history: the notice channel's history is forgotten first.
            try broker.publishOnLoop(ServerSentEvent(data: "elsewhere"), to: "other")
            return try broker.subscribeOnLoop(to: [], matching: [try ChannelPattern("data/*")], lastEventID: position).replayStatus
        }
        #expect(status == .complete)
        await loop.shutdown()
    }
}

@Suite struct HistoryBudgetTests {
    @Test func `the history byte budget evicts the oldest events of the least recently published channel and records the gap`() async throws {
        let loop = try EventLoop()
        // Room for about three 1,000-byte events in all.
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxHistoryBytes: 3 * 1200, firstSequenceNumber: 1))
        let (fromEvicted, fromKept, onB) = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: payload(1000)), to: "a")  // 1
            try broker.publishOnLoop(ServerSentEvent(data: payload(1000)), to: "a")  // 2
            try broker.publishOnLoop(ServerSentEvent(data: payload(1000)), to: "b")  // 3
            try broker.publishOnLoop(ServerSentEvent(data: payload(1000)), to: "b")  // 4: evicts 1, a's oldest
            // From before event 1 (a stream opened then), and from event 1 itself.
            let evicted = try broker.subscribeOnLoop(to: ["a"], lastEventID: PositionID.format(0))
            let fromOne = try broker.subscribeOnLoop(to: ["a"], lastEventID: "1")
            let kept = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: "2")
            let onB = try broker.subscribeOnLoop(to: ["b"], lastEventID: "3")
            #expect(fromOne.replayStatus == .complete && fromOne.takeBuffered().map(\.id) == ["2"])
            return (
                (evicted.replayStatus, evicted.takeBuffered().map(\.id)), (kept.replayStatus, kept.takeBuffered().map(\.id)),
                (onB.replayStatus, onB.takeBuffered().map(\.id))
            )
        }
        #expect(fromEvicted.0 == .gap && fromEvicted.1 == ["2"])
        #expect(fromKept.0 == .complete && fromKept.1 == ["3", "4"])
        #expect(onB.0 == .complete && onB.1 == ["4"])
        let statistics = await broker.statistics()
        #expect(statistics.evictedEventCount == 1)
        #expect(statistics.historyByteCount > 0 && statistics.historyByteCount <= 3 * 1200)
        await loop.shutdown()
    }

    @Test func `past maxChannels an idle channel is forgotten and comes back from what the broker forgot`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 2, firstSequenceNumber: 1))
        let (count, status, replayed) = try await onLoop(loop) {
            let holdB = try broker.subscribeOnLoop(to: ["b"], lastEventID: nil)
            try broker.publishOnLoop(ServerSentEvent(data: "b1"), to: "b")  // 1: the client's last event
            try broker.publishOnLoop(ServerSentEvent(data: "a-missed"), to: "a")  // 2
            try broker.publishOnLoop(ServerSentEvent(data: "c1"), to: "c")  // 3: a (idle) is forgotten, not b
            let count = broker.channelCount
            try broker.publishOnLoop(ServerSentEvent(data: "a-new"), to: "a")  // 4: a is back, c forgotten
            let subscription = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: "1")
            holdB.cancel()
            return (count, subscription.replayStatus, subscription.takeBuffered())
        }
        #expect(count == 2)
        #expect(await broker.statistics().evictedEventCount == 2)  // a-missed, then c1
        // "a-missed" is gone: the channel that came back must not claim it held everything.
        #expect(status == .gap)
        #expect(data(replayed) == ["a-new"])
        await loop.shutdown()
    }

    @Test func `a quiet channel made again starts from its own loss, not from what other channels lost`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 2, firstSequenceNumber: 1))
        let (quiet, lossy) = try await onLoop(loop) {
            let first = try broker.subscribeOnLoop(to: ["quiet"], lastEventID: nil)
            let position = try #require(first.startPosition)
            first.cancel()  // "quiet" had nothing: it is forgotten at once, having lost nothing
            try broker.publishOnLoop(ServerSentEvent(data: "a1"), to: "a")
            try broker.publishOnLoop(ServerSentEvent(data: "b1"), to: "b")
            try broker.publishOnLoop(ServerSentEvent(data: "c1"), to: "c")  // a is forgotten with a1
            let quiet = try broker.subscribeOnLoop(to: ["quiet"], lastEventID: position)
            let lossy = try broker.subscribeOnLoop(to: ["a"], lastEventID: position)
            defer {
                quiet.cancel()
                lossy.cancel()
            }
            return (quiet.replayStatus, lossy.replayStatus)
        }
        #expect(quiet == .complete, "nothing was ever published to it")
        #expect(lossy == .gap, "a1 is gone")
        await loop.shutdown()
    }

    @Test func `making a channel for a subscription never forgets another of its channels`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 2, firstSequenceNumber: 1))
        let received = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "b1"), to: "b")
            try broker.publishOnLoop(ServerSentEvent(data: "c1"), to: "c")
            let subscription = try broker.subscribeOnLoop(to: ["b", "a"], lastEventID: nil)  // c goes, not b
            try broker.publishOnLoop(ServerSentEvent(data: "b2"), to: "b")
            return subscription.takeBuffered()
        }
        #expect(data(received) == ["b2"])
        await loop.shutdown()
    }

    @Test func `when every channel with history has subscribers a publish to a new one is refused; subscribing never is`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 2, firstSequenceNumber: 1))
        try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "a1"), to: "a")
            try broker.publishOnLoop(ServerSentEvent(data: "b1"), to: "b")
            let held = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: nil)
            #expect(throws: BrokerError.channelLimitReached(2)) { try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "c") }
            // Channels that only have subscribers hold no history and count toward no limit.
            let more = try broker.subscribeOnLoop(to: ["a", "c", "d"], lastEventID: nil)
            #expect(broker.channelCount == 4)
            more.cancel()
            held.cancel()
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "c")  // a, idle now, goes
            #expect(broker.channelCount == 2)
        }
        await loop.shutdown()
    }

    @Test func `the count of busy channels with history follows subscribes, publishes and cancels exactly`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 3, firstSequenceNumber: 1))
        try await onLoop(loop) {
            let first = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: nil)
            let second = try broker.subscribeOnLoop(to: ["b"], lastEventID: nil)  // b counted once
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "a")
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "b")
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "c")  // a, b busy; c idle
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "d")  // c goes
            let third = try broker.subscribeOnLoop(to: ["d"], lastEventID: nil)  // all three busy
            #expect(throws: BrokerError.channelLimitReached(3)) { try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "e") }
            first.cancel()  // a idle; b still has `second`
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "e")  // a goes
            #expect(broker.channelCount == 3)  // b, d, e
            #expect(throws: BrokerError.channelLimitReached(3)) {
                let fourth = try broker.subscribeOnLoop(to: ["e"], lastEventID: nil)
                defer { fourth.cancel() }
                try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "f")
            }
            second.cancel()  // b idle now: the next new channel takes its place
            try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "f")
            #expect(broker.channelCount == 3)  // d, e, f
            third.cancel()
        }
        await loop.shutdown()
    }

    @Test func `presence-notice channels lose their history first, subscribers or not`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(maxChannels: 2, firstSequenceNumber: 1))
        let (notices, news) = try await onLoop(loop) {
            let watcher = try broker.subscribeOnLoop(to: ["rill-presence/room"], lastEventID: nil)
            try broker.publishOnLoop(ServerSentEvent(data: "joined"), to: "rill-presence/room")  // 1
            try broker.publishOnLoop(ServerSentEvent(data: "older news"), to: "news")  // 2, idle
            try broker.publishOnLoop(ServerSentEvent(data: "other"), to: "other")  // 3: the notices go
            watcher.cancel()
            let notices = try broker.subscribeOnLoop(to: ["rill-presence/room"], lastEventID: "~0")
            let news = try broker.subscribeOnLoop(to: ["news"], lastEventID: "~0")
            defer {
                notices.cancel()
                news.cancel()
            }
            return (notices.replayStatus, (news.replayStatus, data(news.takeBuffered())))
        }
        #expect(notices == .gap)
        #expect(news.0 == .complete)
        #expect(news.1 == ["older news"])
        await loop.shutdown()
    }
}

@Suite struct StoredEventTests {
    @Test func `an event is stored once and decoded from its wire bytes`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let original = ServerSentEvent(data: "line 1\nline 2\n", event: "notify", id: "custom", retry: .milliseconds(1500))
        let stored = try await onLoop(loop) {
            let subscription = try broker.subscribeOnLoop(to: ["a"], lastEventID: nil)
            try broker.publishOnLoop(original, to: "a")
            return subscription.takeBuffered()[0]
        }
        #expect(stored.event == original)
        #expect(stored.encodedBytes == (try original.encoded()))
        #expect(stored.storedByteCount == stored.encodedBytes.count + BrokerEvent.storageOverheadBytes)
        await loop.shutdown()
    }
}

@Suite struct LazyHistoryReplayTests {
    @Test func `a replay is produced in pieces as the subscriber takes it`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let pieces = try await onLoop(loop) { () -> [[String]] in
            for n in 1...6 { try broker.publishOnLoop(ServerSentEvent(data: payload(100) + "\(n)"), to: n.isMultiple(of: 2) ? "b" : "a") }
            let subscription = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: "1")
            try broker.publishOnLoop(ServerSentEvent(data: "live"), to: "a")  // 7: after the replay
            var pieces: [[String]] = []
            while subscription.hasPendingReplay { pieces.append(subscription.takeReplay(maxBytes: 250).map(\.id)) }
            pieces.append(subscription.takeBuffered().map(\.id))
            return pieces
        }
        // About 250 bytes a piece (the last event may pass it), the live event after the replay.
        #expect(pieces == [["2", "3", "4"], ["5", "6"], ["7"]])
        await loop.shutdown()
    }

    @Test func `history trimmed past a replay in progress ends the subscription as a slow consumer`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 10, firstSequenceNumber: 1))
        let (first, rest, active) = try await onLoop(loop) {
            // 20 KB events: the subscription reads the history 64 KB at a time (2 to 5 first).
            for n in 1...10 { try broker.publishOnLoop(ServerSentEvent(data: payload(20_000) + "\(n)"), to: "a") }
            let subscription = try broker.subscribeOnLoop(to: ["a"], lastEventID: "1")
            let first = subscription.takeReplay(maxBytes: 1).map(\.id)
            // Events 6 to 10, not yet read, leave the history.
            for n in 11...20 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "a") }
            var rest: [String] = []
            while case let piece = subscription.takeReplay(maxBytes: 1), !piece.isEmpty { rest += piece.map(\.id) }
            return (first, rest, subscription.isActive)
        }
        #expect(first == ["2"])
        #expect(rest == ["3", "4", "5"])
        #expect(!active)
        #expect(await broker.statistics().slowConsumerDisconnectCount == 1)
        await loop.shutdown()
    }
}

@Suite struct HeldLiveEventTests {
    @Test func `in push mode, live events wait behind the replay within their byte bound`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (pushedDuringReplay, pushed, overflowed) = try await onLoop(loop) { () -> ([String], [String], Bool) in
            for n in 1...3 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "a") }
            let subscription = try broker.subscribeOnLoop(to: ["a"], lastEventID: "1")
            var pushed: [String] = []
            subscription.attach(sink: { pushed.append($0.id) }, ended: { _ in }, maxHeldBytes: 1000)
            for n in 4...5 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "a") }
            let duringReplay = pushed
            // The last piece empties the replay; the held events follow once the caller sent it.
            #expect(subscription.takeReplay(maxBytes: .max).map(\.id) == ["2", "3"])
            subscription.releaseHeldEvents()
            try broker.publishOnLoop(ServerSentEvent(data: "6"), to: "a")
            // Another subscription holds more than its bound while it replays: it ends.
            let slow = try broker.subscribeOnLoop(to: ["a"], lastEventID: "1")
            slow.attach(sink: { _ in }, ended: { _ in }, maxHeldBytes: 30)
            try broker.publishOnLoop(ServerSentEvent(data: String(repeating: "x", count: 40)), to: "a")
            return (duringReplay, pushed, !slow.isActive)
        }
        #expect(pushedDuringReplay.isEmpty)
        #expect(pushed == ["4", "5", "6", "7"])
        #expect(overflowed)
        await loop.shutdown()
    }
}
