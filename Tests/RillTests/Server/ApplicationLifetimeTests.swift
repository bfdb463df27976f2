import Rill
import RillCore
import RillTesting
import Testing

/// What an application owns is freed once it was shut down and nobody holds it: a process that
/// makes applications one after another (tests, a supervisor) must not keep every earlier one's
/// router, broker and loops. A reference cycle would keep them all, found before only by
/// `make test-asan`'s leak check.
@Suite struct ApplicationLifetimeTests {
    /// Weak references to an application and what it owns.
    final class Watched: @unchecked Sendable {
        weak var application: Application?
        weak var router: Router?
        weak var group: RouterGroup?
        weak var broker: AnyObject?
        weak var loop: EventLoop?

        var freed: [String: Bool] {
            [
                "application": application == nil, "router": router == nil, "group": group == nil, "broker": broker == nil,
                "loop": loop == nil,
            ]
        }
    }

    /// Starts an application with a route group and an event stream whose presence is watched,
    /// serves one request and one stream, shuts it down, and lets go of it.
    private func runApplication(_ watched: Watched) async throws {
        let router = Router()
        let api = router.group("/api")
        api.get("/ping") { _, _ in "pong" }
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        watched.application = app
        watched.router = router
        watched.group = api
        watched.broker = app.broker as AnyObject
        watched.loop = app.eventLoop
        let port = try await app.start().port
        let ping = try await converse(port: port) { connection in
            try connection.send(request("/api/ping"))
            return try connection.readResponse().bodyText
        }
        #expect(ping == "pong")
        let opening = try await converse(port: port) { connection in
            try connection.send(request("/stream?channel=room&presence=1", ["Accept: text/event-stream"]))
            return String(decoding: try connection.receive(atLeast: 1), as: UTF8.self)
        }
        #expect(opening.hasPrefix("HTTP/1.1 200"))
        await app.shutdown()
    }

    @Test func `a router with groups is freed when let go, never started`() async throws {
        let watched = Watched()
        do {
            let router = Router()
            let api = router.group("/api")
            api.group("/v1").get("/ping") { _, _ in "pong" }
            watched.router = router
            watched.group = api
        }
        #expect(watched.router == nil && watched.group == nil)
    }

    @Test func `an application shut down is freed with its router, groups, broker and loops`() async throws {
        let watched = Watched()
        try await runApplication(watched)
        let freed = await eventually(within: .seconds(5)) { !watched.freed.values.contains(false) }
        #expect(freed, "still alive: \(watched.freed.filter { !$0.value }.keys.sorted())")
    }
}
