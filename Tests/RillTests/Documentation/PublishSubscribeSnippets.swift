import Dispatch
import Rill
import RillRedis

/// The Swift code of `Rill.docc/PublishSubscribe.md`, compiled here so it cannot rot (never
/// called: it would listen on port 8080, or connect to Redis). `DocumentationSnippetTests` checks
/// that the article shows exactly this code.
enum PublishSubscribeSnippets {
    // PublishSubscribe.md: publish and subscribe — begin
    static func publishAndSubscribe() async throws {
        let router = Router()
        router.get("/stream") { request, context in
            try await context.eventStream(for: request)  // ?channel=…, repeatable; "sse" when none
        }
        router.post("/send") { request, context in
            let receipt = try await context.publish(["message": request.bodyText], event: "notify")
            return "sent as \(receipt.id) to \(receipt.subscriberCount) subscriber(s)"
        }
        let app = try Application(router: router)
        try await app.run()
    }
    // PublishSubscribe.md: publish and subscribe — end

    // PublishSubscribe.md: channels from the path — begin
    static func channelsFromThePath(router: Router) {
        router.get("/users/:id/events") { request, context in
            try await context.eventStream(for: request, channels: ["user.\(try context.parameter("id"))"])
        }
    }
    // PublishSubscribe.md: channels from the path — end

    // PublishSubscribe.md: patterns from the path — begin
    static func patternsFromThePath(router: Router) {
        router.get("/users/:id/everything") { request, context in
            let id = try context.parameter("id")
            return try await context.eventStream(for: request, channels: [], patterns: [try ChannelPattern("users/\(id)/**")])
        }
    }
    // PublishSubscribe.md: patterns from the path — end

    // PublishSubscribe.md: history — begin
    static func history(router: Router) async throws {
        let app = try Application(
            router: router, broker: .inMemory(BrokerConfiguration(historyCount: 100, historyMaxAge: .seconds(600))))
        try await app.run()
    }
    // PublishSubscribe.md: history — end

    // PublishSubscribe.md: authorization — begin
    static func authorization() async throws {
        let router = Router()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        router.post("/rooms/:room") { request, context in
            try await context.publish(request.bodyText, channel: try context.parameter("room"), authorizing: request)
        }
        let app = try Application(router: router)
        app.authorizeChannels { request, context, channel, access in
            switch access {
            case .subscribe: channel == "lobby" || request.query["token"] == "reader-token"
            // A pattern (`rooms/*`) may match any channel: only for readers with the token.
            case .subscribeToPattern: request.query["token"] == "reader-token"
            case .publish: request.headerFields[.authorization] == "Bearer writer-token"
            }
        }
        try await app.run()
    }
    // PublishSubscribe.md: authorization — end

    // PublishSubscribe.md: presence — begin
    static func presence(router: Router, userField: HTTPField.Name) throws {
        let app = try Application(router: router)  // before the routes that use it
        router.get("/stream") { request, context in
            var context = context
            context.presenceIdentity = request.headerFields[userField]  // whatever authenticated the client
            return try await context.eventStream(for: request)
        }
        router.get("/who") { request, context in
            try await app.presence(of: request.query["channel"] ?? "lobby", limit: 50, authorizing: (request, context))
        }
    }
    // PublishSubscribe.md: presence — end

    // PublishSubscribe.md: posting from any thread — begin
    static func postingFromAnyThread(router: Router) async throws {
        let app = try Application(router: router)
        DispatchQueue.global().async {
            app.post(ServerSentEvent(data: "maintenance at 02:00", event: "notice"), channel: "news")
        }
        try await app.run()
    }
    // PublishSubscribe.md: posting from any thread — end

    // PublishSubscribe.md: redis — begin
    static func redis() async throws {
        let router = Router()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        let app = try Application(router: router, broker: try .redis(url: "redis://127.0.0.1:6379/0"))
        try await app.run()
    }
    // PublishSubscribe.md: redis — end
}
