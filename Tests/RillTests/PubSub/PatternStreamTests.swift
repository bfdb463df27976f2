import Rill
import RillCore
import RillTestSupport
import RillTesting
import Testing

/// `?pattern=` on an event stream: what it receives, replay across channels, bad patterns,
/// limits, and what the authorization hook is asked.
@Suite struct PatternStreamTests {
    private func app(configuration: EventStreamConfiguration = .init()) throws -> Application {
        let router = Router()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        router.get("/fixed") { request, context in try await context.eventStream(for: request, channels: ["fixed"]) }
        return try Application(
            router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventStream: configuration))
    }

    private func subscriptions(_ app: Application) async -> Int { await app.broker.statistics().subscriptionCount }

    @Test func `a stream with patterns and channels receives every matching event once`() async throws {
        let app = try app()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?pattern=chat/*&pattern=chat/**&channel=news&channel=chat/lobby")
            #expect(stream.status == .ok)
            #expect(await eventually { await subscriptions(app) == 1 })
            for (text, channel) in [("lobby", "chat/lobby"), ("other", "weather"), ("deep", "chat/a/b"), ("news", "news")] {
                try await app.publish(text, channel: channel)
            }
            #expect(try await stream.events(3).map(\.data) == ["lobby", "deep", "news"])
            stream.close()
        }
    }

    @Test func `a reconnect through a pattern replays the matching channels in id order`() async throws {
        let app = try app()
        try await app.test(.live) { client in
            let first = try await client.sse("/stream?pattern=rooms/*")
            #expect(await eventually { await subscriptions(app) == 1 })
            try await app.publish("a1", channel: "rooms/a")
            #expect(try await first.events(1).map(\.data) == ["a1"])
            first.close()
            #expect(await eventually { await subscriptions(app) == 0 })
            for (text, channel) in [("b2", "rooms/b"), ("x3", "elsewhere"), ("a4", "rooms/a"), ("c5", "rooms/c")] {
                try await app.publish(text, channel: channel)
            }
            let again = try await client.sse(
                "/stream?pattern=rooms/*", headerFields: [HTTPField.Name("Last-Event-ID")!: first.lastEventID])
            #expect(again.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            #expect(try await again.events(3).map(\.data) == ["b2", "a4", "c5"])
            try await app.publish("live", channel: "rooms/new")
            #expect(try await again.events(1).map(\.data) == ["live"])
            again.close()
        }
    }

    @Test func `a malformed pattern or too many patterns get 400 and subscribe nothing`() async throws {
        let app = try app(configuration: .init(maxPatternsPerStream: 2))
        try await app.test(.live) { client in
            let malformed = try await client.get("/stream?pattern=a/**/b/**")
            #expect(malformed.status == .badRequest)
            #expect(malformed.bodyText.contains("'**' may appear only once"))
            let stars = try await client.get("/stream?pattern=a*b*")
            #expect(stars.status == .badRequest)
            let tooMany = try await client.get("/stream?pattern=a/*&pattern=b/*&pattern=c/*")
            #expect(tooMany.status == .badRequest)
            #expect(tooMany.bodyText.contains("at most 2 distinct patterns"))
            // Repeats count once.
            let repeated = try await client.sse("/stream?pattern=a/*&pattern=a/*&pattern=b/*")
            #expect(repeated.status == .ok)
            repeated.close()
            #expect(await eventually { await subscriptions(app) == 0 })
        }
    }

    @Test func `past the broker's distinct-pattern limit a stream gets 503 and subscribes nothing`() async throws {
        let router = Router()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        var broker = BrokerConfiguration()
        broker.maxPatterns = 1
        let app = try Application(
            router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0), broker: .inMemory(broker))
        try await app.test(.live) { client in
            let first = try await client.sse("/stream?pattern=a/*")
            #expect(first.status == .ok)
            let same = try await client.sse("/stream?pattern=a/*")
            #expect(same.status == .ok)
            let refused = try await client.get("/stream?pattern=b/*&channel=news")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headerFields[.retryAfter] == "2")  // as for an unreachable broker
            #expect(refused.bodyText.contains("maximum of 1 distinct patterns"))
            #expect(await subscriptions(app) == 2)
            first.close()
            same.close()
            #expect(await eventually { await subscriptions(app) == 0 })
            let later = try await client.sse("/stream?pattern=b/*")
            #expect(later.status == .ok)
            later.close()
        }
    }

    @Test func `the authorization hook is asked about each pattern as written`() async throws {
        let app = try app()
        let asked = SanitizerVisibleMutex<[String]>([])
        app.authorizeChannels { _, _, channel, access in
            guard access == .subscribeToPattern else { return true }
            asked.withLock { $0.append(channel) }
            return try ChannelPattern("public/**").covers(ChannelPattern(channel))
        }
        try await app.test(.live) { client in
            let denied = try await client.get("/stream?pattern=**")
            #expect(denied.status == .forbidden)
            #expect(denied.bodyText.contains("subscribing to pattern '**' is not allowed"))
            let allowed = try await client.sse("/stream?pattern=public/*")
            #expect(allowed.status == .ok)
            allowed.close()
        }
        #expect(asked.withLock { $0 } == ["**", "public/*"])
    }

    @Test func `a handler that fixes its channels is not widened by the client's patterns`() async throws {
        let app = try app()
        try await app.test(.live) { client in
            let stream = try await client.sse("/fixed?pattern=**&channel=secret")
            #expect(await eventually { await subscriptions(app) == 1 })
            try await app.publish("hidden", channel: "secret")
            try await app.publish("shown", channel: "fixed")
            #expect(try await stream.events(1).map(\.data) == ["shown"])
            stream.close()
        }
    }
}
