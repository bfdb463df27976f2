import Rill
import RillTesting
import Synchronization
import Testing

/// `.router` mode runs streamed bodies, `EventStream`s and relayed subscriptions in process,
/// as the server does over sockets: each test runs in both modes and expects the same.
/// How many endless streams ended by cancellation or a closed client.
private final class Cancellations: Sendable {
    private let atomic = Atomic(0)
    func record() { atomic.add(1, ordering: .relaxed) }
    var count: Int { atomic.load(ordering: .relaxed) }
}

private func streamingApp(cancelled: Cancellations? = nil) throws -> Application {
    let router = Router()
    router.get("/countdown") { _, _ in
        EventStream { stream in
            for n in (1...3).reversed() { try await stream.send(ServerSentEvent(data: "\(n)", id: "\(n)")) }
        }
    }
    router.get("/endless") { _, context in
        EventStream(configuration: EventStreamConfiguration(retry: .seconds(2), retryJitter: 0)) { stream in
            var n = 0
            do {
                while true {
                    n += 1
                    try await stream.send(ServerSentEvent(data: "tick \(n)"))
                    try await context.eventLoop.sleep(for: .milliseconds(5))
                }
            } catch {
                cancelled?.record()
                throw error
            }
        }
    }
    router.get("/sequence") { _, _ in
        EventStream(
            AsyncStream { continuation in
                for word in ["a", "b"] { continuation.yield(ServerSentEvent(data: word, event: "word")) }
                continuation.finish()
            })
    }
    router.get("/stream") { request, context in try await context.eventStream(for: request) }
    router.post("/publish") { request, context in
        try await context.publish(request.bodyText, channel: request.query["channel"] ?? Application.defaultChannel)
    }
    return try Application(router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0), logger: quietLogger)
}

@Suite struct InProcessStreamingTests {
    @Test(arguments: [TestMode.router, .live])
    func `a finite event stream arrives whole with its opening comment`(mode: TestMode) async throws {
        try await streamingApp().test(mode) { client in
            let response = try await client.get("/countdown")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "text/event-stream; charset=utf-8")
            #expect(response.bodyText == ":ok\n\nid: 3\ndata: 3\n\nid: 2\ndata: 2\n\nid: 1\ndata: 1\n\n")
            let stream = try await client.sse("/countdown")
            #expect(try await stream.remainingEvents().map(\.data) == ["3", "2", "1"])
            #expect(stream.lastEventID == "1")
            #expect(stream.isEnded)
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `an event stream from an async sequence ends with it`(mode: TestMode) async throws {
        try await streamingApp().test(mode) { client in
            let stream = try await client.sse("/sequence")
            let events = try await stream.remainingEvents()
            #expect(events.map(\.type) == ["word", "word"])
            #expect(events.map(\.data) == ["a", "b"])
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `closing an endless stream cancels its handler`(mode: TestMode) async throws {
        let cancelled = Cancellations()
        let app = try streamingApp(cancelled: cancelled)
        try await app.test(mode) { client in
            let stream = try await client.sse("/endless")
            try await stream.waitForBody(containing: "retry: 2000\n\n")
            #expect(try await stream.events(3).map(\.data) == ["tick 1", "tick 2", "tick 3"])
            stream.close()
            #expect(await eventually { cancelled.count == 1 })
        }
    }

    @Test func `a plain request for an endless stream times out and stops it`() async throws {
        let cancelled = Cancellations()
        try await streamingApp(cancelled: cancelled).test(.router) { client in
            var impatient = client
            impatient.timeout = .milliseconds(200)
            await #expect(throws: TestClientError.self) { try await impatient.get("/endless") }
            #expect(await eventually { cancelled.count == 1 })
        }
    }

    @Test func `an endless stream left open ends with the test`() async throws {
        let cancelled = Cancellations()
        let app = try streamingApp(cancelled: cancelled)
        try await app.test(.router) { client in
            _ = try await client.sse("/endless").events(1)
        }
        #expect(cancelled.count == 1)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test(arguments: [TestMode.router, .live])
    func `a channel stream relays publishes and replays after Last-Event-ID`(mode: TestMode) async throws {
        let app = try streamingApp()
        try await app.test(mode) { client in
            let stream = try await client.sse("/stream?channel=news")
            #expect(stream.headerFields[HTTPField.Name("Rill-Replay")!] == "live")
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 1 })
            for text in ["one", "two", "three"] { _ = try await client.post("/publish?channel=news", text: text) }
            let events = try await stream.events(3)
            #expect(events.map(\.data) == ["one", "two", "three"])
            stream.close()
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 0 })

            let resumed = try await client.sse("/stream?channel=news", headerFields: [HTTPField.Name("Last-Event-ID")!: events[0].lastEventID])
            #expect(resumed.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            #expect(try await resumed.events(2).map(\.data) == ["two", "three"])
            _ = try await client.post("/publish?channel=news", text: "four")
            #expect(try await resumed.events(1).map(\.data) == ["four"])
            resumed.close()
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a HEAD request never runs the stream and holds no subscription`(mode: TestMode) async throws {
        let app = try streamingApp()
        try await app.test(mode) { client in
            let response = try await client.head("/stream?channel=quiet")
            #expect(response.status == .ok)
            #expect(response.body.isEmpty)
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 0 })
        }
    }
}
