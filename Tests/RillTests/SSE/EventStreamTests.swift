import Rill
import RillTesting
import Synchronization
import Testing

/// A live application on 127.0.0.1:0 with the given routes.
func liveApp(
    _ configuration: ServerConfiguration = ServerConfiguration(host: "127.0.0.1", port: 0),
    broker: BrokerFactory = .inMemory(), routes: (Router) -> Void
) throws -> Application {
    let router = Router()
    routes(router)
    return try Application(router: router, configuration: configuration, broker: broker)
}

func sseConfiguration(_ eventStream: EventStreamConfiguration) -> ServerConfiguration {
    ServerConfiguration(host: "127.0.0.1", port: 0, eventStream: eventStream)
}

/// Polls `condition` every 5 ms for at most `timeout`.
func eventually(timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

@Suite struct EventStreamTests {
    @Test func `the head and an opening comment arrive before the first event`() async throws {
        let app = try liveApp { router in
            router.get("/slow") { _, context in
                EventStream { stream in
                    try await context.eventLoop.sleep(for: .seconds(30))
                    try await stream.send(ServerSentEvent(data: "late"))
                }
            }
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/slow")
            #expect(stream.status == .ok)
            #expect(stream.headerFields[.contentType] == "text/event-stream; charset=utf-8")
            #expect(stream.headerFields[.cacheControl] == "no-store")
            #expect(stream.headerFields[HTTPField.Name("X-Accel-Buffering")!] == "no")
            #expect(stream.headerFields[.contentLength] == nil)
            try await stream.waitForBody(containing: ":ok\n\n")
            stream.close()
        }
    }

    @Test func `events are encoded per the spec on the wire`() async throws {
        let app = try liveApp { router in
            router.get("/fixture") { _, _ in
                EventStream(configuration: .init(retry: .milliseconds(1500), retryJitter: 0)) { stream in
                    try await stream.send(ServerSentEvent(data: "a\nb\r\nc\rd", event: "multi", id: "1"))
                    try await stream.send(ServerSentEvent(data: "keeps\u{2028}together", id: "0"))
                    try await stream.send(ServerSentEvent(data: " leading", id: ""))
                    try await stream.sendComment("just a comment")
                    try await stream.send(ServerSentEvent(json: ["k": "v"], event: "json"))
                }
            }
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/fixture")
            let events = try await stream.remainingEvents()
            #expect(events.map(\.type) == ["multi", "message", "message", "json"])
            #expect(events.map(\.data) == ["a\nb\nc\nd", "keeps\u{2028}together", " leading", #"{"k":"v"}"#])
            #expect(events.map(\.lastEventID) == ["1", "0", "", ""])
            let text = String(decoding: stream.body, as: UTF8.self)
            #expect(text.hasPrefix("retry: 1500\n\n"))
            #expect(text.contains("event: multi\nid: 1\ndata: a\ndata: b\ndata: c\ndata: d\n\n"))
            #expect(text.contains(": just a comment\n\n"))
            #expect(text.contains("id:\ndata:  leading\n\n"))
        }
    }

    @Test func `an invalid event is rejected and never written`() async throws {
        let failure = Mutex<String?>(nil)
        let app = try liveApp { router in
            router.get("/bad") { _, _ in
                EventStream { stream in
                    try await stream.send(ServerSentEvent(data: "ok", id: "1"))
                    do {
                        try await stream.send(ServerSentEvent(data: "x", event: "evil\ndata: injected"))
                    } catch let error as ServerSentEventError {
                        failure.withLock { $0 = "\(error)" }
                    }
                    try await stream.send(ServerSentEvent(data: "after", id: "2"))
                }
            }
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/bad")
            let events = try await stream.remainingEvents()
            #expect(events.map(\.data) == ["ok", "after"])
            #expect(!String(decoding: stream.body, as: UTF8.self).contains("injected"))
        }
        #expect(failure.withLock { $0 } != nil)
    }

    @Test func `heartbeats are sent only while the stream is idle`() async throws {
        let app = try liveApp(sseConfiguration(.init(heartbeatInterval: .seconds(1)))) { router in
            router.get("/busy") { _, context in
                EventStream { stream in
                    for n in 1...12 {
                        try await stream.send(ServerSentEvent(data: "\(n)"))
                        try await context.eventLoop.sleep(for: .milliseconds(40))
                    }
                    try await context.eventLoop.sleep(for: .seconds(30))
                }
            }
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/busy")
            #expect(try await stream.events(12).count == 12)
            // While events flowed every 40 ms, no heartbeat was due.
            #expect(!String(decoding: stream.body, as: UTF8.self).contains(":\n\n"))
            // Once idle, a comment arrives after about a second.
            try await stream.waitForBody(containing: ":\n\n")
            stream.close()
        }
    }

    @Test func `a client that leaves cancels the handler promptly`() async throws {
        let cancelledAt = Mutex<ContinuousClock.Instant?>(nil)
        let startedStreaming = Mutex(false)
        let app = try liveApp { router in
            router.get("/forever") { _, _ in
                let (events, _) = AsyncStream<ServerSentEvent>.makeStream()
                return EventStream { stream in
                    startedStreaming.withLock { $0 = true }
                    await withTaskCancellationHandler {
                        for await event in events { try? await stream.send(event) }
                    } onCancel: {
                        cancelledAt.withLock { $0 = .now }
                    }
                }
            }
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/forever")
            #expect(await eventually { startedStreaming.withLock { $0 } })
            let closedAt = ContinuousClock.now
            stream.close()
            #expect(await eventually { cancelledAt.withLock { $0 } != nil })
            let latency = try #require(cancelledAt.withLock { $0 }) - closedAt
            print("disconnect → handler cancelled in \(latency)")
            #expect(latency < .seconds(2))
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a stalled reader is disconnected at the queue cap`() async throws {
        let sendError = Mutex<String?>(nil)
        let configuration = sseConfiguration(.init(maxQueuedBytes: 64 * 1024))
        let app = try liveApp(configuration) { router in
            router.get("/flood") { _, _ in
                EventStream { stream in
                    let payload = String(repeating: "x", count: 1000)
                    do {
                        for n in 0..<100_000 { try await stream.send(ServerSentEvent(data: payload, id: "\(n)")) }
                    } catch {
                        sendError.withLock { $0 = "\(type(of: error))" }
                    }
                }
            }
        }
        try await app.test(.live) { _ in
            let port = try #require(app.localAddress?.port)
            // A reader with a small receive buffer that never reads.
            let connection = try RawConnection(port: port, timeout: .seconds(5), receiveBufferBytes: 4096)
            try connection.send("GET /flood HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            #expect(await eventually { sendError.withLock { $0 } != nil })
            #expect(sendError.withLock { $0 } == "ConnectionClosedError")
            #expect(await eventually { await app.connectionCount() == 0 })
            connection.close()
        }
    }

    @Test func `shutdown lets streams send a farewell and completes quickly`() async throws {
        // A long grace period: finishing well inside it shows the streams ended by themselves
        // (farewell, last chunk, close) instead of being cut off when it ran out.
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(60)
        let app = try liveApp(configuration) { router in
            router.get("/news") { _, _ in
                let (events, _) = AsyncStream<ServerSentEvent>.makeStream()
                return EventStream(events, farewell: ServerSentEvent(data: "bye", event: "shutdown"))
            }
        }
        try await app.start()
        let client = TestClient(port: try #require(app.localAddress?.port))
        let streams = try await withThrowingTaskGroup(of: SSETestStream.self) { group in
            for _ in 0..<50 { group.addTask { try await client.sse("/news") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for stream in streams { try await stream.waitForBody(containing: ":ok") }
        let started = ContinuousClock.now
        await app.shutdown()
        #expect(ContinuousClock.now - started < .seconds(30))
        for stream in streams {
            let events = try await stream.remainingEvents()
            #expect(events.map(\.type) == ["shutdown"])
            #expect(events.first?.data == "bye")
        }
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test func `no content tells clients to stop, and the last event ID arrives by header or query`() async throws {
        let app = try liveApp { router in
            router.get("/gone") { _, _ in HTTPResponse.Status.noContent }
            router.get("/resume") { request, _ in
                let last = request.lastEventID ?? "none"
                return EventStream { stream in try await stream.send(ServerSentEvent(data: last)) }
            }
        }
        try await app.test(.live) { client in
            let gone = try await client.get("/gone")
            #expect(gone.status == .noContent)
            let byHeader = try await client.sse("/resume", headerFields: [HTTPField.Name("Last-Event-ID")!: "41"])
            #expect(try await byHeader.remainingEvents().map(\.data) == ["41"])
            let byQuery = try await client.sse("/resume?lastEventId=7")
            #expect(try await byQuery.remainingEvents().map(\.data) == ["7"])
            let none = try await client.sse("/resume")
            #expect(try await none.remainingEvents().map(\.data) == ["none"])
        }
    }
}
