import Rill
import RillTesting
import Testing

/// Presence in the framework: an authentication hook names the client
/// (`RequestContext.presenceIdentity`), every stream joins its channels' presence while it
/// lasts, and `app.presence(of:)` reads it, authorized like subscribing when given a request.
@Suite(.timeLimit(.minutes(1)))
struct PresenceTests {
    /// `/stream` names the client after its `X-User` header (anonymous without one);
    /// `/who?channel=` answers the channel's presence; the hook refuses channels named `secret`.
    private func presenceApp(broker: BrokerFactory = .inMemory()) throws -> Application {
        let router = Router()
        let app = try Application(
            router: router, configuration: ServerConfiguration(eventLoopCount: 2, host: "127.0.0.1", port: 0), broker: broker)
        app.authorizeChannels { _, _, channel, _ in channel != "secret" }
        router.get("/stream") { request, context in
            var context = context
            context.presenceIdentity = request.headerFields[HTTPField.Name("X-User")!]
            return try await context.eventStream(for: request)
        }
        router.get("/who") { request, context in
            let presence = try await app.presence(of: request.query["channel"] ?? "", limit: 10, authorizing: (request, context))
            return ["count": "\(presence.count)", "members": presence.members.map(\.sub).sorted().joined(separator: ",")]
        }
        return app
    }

    @Test func `streams are counted while they last, with the identity the hook gave them`() async throws {
        let app = try presenceApp()
        try await app.test(.live) { client in
            let user = HTTPField.Name("X-User")!
            let streams = [
                try await client.sse("/stream?channel=room&channel=hall", headerFields: [user: "ann"]),
                try await client.sse("/stream?channel=room", headerFields: [user: "ben"]),
                try await client.sse("/stream?channel=room"),
            ]
            #expect(await eventually { (try? await app.presence(of: "room").count) == 3 })
            let room = try await app.presence(of: "room")
            #expect(room.memberCount == 2)
            #expect(Set(room.members.map(\.sub)) == ["ann", "ben"])
            #expect(try await app.presence(of: "hall").members.map(\.sub) == ["ann"])
            #expect(try await client.get("/who?channel=room").decode([String: String].self) == ["count": "3", "members": "ann,ben"])
            #expect(try await client.get("/who?channel=secret").status == .forbidden)
            #expect(try await client.get("/who?channel=").status == .badRequest)

            streams[0].close()
            #expect(await eventually { (try? await app.presence(of: "room").count) == 2 })
            #expect(try await app.presence(of: "hall").count == 0)
            for stream in streams.dropFirst() { stream.close() }
            #expect(await eventually { (try? await app.presence(of: "room").count) == 0 })
        }
    }

    @Test func `a stream refused by the authorization hook is never counted`() async throws {
        let app = try presenceApp()
        try await app.test(.live) { client in
            let refused = try await client.get("/stream?channel=secret")
            #expect(refused.status == .forbidden)
            #expect(try await app.presence(of: "secret").count == 0)
        }
    }

    @Test func `in memory, no notice is published while no stream watches`() async throws {
        var configuration = BrokerConfiguration()
        configuration.presence = PresenceConfiguration(coalescingWindow: .milliseconds(20))
        let app = try presenceApp(broker: .inMemory(configuration))
        try await app.test(.live) { client in
            let quiet = try await client.sse("/stream?channel=room", headerFields: [HTTPField.Name("X-User")!: "ann"])
            #expect(await eventually { (try? await app.presence(of: "room").count) == 1 })
            quiet.close()
            #expect(await eventually { (try? await app.presence(of: "room").count) == 0 })
            try await Task.sleep(for: .milliseconds(100))  // five windows
            #expect(await app.broker.statistics().publishedEventCount == 0)

            let watching = try await client.sse("/stream?channel=room&presence=1")
            #expect(try await watching.events(1).map(\.type) == ["rill-join"])
            #expect(await app.broker.statistics().publishedEventCount == 1)
            watching.close()
        }
    }
}
