import CRillTestHooks
import Foundation
import HTTPTypes
import Rill
import RillCore
import RillPubSub
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Several loops in one process (DESIGN §6): each with its thread and listener, connections
/// spread over them, handlers on their connection's loop, shutdown of all at once.
@Suite struct SeveralLoopsTests {
    private func twoLoops(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
        testConfiguration {
            $0.eventLoopCount = 2
            adjust(&$0)
        }
    }

    /// A router whose `/loop` names the loop that serves the request.
    private func loopRouter() -> Router {
        let router = Router()
        router.get("/loop") { _, context in context.eventLoop.name }
        return router
    }

    /// Opens connections until one lands on the loop named `name` (the kernel picks the
    /// listener by a hash of the connection's addresses); at most 200 tries.
    private func connection(onLoop name: String, port: Int) throws -> RawConnection {
        for _ in 0..<200 {
            let connection = try RawConnection(port: port)
            try connection.send(request("/loop"))
            if try connection.readResponse().bodyText == name { return connection }
            connection.close()
        }
        throw HTTPError(.internalServerError, message: "no connection landed on \(name)")
    }

    @Test func `each loop runs on a thread named rill-loop-N`() async throws {
        try await withLiveServer(loopRouter(), configuration: twoLoops()) { app, _ in
            #expect(app.eventLoops.map(\.name) == ["rill-loop-0", "rill-loop-1"])
            let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
                try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(names.contains("rill-loop-0"))
            #expect(names.contains("rill-loop-1"))
        }
    }

    @Test func `connections spread over the loops and stay on their loop`() async throws {
        try await withLiveServer(loopRouter(), configuration: twoLoops()) { app, port in
            let loops = try await onDedicatedThread { () -> [String] in
                let connections = try (0..<200).map { _ in try RawConnection(port: port) }
                defer { for connection in connections { connection.close() } }
                var loops: [String] = []
                for connection in connections {
                    try connection.send(request("/loop"))
                    loops.append(try connection.readResponse().bodyText)
                }
                // Three more requests on each: the same loop every time.
                for (connection, loop) in zip(connections, loops) {
                    for _ in 0..<3 {
                        try connection.send(request("/loop"))
                        guard try connection.readResponse().bodyText == loop else { return ["moved"] }
                    }
                }
                return loops
            }
            #expect(!loops.contains("moved"), "a connection changed loops")
            let shares = Dictionary(grouping: loops, by: { $0 }).mapValues(\.count)
            // A hash of the addresses picks the loop: 200 connections split about evenly (a share
            // under 30 % would be a 1-in-10^8 event).
            #expect(shares.keys.sorted() == ["rill-loop-0", "rill-loop-1"])
            #expect(shares.values.allSatisfy { $0 >= 60 }, "\(shares)")
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `statistics sum the loops and show each loop's connections`() async throws {
        try await withLiveServer(loopRouter(), configuration: twoLoops()) { app, port in
            let (first, second) = try await onDedicatedThread {
                (try self.connection(onLoop: "rill-loop-0", port: port), try self.connection(onLoop: "rill-loop-1", port: port))
            }
            defer {
                first.close()
                second.close()
            }
            // The probes that landed on the other loop were closed on the way; their closes may
            // still be under way, so the count is read once only these two are left.
            #expect(await eventually { await app.connectionCount() == 2 })
            let statistics = await app.serverStatistics()
            #expect(statistics.connectionCountsByLoop == [1, 1])
            #expect(statistics.connectionCountsByLoop.reduce(0, +) == statistics.connectionCount)
            #expect(statistics.connectionCount == 2)
        }
    }

    @Test func `maxConnections bounds all loops together`() async throws {
        try await withLiveServer(loopRouter(), configuration: twoLoops { $0.maxConnections = 10 }) { app, port in
            let statuses = try await onDedicatedThread { () -> [Int] in
                let connections = try (0..<14).map { _ in try RawConnection(port: port) }
                defer { for connection in connections { connection.close() } }
                return try connections.map { connection in
                    try connection.send(request("/loop"))
                    return try connection.readResponse().status.code
                }
            }
            #expect(statuses.filter { $0 == 200 }.count == 10)
            #expect(statuses.filter { $0 == 503 }.count == 4)
            #expect(await app.serverStatistics().refusedConnectionCount == 4)
        }
    }

    @Test func `a second server on a port in use fails to start, whatever its loops`() async throws {
        try await withLiveServer(loopRouter(), configuration: twoLoops()) { _, port in
            for loops in [1, 2] {
                let second = try Application(
                    router: loopRouter(),
                    configuration: testConfiguration {
                        $0.eventLoopCount = loops
                        $0.port = port
                    }, logger: quietLogger)
                await #expect(throws: UVError.self) { try await second.start() }
                await second.shutdown()
            }
        }
    }

    @Test func `a handler that burns its loop for 400 ms does not delay streams on the other loop`() async throws {
        let router = loopRouter()
        router.get("/burn") { _, context in
            let start = ContinuousClock.now
            var spins = 0
            while ContinuousClock.now - start < .milliseconds(400) { spins &+= 1 }
            return "burnt on \(context.eventLoop.name) (\(spins > 0))"
        }
        router.get("/ticks") { _, context in
            EventStream { stream in
                while true {
                    try await stream.send(ServerSentEvent(data: "tick"))
                    try await context.eventLoop.sleep(for: .milliseconds(20))
                }
            }
        }
        try await withLiveServer(router, configuration: twoLoops()) { _, port in
            let (burner, ticker) = try await onDedicatedThread {
                (try self.connection(onLoop: "rill-loop-0", port: port), try self.connection(onLoop: "rill-loop-1", port: port))
            }
            defer {
                burner.close()
                ticker.close()
            }
            try ticker.send(request("/ticks", ["Accept: text/event-stream"]))
            _ = try ticker.receive(atLeast: 1)
            // The stream on loop 1 is read for 600 ms while loop 0 burns 400 ms of it.
            let gaps = try await onDedicatedThread { () -> [Duration] in
                try burner.send(request("/burn"))
                var arrivals: [ContinuousClock.Instant] = []
                let until = ContinuousClock.now + .milliseconds(600)
                while ContinuousClock.now < until {
                    let bytes = try ticker.receive(atLeast: 1)
                    let ticks = String(decoding: bytes, as: UTF8.self).components(separatedBy: "data: tick").count - 1
                    for _ in 0..<ticks { arrivals.append(.now) }
                }
                return zip(arrivals, arrivals.dropFirst()).map { $1 - $0 }
            }
            let burnt = try await onDedicatedThread { try burner.readResponse().bodyText }
            #expect(burnt == "burnt on rill-loop-0 (true)")
            #expect(gaps.count >= 10, "ticks kept coming: \(gaps.count + 1)")
            // 20 ms apart; 400 ms if the burn had held this stream's loop.
            #expect(gaps.allSatisfy { $0 < .milliseconds(250) }, "longest gap \(gaps.max() ?? .zero)")
        }
    }

    @Test func `handlers on every loop stay on their loop and never hop to the global executor`() async throws {
        let router = Router()
        router.get("/hops/:n") { _, context in
            var onLoop = [context.eventLoop.inEventLoop]
            try await context.eventLoop.sleep(for: .milliseconds(1))
            onLoop.append(context.eventLoop.inEventLoop)
            async let child = context.eventLoop.inEventLoop
            onLoop.append(await child)
            onLoop.append(EventLoop.current === context.eventLoop)
            return onLoop.allSatisfy { $0 } ? context.eventLoop.name : "hopped: \(onLoop)"
        }
        rill_install_global_enqueue_counter()
        try await withLiveServer(router, configuration: twoLoops()) { app, port in
            let watching = Shared(0)
            for loop in app.eventLoops {
                loop.execute {
                    rill_watch_current_thread_for_global_enqueues()
                    watching.update { $0 += 1 }
                }
            }
            #expect(await eventually { watching.current == 2 })
            // Connections until both loops served twenty requests on one of them.
            let served = try await onDedicatedThread { () -> Set<String> in
                var served = Set<String>()
                for _ in 0..<200 where served.count < 2 {
                    let connection = try RawConnection(port: port)
                    defer { connection.close() }
                    let bodies = try (0..<20).map { n in
                        try connection.send(request("/hops/\(n)"))
                        return try connection.readResponse().bodyText
                    }
                    guard Set(bodies).count == 1, let loop = bodies.first, loop.hasPrefix("rill-loop-") else { return ["hopped: \(bodies)"] }
                    served.insert(loop)
                }
                return served
            }
            #expect(served == ["rill-loop-0", "rill-loop-1"])
            for loop in app.eventLoops {
                let count = Shared<Int?>(nil)
                loop.execute { count.set(rill_global_enqueue_count()) }
                #expect(await eventually { count.current != nil })
                #expect(count.current == 0, "global-executor enqueues on \(loop.name) while serving")
            }
        }
    }

    @Test func `a broker that lives on one loop still reaches streams on the others`() async throws {
        let router = loopRouter()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        router.post("/publish") { request, context in
            try await context.publish(ServerSentEvent(data: request.bodyText), channel: "c").subscriberCount
        }
        // A factory for one loop (as a third-party broker would be): the application's first.
        let app = try Application(
            router: router, configuration: twoLoops(), logger: quietLogger,
            broker: BrokerFactory { loop in InMemoryBroker(eventLoop: loop) })
        try await app.test(.live) { client in
            var streams: [SSETestStream] = []
            for _ in 0..<20 { streams.append(try await client.sse("/stream?channel=c")) }
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 20 })
            let perLoop = await app.serverStatistics().connectionCountsByLoop
            #expect(perLoop.allSatisfy { $0 > 0 }, "streams on both loops: \(perLoop)")
            for n in 1...3 { #expect(try await client.post("/publish", text: "event \(n)").status == .ok) }
            for stream in streams {
                #expect(try await stream.events(3).map(\.data) == ["event 1", "event 2", "event 3"])
                stream.close()
            }
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 0 })
        }
        await app.shutdown()
    }

    @Test func `a client that reconnects on the other loop resumes with no gap and no duplicate while events are published`() async throws {
        let router = Router()
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                var response = try await next(request, context)
                response.headerFields[HTTPField.Name("X-Loop")!] = context.eventLoop.name
                return response
            })
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        let app = try Application(
            router: router, configuration: twoLoops(), logger: quietLogger,
            broker: .inMemory(.init(historyCount: 10_000, subscriberBufferCount: 10_000)))
        try await app.test(.live) { client in
            let total = 400
            // Published from a plain task (no loop's), racing the reconnects.
            let publisher = Task.detached {
                for n in 1...total {
                    try await app.publish(ServerSentEvent(data: "\(n)"), channel: "r")
                    if n.isMultiple(of: 10) { try await Task.sleep(for: .milliseconds(2)) }
                }
            }
            var seen: [String] = []
            var lastID: String?
            var replays: [String] = []
            var loopsVisited: [String] = []
            while seen.last != String(total) {
                // The next stream on the other loop than the last one (reconnects until it lands there).
                let wanted = loopsVisited.last == "rill-loop-0" ? "rill-loop-1" : "rill-loop-0"
                var stream: SSETestStream?
                for _ in 0..<100 {
                    let candidate = try await client.sse(
                        "/stream?channel=r", headerFields: lastID.map { [HTTPField.Name("Last-Event-ID")!: $0] } ?? [:])
                    if candidate.headerFields[HTTPField.Name("X-Loop")!] == wanted {
                        stream = candidate
                        break
                    }
                    candidate.close()
                }
                let resumed = try #require(stream, "no stream landed on \(wanted)")
                loopsVisited.append(wanted)
                replays.append(resumed.headerFields[HTTPField.Name("Rill-Replay")!] ?? "")
                var taken = 0
                while taken < 23, seen.last != String(total), let event = try await resumed.events(1).first {
                    seen.append(event.data)
                    lastID = event.lastEventID
                    taken += 1
                }
                resumed.close()
            }
            try await publisher.value
            let first = try #require(seen.first.flatMap { Int($0) })
            #expect(seen == (first...total).map(String.init), "every event from the first on exactly once, in order")
            #expect(replays.first == "live")
            #expect(replays.dropFirst().allSatisfy { $0 == "complete" }, "\(replays)")
            #expect(Set(loopsVisited) == ["rill-loop-0", "rill-loop-1"])
        }
        await app.shutdown()
    }

    @Test func `shutdown says farewell on every loop's streams within one grace period`() async throws {
        let router = Router()
        router.get("/news") { _, context in
            let (events, _) = AsyncStream<ServerSentEvent>.makeStream()
            return EventStream(events, farewell: ServerSentEvent(data: context.eventLoop.name, event: "shutdown"))
        }
        let app = try Application(
            router: router, configuration: twoLoops { $0.shutdownGracePeriod = .seconds(60) }, logger: quietLogger)
        try await app.start()
        let client = TestClient(port: try #require(app.localAddress?.port))
        var streams: [SSETestStream] = []
        for _ in 0..<40 { streams.append(try await client.sse("/news")) }
        for stream in streams { try await stream.waitForBody(containing: ":ok") }
        let perLoop = await app.serverStatistics().connectionCountsByLoop
        #expect(perLoop.count == 2 && perLoop.allSatisfy { $0 > 0 }, "\(perLoop)")
        let started = ContinuousClock.now
        await app.shutdown()
        #expect(ContinuousClock.now - started < .seconds(30))
        var farewells: [String] = []
        for stream in streams {
            let events = try await stream.remainingEvents()
            #expect(events.map(\.type) == ["shutdown"])
            farewells += events.map(\.data)
        }
        #expect(Set(farewells) == ["rill-loop-0", "rill-loop-1"])
        for loop in app.eventLoops {
            #expect(loop.closeResult == 0)
            #expect(loop.leakedHandleCount == 0)
        }
    }
}
