import Foundation
import HTTPTypes
import RillHTTP
import RillTesting
import Testing

@testable import Rill
@testable import RillCore

/// Synchronous handlers: a closure without `await` is registered as one, and where no middleware
/// wraps its route the connection calls it inline on the loop, with no task.
@Suite struct SynchronousHandlerTests {
    private struct Reply: Encodable, Sendable { let ok: Bool }

    /// Adds a header to every response it wraps.
    private struct TagMiddleware: Middleware {
        func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
            var response = try await next(request, context)
            response.headerFields[HTTPField.Name("x-tag")!] = "wrapped"
            return response
        }
    }

    private static func made(_ method: HTTPRequest.Method, _ path: String) -> Request {
        Request(head: HTTPRequestHead(method: method, target: path))
    }

    private static func isInline(_ dispatch: RequestDispatch) -> Bool {
        if case .inline = dispatch { return true }
        return false
    }

    private static func isRoute(_ dispatch: RequestDispatch) -> Bool {
        if case .route = dispatch { return true }
        return false
    }

    @Test func `a closure without await is a synchronous route, one with await an asynchronous one`() {
        let router = Router()
        router.get("/sync") { _, _ in "pong" }
        router.get("/json") { _, _ in Reply(ok: true) }
        router.post("/echo") { request, _ in request.bodyText }
        router.get("/async") { _, context in
            try await context.eventLoop.sleep(for: .milliseconds(1))
            return "later"
        }
        router.get("/async-json") { _, context in
            try await context.eventLoop.sleep(for: .milliseconds(1))
            return Reply(ok: false)
        }
        router.get("/users/:id") { _, context in try context.parameter("id") }
        _ = router.makeResponder()
        #expect(Self.isInline(router.dispatch(Self.made(.get, "/sync"))))
        #expect(Self.isInline(router.dispatch(Self.made(.head, "/sync"))))  // HEAD falls back to GET
        #expect(Self.isInline(router.dispatch(Self.made(.get, "/json"))))
        #expect(Self.isInline(router.dispatch(Self.made(.post, "/echo"))))
        #expect(Self.isRoute(router.dispatch(Self.made(.get, "/async"))))
        #expect(Self.isRoute(router.dispatch(Self.made(.get, "/async-json"))))
        guard case .inline(_, let parameters) = router.dispatch(Self.made(.get, "/users/7")) else {
            Issue.record("a synchronous route with a parameter is not inline")
            return
        }
        #expect(parameters["id"] == "7")
        // 404 and 405 are the router's responder's to answer.
        guard case .responder = router.dispatch(Self.made(.get, "/nowhere")) else {
            Issue.record("an unknown path was dispatched to a route")
            return
        }
        guard case .responder = router.dispatch(Self.made(.delete, "/sync")) else {
            Issue.record("a method without a handler was dispatched to a route")
            return
        }
    }

    @Test func `middleware around the router or a group keeps a synchronous handler behind it`() async throws {
        let router = Router()
        let group = router.group("/api")
        group.add(middleware: TagMiddleware())
        group.get("/sync") { _, _ in "pong" }
        router.get("/plain") { _, _ in "plain" }
        _ = router.makeResponder()
        // The group's middleware: the route's composed responder, in a task.
        #expect(Self.isRoute(router.dispatch(Self.made(.get, "/api/sync"))))
        #expect(Self.isInline(router.dispatch(Self.made(.get, "/plain"))))

        let wrapped = Router()
        wrapped.add(middleware: TagMiddleware())
        wrapped.get("/sync") { _, _ in "pong" }
        _ = wrapped.makeResponder()
        guard case .responder = wrapped.dispatch(Self.made(.get, "/sync")) else {
            Issue.record("router middleware was skipped")
            return
        }

        // Over a connection, the middleware still wraps the synchronous handler.
        for (router, path) in [(Router(), "/api/sync"), (Router(), "/sync")] {
            if path.hasPrefix("/api") {
                router.group("/api").add(middleware: TagMiddleware()).get("/sync") { _, _ in "pong" }
            } else {
                router.add(middleware: TagMiddleware()).get("/sync") { _, _ in "pong" }
            }
            let harness = try ConnectionHarness(router)
            await harness.connect(receiving: "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await harness.waitUntilWritten { $0.hasSuffix("pong") })
            #expect(await harness.written.contains("x-tag: wrapped\r\n"))
            await harness.shutdown()
        }
    }

    @Test func `a synchronous handler answers before the read that completed its request returns`() async throws {
        let router = Router()
        router.get("/where") { _, context in context.eventLoop.inEventLoop ? "on the loop" : "elsewhere" }
        router.get("/later") { _, context in
            try await context.eventLoop.sleep(for: .milliseconds(1))
            return "later"
        }
        let harness = try ConnectionHarness(router)
        await harness.connect()
        // Inline: written within the same call that handed the connection the request.
        let inline = await harness.onLoop { transport in
            transport.receive("GET /where HTTP/1.1\r\nHost: x\r\n\r\n")
            return transport.writtenText
        }
        #expect(inline.hasSuffix("on the loop"))
        // An asynchronous handler's answer comes from its task, later.
        let afterAsync = await harness.onLoop { transport in
            transport.receive("GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
            return transport.writtenText
        }
        #expect(afterAsync == inline)
        #expect(await harness.waitUntilWritten { $0.hasSuffix("later") })
        await harness.shutdown()
    }

    @Test func `over a socket a synchronous handler runs on the connection's loop thread with no task`() async throws {
        let router = Router()
        router.get("/where") { _, context in
            let inTask = withUnsafeCurrentTask { $0 != nil }
            return "task=\(inTask) loop=\(context.eventLoop.inEventLoop)"
        }
        router.get("/async") { _, context in
            try await context.eventLoop.sleep(for: .milliseconds(1))
            let inTask = withUnsafeCurrentTask { $0 != nil }
            return "task=\(inTask) loop=\(context.eventLoop.inEventLoop)"
        }
        try await withLiveServer(router) { _, port in
            let bodies = try await converse(port: port) { connection in
                try connection.send(request("/where") + request("/async"))
                return try connection.readResponses(2).map(\.bodyText)
            }
            #expect(bodies == ["task=false loop=true", "task=true loop=true"])
        }
    }

    @Test func `a synchronous handler's error is answered with its status, and the connection goes on`() async throws {
        let router = Router()
        router.get("/teapot") { _, _ -> String in throw HTTPError(.init(code: 418), message: "short and stout") }
        router.get("/broken") { _, _ -> String in throw CocoaError(.fileNoSuchFile) }
        router.get("/ok") { _, _ in "ok" }
        let harness = try ConnectionHarness(router)
        let get = { (path: String) in "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n" }
        await harness.connect(receiving: get("/teapot") + get("/broken") + get("/ok"))
        #expect(await harness.waitUntilWritten { $0.hasSuffix("ok") })
        let text = await harness.written
        let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(statuses == ["418", "500", "200"])
        #expect(text.contains("short and stout"))
        #expect(await harness.onLoop { !$0.isClosing })
        await harness.shutdown()
    }

    @Test func `pipelined requests to synchronous and asynchronous handlers are answered in order`() async throws {
        let router = Router()
        router.get("/sync/:n") { _, context in "s\(try context.parameter("n"))." }
        router.get("/async/:n") { _, context in
            try await context.eventLoop.sleep(for: .milliseconds(5))
            return "a\(try context.parameter("n"))."
        }
        let harness = try ConnectionHarness(router)
        let paths = (0..<12).map { $0 % 3 == 1 ? "/async/\($0)" : "/sync/\($0)" }
        await harness.connect(receiving: paths.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
        let expected = (0..<12).map { $0 % 3 == 1 ? "a\($0)." : "s\($0)." }
        #expect(await harness.waitUntilWritten { $0.hasSuffix(expected.last!) })
        let bodies = await harness.written.components(separatedBy: "\r\n\r\n").dropFirst().map { body in
            String(body.prefix { $0 != "H" })
        }
        #expect(bodies == expected)
        await harness.shutdown()
    }

    @Test func `a client that pipelines without reading holds the next synchronous answer until it reads`() async throws {
        var configuration = ServerConfiguration()
        configuration.writeHighWaterMarkBytes = 64 * 1024
        configuration.writeLowWaterMarkBytes = 16 * 1024
        let router = Router()
        router.get("/large") { _, _ in [UInt8](repeating: 120, count: 200 * 1024) }
        router.get("/small") { _, _ in "small" }
        let harness = try ConnectionHarness(router, configuration: configuration)
        await harness.connect()
        await harness.onLoop {
            $0.holdsWrites = true
            $0.receive("GET /large HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(await eventually { await harness.onLoop { $0.queuedBytes > 200 * 1024 } })
        try await Task.sleep(for: .milliseconds(50))
        #expect(await !harness.written.hasSuffix("small"))
        await harness.onLoop { $0.clientReads() }
        #expect(await harness.waitUntilWritten { $0.hasSuffix("small") })
        await harness.shutdown()
    }
}
