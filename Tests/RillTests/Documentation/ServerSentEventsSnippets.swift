import Rill

/// The Swift code of `Rill.docc/ServerSentEvents.md`, compiled here so it cannot rot (never
/// called). `DocumentationSnippetTests` checks that the article shows exactly this code.
enum ServerSentEventsSnippets {
    // ServerSentEvents.md: from an async sequence — begin
    static func fromAnAsyncSequence(router: Router) {
        router.get("/ticks") { request, context in
            let loop = context.eventLoop
            let ticks = AsyncStream { () async -> ServerSentEvent? in
                try? await loop.sleep(for: .seconds(1))  // a timer on the handler's own loop
                return ServerSentEvent(data: "tick", event: "tick")
            }
            return EventStream(ticks)
        }
    }
    // ServerSentEvents.md: from an async sequence — end

    // ServerSentEvents.md: the writer form — begin
    static func theWriterForm(router: Router) {
        router.get("/countdown") { request, context in
            // Resume after the last id the client saw; anything else (not one of ours) starts over.
            let last = Int(request.lastEventID ?? "").flatMap { (1...11).contains($0) ? $0 : nil } ?? 11
            return EventStream { stream in
                for n in stride(from: last - 1, through: 0, by: -1) {
                    try await stream.send(ServerSentEvent(data: "\(n)", event: "countdown", id: "\(n)"))
                    try await context.eventLoop.sleep(for: .seconds(1))
                }
            }
        }
    }
    // ServerSentEvents.md: the writer form — end

    // ServerSentEvents.md: heartbeats and retry — begin
    static func heartbeatsAndRetry() async throws {
        let configuration = ServerConfiguration(
            eventStream: EventStreamConfiguration(heartbeatInterval: .seconds(20), retry: .seconds(3)))
        let router = Router()
        router.get("/status") { request, context in
            EventStream(configuration: EventStreamConfiguration(heartbeatInterval: .seconds(5))) { stream in
                try await stream.send(ServerSentEvent(data: "up"))
                try await context.eventLoop.sleep(for: .seconds(3600))
            }
        }
        let app = try Application(router: router, configuration: configuration)
        try await app.run()
    }
    // ServerSentEvents.md: heartbeats and retry — end

    // ServerSentEvents.md: a farewell — begin
    static func aFarewell(router: Router) {
        router.get("/news") { request, context in
            var stream = try await context.eventStream(for: request, channels: ["news"])
            stream.farewell = ServerSentEvent(data: "restarting", event: "bye", retry: .seconds(5))
            return stream
        }
    }
    // ServerSentEvents.md: a farewell — end

    // ServerSentEvents.md: waiting for a slow client — begin
    static func waitingForASlowClient(router: Router) {
        router.get("/export") { request, context in
            EventStream(configuration: EventStreamConfiguration(slowClientPolicy: .wait)) { stream in
                for row in 1...100_000 {
                    try await stream.send(ServerSentEvent(data: "row \(row)", id: "\(row)"))
                }
            }
        }
    }
    // ServerSentEvents.md: waiting for a slow client — end

    // ServerSentEvents.md: telling EventSource to stop — begin
    static func tellingEventSourceToStop(router: Router, jobIsFinished: @escaping @Sendable (String) -> Bool) {
        router.get("/jobs/:id/progress") { request, context in
            let id = try context.parameter("id")
            if jobIsFinished(id) {
                return Response(status: .noContent)  // the client stops reconnecting
            }
            let stream = try await context.eventStream(for: request, channels: ["job.\(id)"])
            return try stream.response(from: request, context: context)
        }
    }
    // ServerSentEvents.md: telling EventSource to stop — end
}
