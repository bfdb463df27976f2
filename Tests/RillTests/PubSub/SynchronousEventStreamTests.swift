import HTTPTypes
import RillCore
import RillHTTP
import RillTesting
import Synchronization
import Testing

@testable import Rill

/// `RequestContext.eventStream(for:)` from a handler that does not `await`: it subscribes inline
/// where it can (in-memory broker, no authorization hook, on the loop) and is otherwise left
/// pending and subscribed in the request's task — the same response either way.
@Suite struct SynchronousEventStreamTests {
    private static let replay = HTTPField.Name("Rill-Replay")!
    private static let seen = HTTPField.Name("x-seen-replay")!
    private static let custom = HTTPField.Name("x-custom")!

    /// Copies the `Rill-Replay` field of the response it wraps into `x-seen-replay`: what a
    /// middleware sees of a stream's head.
    private struct ReplayWitness: Middleware {
        func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
            var response = try await next(request, context)
            response.headerFields[SynchronousEventStreamTests.seen] = response.headerFields[SynchronousEventStreamTests.replay] ?? "none"
            return response
        }
    }

    /// `/stream` (synchronous) records whether it ran in a task; `/custom` sets fields and a
    /// farewell on the stream it returns; `/async` gets it through a synchronous helper.
    /// Whether each `/stream` request's handler ran in a task, and whether the stream it got
    /// was left pending.
    private final class TaskRecord: Sendable {
        let ranInTask = Mutex<[Bool]>([])
        let pending = Mutex<[Bool]>([])
    }

    /// A synchronous helper an async handler may call: it gets the synchronous form.
    private static func stream(for request: Request, context: RequestContext) throws -> EventStream {
        try context.eventStream(for: request)
    }

    private static func app(
        ran record: TaskRecord? = nil, middleware: Bool = false, eventStream: EventStreamConfiguration = .init()
    ) throws -> Application {
        let router = Router()
        if middleware { router.add(middleware: ReplayWitness()) }
        router.get("/stream") { request, context in
            record?.ranInTask.withLock { $0.append(withUnsafeCurrentTask { $0 != nil }) }
            let stream = try context.eventStream(for: request)
            if case .pending = stream.source {
                record?.pending.withLock { $0.append(true) }
            } else {
                record?.pending.withLock { $0.append(false) }
            }
            return stream
        }
        router.get("/custom") { request, context in
            var stream = try context.eventStream(for: request)
            stream.headerFields[custom] = "kept"
            stream.farewell = ServerSentEvent(data: "bye")
            return stream
        }
        router.get("/async") { request, context in
            try await context.eventLoop.sleep(for: .milliseconds(1))
            return try stream(for: request, context: context)
        }
        return try Application(
            router: router,
            configuration: ServerConfiguration(eventLoopCount: 1, host: "127.0.0.1", port: 0, eventStream: eventStream))
    }

    private static func subscriptions(_ app: Application) async -> Int { await app.broker.statistics().subscriptionCount }

    @Test func `with the in-memory broker it subscribes inline with no task, relays live events and replays`() async throws {
        let ran = TaskRecord()
        let app = try Self.app(ran: ran)
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=news")
            #expect(stream.status == .ok)
            #expect(stream.headerFields[Self.replay] == "live")
            #expect(await eventually { await Self.subscriptions(app) == 1 })
            for n in 1...3 { try await app.publish("n\(n)", channel: "news") }
            let live = try await stream.events(3)
            #expect(live.map(\.data) == ["n1", "n2", "n3"])
            stream.close()
            #expect(await eventually { await Self.subscriptions(app) == 0 })
            try await app.publish("n4", channel: "news")
            let resumed = try await client.sse("/stream?channel=news", headerFields: [HTTPField.Name("Last-Event-ID")!: live[0].lastEventID])
            #expect(resumed.headerFields[Self.replay] == "complete")
            #expect(try await resumed.events(3).map(\.data) == ["n2", "n3", "n4"])
            let unknown = try await client.sse("/stream?channel=news", headerFields: [HTTPField.Name("Last-Event-ID")!: "nowhere"])
            #expect(unknown.headerFields[Self.replay] == "gap")
            #expect(try await unknown.events(1).first?.type == "rill-history-gap")
        }
        #expect(ran.ranInTask.withLock { $0 } == [false, false, false])
        #expect(ran.pending.withLock { $0 } == [false, false, false])
    }

    @Test func `what it refuses it refuses at once with 400`() async throws {
        let app = try Self.app(eventStream: EventStreamConfiguration(maxChannelsPerStream: 2))
        try await app.test(.live) { client in
            let tooMany = try await client.get("/stream?channel=a&channel=b&channel=c")
            #expect(tooMany.status == .badRequest)
            #expect(tooMany.bodyText.contains("at most 2 distinct channels"))
            let badPattern = try await client.get("/stream?pattern=a/**b")
            #expect(badPattern.status == .badRequest)
            // The connection goes on.
            let fine = try await client.sse("/stream?channel=a")
            #expect(fine.status == .ok)
        }
        #expect(await Self.subscriptions(app) == 0)
    }

    @Test func `with an authorization hook it subscribes in the request's task: 403 refused, the rest streams`() async throws {
        let ran = TaskRecord()
        let app = try Self.app(ran: ran)
        app.authorizeChannels { _, context, channel, _ in
            try await context.eventLoop.sleep(for: .milliseconds(1))  // a hook that suspends
            return channel != "secret"
        }
        try await app.test(.live) { client in
            let denied = try await client.get("/stream?channel=open&channel=secret")
            #expect(denied.status == .forbidden)
            #expect(denied.bodyText.contains("subscribing to channel 'secret' is not allowed"))
            let allowed = try await client.sse("/stream?channel=open")
            #expect(allowed.status == .ok)
            #expect(allowed.headerFields[Self.replay] == "live")
            #expect(await eventually { await Self.subscriptions(app) == 1 })
            try await app.publish("hello", channel: "open")
            #expect(try await allowed.events(1).map(\.data) == ["hello"])
        }
        // The handler itself still ran inline; only the subscription needed the task.
        #expect(ran.ranInTask.withLock { $0 } == [false, false])
        #expect(ran.pending.withLock { $0 } == [true, true])
        #expect(await Self.subscriptions(app) == 0)
    }

    @Test(arguments: [false, true])
    func `router middleware sees the subscribed stream's head`(withHook: Bool) async throws {
        let app = try Self.app(middleware: true)
        if withHook { app.authorizeChannels { _, _, _, _ in true } }
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=watched")
            #expect(stream.status == .ok)
            #expect(stream.headerFields[Self.seen] == "live")
            #expect(await eventually { await Self.subscriptions(app) == 1 })
            try await app.publish("seen", channel: "watched")
            #expect(try await stream.events(1).map(\.data) == ["seen"])
        }
    }

    @Test func `the in-process client gets the subscribed stream too`() async throws {
        let app = try Self.app()
        app.authorizeChannels { _, _, channel, _ in channel != "secret" }
        try await app.test(.router) { client in
            let stream = try await client.sse("/stream?channel=inside")
            #expect(stream.status == .ok)
            #expect(stream.headerFields[Self.replay] == "live")
            #expect(await eventually { await Self.subscriptions(app) == 1 })
            try await app.publish("in process", channel: "inside")
            #expect(try await stream.events(1).map(\.data) == ["in process"])
            let denied = try await client.sse("/stream?channel=secret")
            #expect(denied.status == .forbidden)
        }
    }

    @Test(arguments: [false, true])
    func `what a handler sets on the stream is kept, pending or not`(withHook: Bool) async throws {
        let app = try Self.app()
        if withHook { app.authorizeChannels { _, _, _, _ in true } }
        try await app.test(.live) { client in
            let stream = try await client.sse("/custom?channel=c")
            #expect(stream.status == .ok)
            #expect(stream.headerFields[Self.custom] == "kept")
            #expect(stream.headerFields[Self.replay] == "live")
            #expect(stream.headerFields[.contentType] == "text/event-stream; charset=utf-8")
            #expect(await eventually { await Self.subscriptions(app) == 1 })
        }
    }

    @Test(arguments: [false, true])
    func `an async handler that gets the synchronous form through a helper gets the same stream`(withHook: Bool) async throws {
        let app = try Self.app()
        if withHook { app.authorizeChannels { _, _, channel, _ in channel != "secret" } }
        try await app.test(.live) { client in
            let stream = try await client.sse("/async?channel=later")
            #expect(stream.status == .ok)
            #expect(stream.headerFields[Self.replay] == "live")
            #expect(await eventually { await Self.subscriptions(app) == 1 })
            try await app.publish("after a wait", channel: "later")
            #expect(try await stream.events(1).map(\.data) == ["after a wait"])
            if withHook {
                #expect(try await client.get("/async?channel=secret").status == .forbidden)
            }
        }
    }

    @Test func `a client that leaves while its stream is pending leaves no subscription`() async throws {
        let app = try Self.app()
        let entered = Mutex(0)
        app.authorizeChannels { _, context, _, _ in
            entered.withLock { $0 += 1 }
            try? await context.eventLoop.sleep(for: .milliseconds(300))  // the client leaves meanwhile
            return true
        }
        try await app.test(.live) { client in
            guard let port = client.port else { return }
            let connection = try RawConnection(port: port, timeout: .seconds(5))
            try connection.send("GET /stream?channel=gone HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            #expect(await eventually { entered.withLock { $0 } == 1 })
            connection.close()
            try await Task.sleep(for: .milliseconds(500))
            #expect(await Self.subscriptions(app) == 0)
            // The server goes on.
            let next = try await client.sse("/stream?channel=here")
            #expect(next.status == .ok)
        }
    }
}
