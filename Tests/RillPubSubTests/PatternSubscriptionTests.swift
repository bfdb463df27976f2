import RillCore
import RillPubSub
import RillSSE
import Testing

/// Subscriptions to channel patterns on the in-memory broker: live delivery, each event once,
/// replay across the matching channels in id order, gaps, clean-up, and several loops.
@Suite struct PatternSubscriptionTests {
    private func patterns(_ texts: String...) throws -> [ChannelPattern] { try texts.map { try ChannelPattern($0) } }

    @Test func `a pattern receives the events of every channel it matches and no other`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let chat = try patterns("chat/*")
        let received = try await onLoop(loop) {
            let subscription = try broker.subscribeOnLoop(to: [], matching: chat, lastEventID: nil)
            for (data, channel) in [("lobby", "chat/lobby"), ("deep", "chat/lobby/typing"), ("news", "news"), ("kitchen", "chat/kitchen")] {
                try broker.publishOnLoop(ServerSentEvent(data: data), to: channel)
            }
            defer { subscription.cancel() }
            return subscription.takeBuffered()
        }
        #expect(data(received) == ["lobby", "kitchen"])
        #expect(received.map(\.channel) == ["chat/lobby", "chat/kitchen"])
        await loop.shutdown()
    }

    @Test func `distinct patterns are bounded per broker, shared ones are free`() async throws {
        let loop = try EventLoop()
        var configuration = BrokerConfiguration()
        configuration.firstSequenceNumber = 1
        configuration.maxPatterns = 2
        let broker = InMemoryBroker(eventLoop: loop, configuration: configuration)
        let first = try await broker.subscribe(to: [], matching: try patterns("a/*", "b/*"), lastEventID: nil)
        // Patterns in use cost nothing more; a third distinct one is refused and leaves nothing.
        let shared = try await broker.subscribe(to: ["news"], matching: try patterns("b/*"), lastEventID: nil)
        await #expect(throws: BrokerError.patternLimitReached(2)) {
            _ = try await broker.subscribe(to: ["other"], matching: try patterns("a/*", "c/*"), lastEventID: nil)
        }
        #expect(broker.patternCount == 2)
        #expect(await broker.statistics().subscriptionCount == 2)
        #expect(broker.channelCount == 1)  // "news"; "other" was not made
        // Once a pattern is no longer used, another may take its place.
        first.cancel()
        #expect(await eventually { broker.patternCount == 1 })
        let third = try await broker.subscribe(to: [], matching: try patterns("c/*"), lastEventID: nil)
        #expect(broker.patternCount == 2)
        shared.cancel()
        third.cancel()
        await loop.shutdown()
    }

    @Test func `a subscription matched by a channel and several patterns takes each event once`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let overlapping = try patterns("chat/*", "chat/**", "**")
        let (received, other, receipt) = try await onLoop(loop) {
            let subscription = try broker.subscribeOnLoop(to: ["chat/lobby"], matching: overlapping, lastEventID: nil)
            let second = try broker.subscribeOnLoop(to: [], matching: [try ChannelPattern("chat/**")], lastEventID: nil)
            let receipt = try broker.publishOnLoop(ServerSentEvent(data: "one"), to: "chat/lobby")
            try broker.publishOnLoop(ServerSentEvent(data: "two"), to: "chat/a/b")
            try broker.publishOnLoop(ServerSentEvent(data: "three"), to: "elsewhere")
            defer {
                subscription.cancel()
                second.cancel()
            }
            return (subscription.takeBuffered(), second.takeBuffered(), receipt)
        }
        #expect(data(received) == ["one", "two", "three"])
        #expect(data(other) == ["one", "two"])
        #expect(receipt.subscriberCount == 2)
        await loop.shutdown()
    }

    @Test func `a replay covers every matching channel's history in id order`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let users = try patterns("users/42/**")
        let (status, replayed, live) = try await onLoop(loop) {
            for (n, channel) in ["users/42", "users/42/inbox", "users/43", "users/42/a/b", "users/42/inbox", "other"].enumerated() {
                try broker.publishOnLoop(ServerSentEvent(data: "e\(n + 1)"), to: channel)
            }
            // The client had event 1: everything after it on a matching channel comes back.
            let subscription = try broker.subscribeOnLoop(to: ["other"], matching: users, lastEventID: "1")
            let replayed = subscription.takeBuffered()
            try broker.publishOnLoop(ServerSentEvent(data: "live"), to: "users/42/new")
            defer { subscription.cancel() }
            return (subscription.replayStatus, replayed, subscription.takeBuffered())
        }
        #expect(status == .complete)
        #expect(replayed.map(\.id) == ["2", "4", "5", "6"])
        #expect(data(live) == ["live"])
        await loop.shutdown()
    }

    @Test func `a pattern replay looks at a bounded number of channels, newest first, and reports a gap past it`() async throws {
        for (scanned, expected) in [(3, ReplayStatus.gap), (6, .complete)] {
            let loop = try EventLoop()
            var configuration = BrokerConfiguration(firstSequenceNumber: 1)
            configuration.maxPatternReplayScannedChannels = scanned
            let broker = InMemoryBroker(eventLoop: loop, configuration: configuration)
            let (status, replayed) = try await onLoop(loop) {
                // Six channels with history; "other" is newest and matches nothing, but is looked at.
                for n in 1...5 { try broker.publishOnLoop(ServerSentEvent(data: "a\(n)"), to: "a/\(n)") }
                try broker.publishOnLoop(ServerSentEvent(data: "other"), to: "other")
                let subscription = try broker.subscribeOnLoop(to: [], matching: try patterns("a/*"), lastEventID: "~0")
                defer { subscription.cancel() }
                return (subscription.replayStatus, data(subscription.takeBuffered()))
            }
            #expect(status == expected, "\(scanned)")
            #expect(replayed == (scanned == 3 ? ["a4", "a5"] : ["a1", "a2", "a3", "a4", "a5"]), "\(scanned)")
            await loop.shutdown()
        }
    }

    @Test func `a replay through a pattern reports a gap when a matching channel lost events`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 2, firstSequenceNumber: 1))
        let chat = try patterns("chat/*")
        let results = try await onLoop(loop) { () -> [(ReplayStatus, [String])] in
            for n in 1...3 { try broker.publishOnLoop(ServerSentEvent(data: "q\(n)"), to: "chat/quiet") }
            for n in 4...8 { try broker.publishOnLoop(ServerSentEvent(data: "b\(n)"), to: "chat/busy") }
            // Event 3 is still in chat/quiet's history, but chat/busy dropped 4–6 after it.
            let trimmed = try broker.subscribeOnLoop(to: [], matching: chat, lastEventID: "3")
            // Event 7 is held and nothing after it was dropped.
            let recent = try broker.subscribeOnLoop(to: [], matching: chat, lastEventID: "7")
            let unknown = try broker.subscribeOnLoop(to: [], matching: chat, lastEventID: "nope")
            defer { for subscription in [trimmed, recent, unknown] { subscription.cancel() } }
            return [trimmed, recent, unknown].map { ($0.replayStatus, data($0.takeBuffered())) }
        }
        #expect(results[0].0 == .gap && results[0].1 == ["b7", "b8"])
        #expect(results[1].0 == .complete && results[1].1 == ["b8"])
        #expect(results[2].0 == .gap && results[2].1 == ["q2", "q3", "b7", "b8"])
        await loop.shutdown()
    }

    @Test func `replay and live meet without gap or duplicate while a publisher races the subscribe`() async throws {
        let loops = try (0..<2).map { try EventLoop(name: "pattern-loop-\($0)") }
        let broker = InMemoryBroker(eventLoops: loops, configuration: .init(subscriberBufferCount: 1000, firstSequenceNumber: 1))
        let rooms = try patterns("room/*")
        _ = try await onLoop(loops[0]) { try broker.publishOnLoop(ServerSentEvent(data: "start"), to: "room/0") }
        let publisher = Task.detached {
            for n in 1...400 { try await broker.publish(ServerSentEvent(data: "\(n)"), to: "room/\(n % 7)") }
        }
        var subscriptions: [Subscription] = []
        for index in 0..<6 {
            let loop = loops[index % 2]
            subscriptions.append(try await onLoop(loop) { try broker.subscribeOnLoop(to: [], matching: rooms, lastEventID: "1") })
        }
        try await publisher.value
        for subscription in subscriptions {
            let ids = try await onLoop(subscription.eventLoop) { () -> [UInt64] in
                var ids: [UInt64] = []
                for try await event in subscription {
                    ids.append(UInt64(event.id)!)
                    if ids.last == 401 { break }
                }
                return ids
            }
            #expect(ids == Array(2...401), "every event after 1, once, in order")
            subscription.cancel()
        }
        for loop in loops { await loop.shutdown() }
    }

    @Test func `a pattern subscriber on another loop gets each event once`() async throws {
        let loops = try (0..<2).map { try EventLoop(name: "pattern-loop-\($0)") }
        let broker = InMemoryBroker(eventLoops: loops, configuration: .init(firstSequenceNumber: 1))
        let everything = try patterns("**")
        let remote = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["a"], matching: everything, lastEventID: nil) }
        let receipt = try await onLoop(loops[0]) { try broker.publishOnLoop(ServerSentEvent(data: "x"), to: "a") }
        _ = try await onLoop(loops[0]) { try broker.publishOnLoop(ServerSentEvent(data: "y"), to: "b/c") }
        #expect(receipt.subscriberCount >= 1)
        let events = try await onLoop(loops[1]) { () -> [BrokerEvent] in
            var events: [BrokerEvent] = []
            for try await event in remote {
                events.append(event)
                if events.count == 2 { break }
            }
            return events
        }
        #expect(data(events) == ["x", "y"])
        let buffered = try await onLoop(loops[1]) { remote.takeBuffered() }
        #expect(buffered.isEmpty)
        remote.cancel()
        for loop in loops { await loop.shutdown() }
    }

    @Test func `a pattern subscription that ends leaves nothing behind`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let chat = try patterns("chat/*", "chat/**")
        try await onLoop(loop) {
            let first = try broker.subscribeOnLoop(to: ["chat/x"], matching: chat, lastEventID: nil)
            let second = try broker.subscribeOnLoop(to: [], matching: chat, lastEventID: nil)
            #expect(broker.patternCount == 2)
            first.cancel()
            #expect(broker.patternCount == 2)
            try broker.publishOnLoop(ServerSentEvent(data: "still"), to: "chat/y")
            #expect(data(second.takeBuffered()) == ["still"])
            second.cancel()
            #expect(broker.patternCount == 0)
            #expect(try broker.publishOnLoop(ServerSentEvent(data: "nobody"), to: "chat/y").subscriberCount == 0)
        }
        #expect(await broker.statistics().subscriptionCount == 0)
        await loop.shutdown()
    }

    @Test func `no pattern receives the server's own presence channels`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let everything = try patterns("**", "rill-presence/*", "*/chat")
        #expect(try !ChannelPattern("**").matches("rill-presence/chat"))
        #expect(try ChannelPattern("**").matches("rill-presence"))
        let received = try await onLoop(loop) {
            let subscription = try broker.subscribeOnLoop(to: [], matching: everything, lastEventID: nil)
            try broker.publishOnLoop(ServerSentEvent(data: "notice"), to: "rill-presence/chat")
            try broker.publishOnLoop(ServerSentEvent(data: "plain"), to: "news/chat")
            defer { subscription.cancel() }
            return subscription.takeBuffered()
        }
        #expect(data(received) == ["plain"])
        let replayed = try await onLoop(loop) {
            let subscription = try broker.subscribeOnLoop(to: [], matching: everything, lastEventID: "nope")
            defer { subscription.cancel() }
            return subscription.takeBuffered()
        }
        #expect(data(replayed) == ["plain"], "nor in a replay")
        await loop.shutdown()
    }
}
