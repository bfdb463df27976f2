import RillCore
import RillPubSub
import RillRedis
import RillSSE
import RillTestSupport
import Testing

/// Pattern subscriptions on RedisBroker (`PSUBSCRIBE`), against a real redis-server: two
/// brokers on two loops stand for two processes.
@Suite(.timeLimit(.minutes(1))) struct RedisPatternTests {
    private func patterns(_ texts: String...) throws -> [ChannelPattern] { try texts.map { try ChannelPattern($0) } }

    @Test func `a pattern on one process receives what another publishes on matching channels, once each`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        // Overlapping patterns and a channel by name: Redis sends each event once per glob and
        // once for the channel; the subscription takes it once.
        let overlapping = try await b.broker.subscribe(to: ["chat/lobby"], matching: try patterns("chat/*", "chat/**"), lastEventID: nil)
        let narrow = try await b.broker.subscribe(to: [], matching: try patterns("chat/*"), lastEventID: nil)
        // One PSUBSCRIBE per glob for the process, however many subscriptions use it: `chat/*`
        // and `chat/**` (as `chat*`).
        #expect(try await b.broker.runCommand(["PUBSUB", "NUMPAT"]).integer == 2)
        var ids: [String] = []
        for (text, channel) in [("lobby", "chat/lobby"), ("deep", "chat/a/b"), ("chatty", "chatty"), ("kitchen", "chat/kitchen"), ("news", "news")] {
            ids.append(try await a.broker.publish(ServerSentEvent(data: text), to: channel).id)
        }
        let received = try await take(3, from: overlapping)
        #expect(dataOf(received) == ["lobby", "deep", "kitchen"])
        #expect(received.map(\.id) == [ids[0], ids[1], ids[3]])
        #expect(dataOf(try await take(2, from: narrow)) == ["lobby", "kitchen"])
        _ = try await a.broker.publish(ServerSentEvent(data: "last"), to: "chat/x")
        #expect(dataOf(try await take(1, from: overlapping)) == ["last"])
        #expect(dataOf(try await take(1, from: narrow)) == ["last"])
        #expect(overlapping.bufferedCount == 0 && narrow.bufferedCount == 0, "no duplicate")
        overlapping.cancel()
        narrow.cancel()
        try await eventually("PUNSUBSCRIBE reaching Redis") { try await b.broker.runCommand(["PUBSUB", "NUMPAT"]).integer == 0 }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `distinct globs are bounded per process`() async throws {
        let server = try RedisServer()
        var configuration = BrokerConfiguration()
        configuration.maxPatterns = 1
        let node = try await Node.start(server, broker: configuration)
        let first = try await node.broker.subscribe(to: [], matching: try patterns("chat/*"), lastEventID: nil)
        let shared = try await node.broker.subscribe(to: [], matching: try patterns("chat/*"), lastEventID: nil)
        await #expect(throws: BrokerError.patternLimitReached(1)) {
            _ = try await node.broker.subscribe(to: ["news"], matching: try patterns("news/*"), lastEventID: nil)
        }
        #expect(try await node.broker.runCommand(["PUBSUB", "NUMPAT"]).integer == 1)
        #expect(await node.broker.statistics().subscriptionCount == 2)
        first.cancel()
        shared.cancel()
        await node.shutdown()
    }

    @Test func `a pattern replays the matching channels' history in id order, then continues live`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        var ids: [String] = []
        for (text, channel) in [("e1", "users/42"), ("e2", "users/42/inbox"), ("e3", "users/43"), ("e4", "users/42/a/b"), ("e5", "users/42/inbox")] {
            ids.append(try await a.broker.publish(ServerSentEvent(data: text), to: channel).id)
        }
        let resumed = try await b.broker.subscribe(to: [], matching: try patterns("users/42/**"), lastEventID: ids[0])
        #expect(resumed.replayStatus == .complete)
        #expect(dataOf(try await take(3, from: resumed)) == ["e2", "e4", "e5"])
        _ = try await a.broker.publish(ServerSentEvent(data: "new channel"), to: "users/42/fresh")
        _ = try await a.broker.publish(ServerSentEvent(data: "old channel"), to: "users/42/inbox")
        _ = try await a.broker.publish(ServerSentEvent(data: "not mine"), to: "users/43")
        #expect(dataOf(try await take(2, from: resumed)) == ["new channel", "old channel"])
        #expect(resumed.bufferedCount == 0)
        // An id the history does not hold: a gap, and what the history holds.
        let unknown = try await b.broker.subscribe(to: [], matching: try patterns("users/42/**"), lastEventID: "nope")
        #expect(unknown.replayStatus == .gap)
        resumed.cancel()
        unknown.cancel()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a replay through a pattern meets live events with no gap and no duplicate`() async throws {
        let server = try RedisServer()
        let roomy = BrokerConfiguration(subscriberBufferCount: 4096)
        let a = try await Node.start(server, broker: roomy)
        let b = try await Node.start(server, broker: roomy)
        let first = try await a.broker.publish(ServerSentEvent(data: "0"), to: "room/0")
        let publisher = Task {
            for n in 1...200 { _ = try await a.broker.publish(ServerSentEvent(data: "\(n)"), to: "room/\(n % 5)") }
        }
        try await Task.sleep(for: .milliseconds(20))
        let resumed = try await b.broker.subscribe(to: [], matching: try patterns("room/*"), lastEventID: first.id)
        try await publisher.value
        #expect(resumed.replayStatus == .complete)
        #expect(dataOf(try await take(200, from: resumed)) == (1...200).map(String.init))
        #expect(resumed.bufferedCount == 0)
        resumed.cancel()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `more matching channels than a replay reads is a gap that keeps the newest`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server) { $0.maximumPatternReplayChannelCount = 2 }
        let start = try await a.broker.publish(ServerSentEvent(data: "start"), to: "elsewhere")
        for n in 1...4 { _ = try await a.broker.publish(ServerSentEvent(data: "c\(n)"), to: "many/\(n)") }
        let resumed = try await b.broker.subscribe(to: [], matching: try patterns("many/*"), lastEventID: start.id)
        #expect(resumed.replayStatus == .gap)
        #expect(dataOf(try await take(2, from: resumed)) == ["c3", "c4"])
        resumed.cancel()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a lost subscriber connection ends pattern subscriptions so that their clients replay`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        let subscription = try await b.broker.subscribe(to: [], matching: try patterns("feed/*"), lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "1"), to: "feed/x")
        let seen = try await take(1, from: subscription)
        _ = try await a.broker.runCommand(["CLIENT", "KILL", "TYPE", "pubsub"])
        await #expect(throws: SubscriptionError.historyLost) { _ = try await take(1, from: subscription) }
        try await eventually("B's subscriber connection coming back") { await b.broker.connectionStatus().subscriber }
        _ = try await a.broker.publish(ServerSentEvent(data: "2"), to: "feed/y")
        let resumed = try await b.broker.subscribe(to: [], matching: try patterns("feed/*"), lastEventID: seen[0].id)
        #expect(resumed.replayStatus == .complete)
        #expect(dataOf(try await take(1, from: resumed)) == ["2"])
        _ = try await a.broker.publish(ServerSentEvent(data: "3"), to: "feed/z")
        #expect(dataOf(try await take(1, from: resumed)) == ["3"])
        resumed.cancel()
        await a.shutdown()
        await b.shutdown()
    }
}
