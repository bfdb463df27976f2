import RillCore
import RillPubSub
import RillRedis
import RillSSE
import RillTestSupport
import Testing

/// One RedisBroker feeding subscriptions on several loops of one process: one subscriber
/// connection, each loop delivering to its own subscribers.
@Suite(.timeLimit(.minutes(1))) struct RedisBrokerLoopsTests {
    /// A broker over two loops (the first runs the connections).
    private func withBroker<T>(
        _ server: RedisServer, broker: BrokerConfiguration = .init(), _ body: ([EventLoop], RedisBroker) async throws -> T
    ) async throws -> T {
        let loops = try (0..<2).map { try EventLoop(name: "redis-loop-\($0)") }
        let configuration = try RedisBroker.Configuration(url: server.url, broker: broker)
        let redis: RedisBroker
        do {
            redis = try await RedisBroker.connect(eventLoops: loops, configuration: configuration, logger: quietLogger)
        } catch {
            for loop in loops { await loop.shutdown() }
            throw error
        }
        let result: T
        do {
            result = try await body(loops, redis)
        } catch {
            await redis.close()
            for loop in loops { await loop.shutdown() }
            throw error
        }
        await redis.close()
        for loop in loops {
            await loop.shutdown()
            #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
        }
        return result
    }

    /// Subscribes from a task on `loop`, as a handler there would.
    private func subscribe(_ broker: RedisBroker, on loop: EventLoop, to channels: [String], lastEventID: String? = nil) async throws
        -> Subscription
    {
        try await Task(executorPreference: loop.executor) { try await broker.subscribe(to: channels, lastEventID: lastEventID) }.value
    }

    @Test func `subscriptions live on their caller's loop and every loop gets every event in order over one connection`() async throws {
        let server = try RedisServer()
        try await withBroker(server) { loops, broker in
            let onFirst = try await subscribe(broker, on: loops[0], to: ["news"])
            let onSecond = try await subscribe(broker, on: loops[1], to: ["news"])
            let alsoSecond = try await subscribe(broker, on: loops[1], to: ["news", "other"])
            #expect(onFirst.eventLoop === loops[0])
            #expect(onSecond.eventLoop === loops[1] && alsoSecond.eventLoop === loops[1])
            // One SUBSCRIBE for the process, whatever the loops.
            #expect(try await broker.runCommand(["PUBSUB", "NUMSUB", "rill:channel:news"]).elements?.last?.integer == 1)
            var receipts: [PublishReceipt] = []
            for n in 1...20 {
                let loop = loops[n % 2]
                receipts.append(
                    try await Task(executorPreference: loop.executor) {
                        try await broker.publish(ServerSentEvent(data: "\(n)"), to: "news")
                    }.value)
            }
            let expected = (1...20).map(String.init)
            for subscription in [onFirst, onSecond, alsoSecond] {
                let events = try await take(20, from: subscription)
                #expect(events.map { $0.event.data ?? "" } == expected)
                #expect(events.map(\.id) == receipts.map(\.id))
            }
            let statistics = await broker.statistics()
            #expect(statistics.subscribersPerChannel == ["news": 3, "other": 1])
            #expect(statistics.deliveredEventCount == 60)
            for subscription in [onFirst, onSecond, alsoSecond] { subscription.cancel() }
            try await eventually("the subscriptions to leave") { await broker.statistics().subscriptionCount == 0 }
            try await eventually("UNSUBSCRIBE reaching Redis") {
                try await broker.runCommand(["PUBSUB", "NUMSUB", "rill:channel:news"]).elements?.last?.integer == 0
            }
        }
    }

    @Test func `a reconnect on the other loop replays after its Last-Event-ID with no gap and no duplicate while publishes race it`() async throws {
        let server = try RedisServer()
        try await withBroker(server, broker: .init(historyCount: 10_000, subscriberBufferCount: 10_000)) { loops, broker in
            let total = 600
            let publisher = Task(executorPreference: loops[0].executor) {
                for n in 1...total { _ = try await broker.publish(ServerSentEvent(data: "\(n)"), to: "live") }
            }
            var seen: [String] = []
            var lastID: String?
            var statuses: [ReplayStatus] = []
            var round = 0
            while seen.last != String(total) {
                let loop = loops[(round + 1) % 2]
                round += 1
                let subscription = try await subscribe(broker, on: loop, to: ["live"], lastEventID: lastID)
                statuses.append(subscription.replayStatus)
                let events = try await take(37, from: subscription, until: String(total))
                subscription.cancel()
                seen += events.map { $0.event.data ?? "" }
                lastID = events.last?.id ?? lastID
            }
            try await publisher.value
            let first = try #require(seen.first.flatMap { Int($0) })
            #expect(seen == (first...total).map(String.init), "every event from the first on exactly once, in order")
            #expect(statuses.first == .live)
            #expect(statuses.dropFirst().allSatisfy { $0 == .complete })
            #expect(round > 5)
        }
    }

    @Test func `pattern subscribers on both loops get each event once over one PSUBSCRIBE`() async throws {
        let server = try RedisServer()
        try await withBroker(server) { loops, broker in
            let rooms = [try ChannelPattern("rooms/*")]
            let onFirst = try await Task(executorPreference: loops[0].executor) {
                try await broker.subscribe(to: [], matching: rooms, lastEventID: nil)
            }.value
            let onSecond = try await Task(executorPreference: loops[1].executor) {
                try await broker.subscribe(to: ["rooms/a"], matching: rooms, lastEventID: nil)
            }.value
            #expect(onSecond.eventLoop === loops[1])
            #expect(try await broker.runCommand(["PUBSUB", "NUMPAT"]).integer == 1)
            for text in ["a", "b", "c"] { _ = try await broker.publish(ServerSentEvent(data: text), to: "rooms/\(text)") }
            _ = try await broker.publish(ServerSentEvent(data: "no"), to: "lobby")
            for subscription in [onFirst, onSecond] {
                #expect(try await take(3, from: subscription, until: "c").map { $0.event.data ?? "" } == ["a", "b", "c"])
                #expect(subscription.bufferedCount == 0)
                subscription.cancel()
            }
            try await eventually("the subscriptions to leave") { await broker.statistics().subscriptionCount == 0 }
        }
    }

    @Test func `closing the broker ends the subscriptions on every loop`() async throws {
        let server = try RedisServer()
        try await withBroker(server) { loops, broker in
            let onFirst = try await subscribe(broker, on: loops[0], to: ["c"])
            let onSecond = try await subscribe(broker, on: loops[1], to: ["c"])
            await broker.close()
            for subscription in [onFirst, onSecond] {
                await #expect(throws: SubscriptionError.brokerClosed) { _ = try await take(1, from: subscription) }
            }
        }
    }
}

/// Takes up to `count` events, stopping early after the one whose data is `last`.
private func take(_ count: Int, from subscription: Subscription, until last: String) async throws -> [BrokerEvent] {
    try await Task(executorPreference: subscription.eventLoop.executor) {
        var events: [BrokerEvent] = []
        for try await event in subscription {
            events.append(event)
            if events.count == count || event.event.data == last { break }
        }
        return events
    }.value
}
