import Foundation
import Rill
import RillTestSupport
import RillTesting
import Testing

/// A calm shutdown: with ``ServerConfiguration/shutdownDrainPeriod`` the event streams end
/// spread over the window (each with its farewell), so their clients' reconnects arrive spread
/// too, instead of all in one instant. 200 streams from an asyncio client
/// (Tests/lifecycle/stream_end_times.py), ends counted per 100 ms.
@Suite(.timeLimit(.minutes(1)))
struct ShutdownDrainTests {
    /// 200 streams end in batches every 25 ms; 5 streams one at a time, 400 ms apart (they once
    /// all ended within the first 125 ms).
    @Test(arguments: [200, 5])
    func `graceful shutdown ends event streams spread over the drain period, each with its farewell`(streams: Int) async throws {
        let router = Router()
        router.get("/events") { request, context in
            var stream = try await context.eventStream(for: request, channels: ["drain"])
            stream.farewell = ServerSentEvent(data: #"{"reason":"shutdown"}"#, event: "farewell")
            return stream
        }
        let configuration = ServerConfiguration(
            eventLoopCount: 1, host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(5), shutdownDrainPeriod: .seconds(2))
        let app = try Application(router: router, configuration: configuration)
        let address = try await app.start()
        let script = Paths.packageRoot.appendingPathComponent("Tests/lifecycle/stream_end_times.py").path
        async let run = runProcess(
            Paths.python + [script, "http://127.0.0.1:\(address.port)/events", "\(streams)", "20"], timeout: .seconds(30))
        var subscribed = 0
        for _ in 0..<500 where subscribed < streams {
            subscribed = await app.broker.statistics().subscribersPerChannel["drain", default: 0]
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(subscribed == streams, "only \(subscribed) streams subscribed")
        await app.shutdown()
        let output = try await run
        try #require(output.status == 0 && !output.timedOut, "\(output.summary)")
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        let record = try JSONDecoder().decode(EndRecord.self, from: Data(line.utf8))
        #expect(record.opened == streams && record.ended == streams)
        #expect(record.farewells == streams, "every stream gets its farewell")
        // Spread: the ends span most of the 2 s window, and no 100 ms holds a fifth of them
        // (without a drain all 200 end within a few milliseconds).
        #expect((record.endsMs.last ?? 0) >= 1_500, "\(record.endsMs)")
        let perBucket = Dictionary(grouping: record.endsMs) { $0 / 100 }.mapValues(\.count)
        #expect((perBucket.values.max() ?? 0) <= max(1, streams / 5), "ends per 100 ms: \(perBucket.sorted { $0.key < $1.key })")
        if streams < 80 {
            // Fewer streams than ticks: evenly apart, 2 s / 5 = 400 ms (less the machine's jitter).
            let gaps = zip(record.endsMs.dropFirst(), record.endsMs).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 >= 250 }, "gaps between ends: \(gaps)")
        }
    }

    /// A proxy's pooled keep-alive connection has not heard of the shutdown: a request it sends
    /// during the drain is answered (with `connection: close`) instead of meeting a closed
    /// socket, which nginx cannot retry for a `POST` (audit 9 saw 502s at SIGTERM); a stream it
    /// opens then ends at once with its farewell, relayed or written by a task. With no stream
    /// to drain, the connections stay open for the first second.
    @Test(arguments: [true, false])
    func `during the drain, a kept-alive connection's next request is answered and a stream it opens ends at once`(
        withStream: Bool
    ) async throws {
        let router = Router()
        router.get("/events") { request, context in
            var stream = try await context.eventStream(for: request, channels: ["drain"])
            stream.farewell = ServerSentEvent(data: "relayed", event: "farewell")
            return stream
        }
        router.get("/ticks") { _, context in
            var stream = EventStream { stream in
                while true { try await context.eventLoop.sleep(for: .seconds(1)) }
            }
            stream.farewell = ServerSentEvent(data: "written", event: "farewell")
            return stream
        }
        router.get("/ping") { _, _ in "pong" }
        router.post("/publish") { _, _ in "published" }
        let configuration = ServerConfiguration(
            eventLoopCount: 1, host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(5), shutdownDrainPeriod: .seconds(2))
        let app = try Application(router: router, configuration: configuration)
        let port = try await app.start().port
        // One stream keeps the drain going; three connections wait in a "pool" after a request.
        let draining = try RawConnection(port: port)
        if withStream {
            try draining.send("GET /events HTTP/1.1\r\nHost: rill\r\n\r\n")
            _ = try draining.receive(atLeast: 1)
        }
        let pooled = try (0..<3).map { _ in try RawConnection(port: port) }
        for connection in pooled {
            try connection.send("GET /ping HTTP/1.1\r\nHost: rill\r\n\r\n")
            #expect(try connection.readResponse().status == .ok)
        }
        let shutdown = Task { await app.shutdown() }
        var refused = false
        for _ in 0..<500 where !refused {
            refused = (try? RawConnection(port: port)) == nil
            if !refused { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(refused, "the listener closes when the shutdown begins")

        try pooled[0].send("POST /publish HTTP/1.1\r\nHost: rill\r\nContent-Length: 2\r\n\r\nhi")
        let published = try pooled[0].readResponse(forRequestMethod: .post)
        #expect(published.status == .ok && String(decoding: published.body, as: UTF8.self) == "published")
        #expect(published.headerFields[.connection] == "close")
        #expect(pooled[0].isClosedByPeer(within: .seconds(2)))
        for (connection, path, farewell) in [(pooled[1], "/events", "relayed"), (pooled[2], "/ticks", "written")] {
            try connection.send("GET \(path) HTTP/1.1\r\nHost: rill\r\n\r\n")
            let stream = try connection.readResponse()
            #expect(stream.status == .ok, "\(path)")
            #expect(String(decoding: stream.body, as: UTF8.self).hasSuffix("event: farewell\ndata: \(farewell)\n\n"), "\(path)")
            #expect(stream.headerFields[.connection] == "close", "\(path)")
        }
        await shutdown.value
        for connection in pooled + [draining] { connection.close() }
    }

    /// A restart's successor need not wait for the drain: the listeners close when the shutdown
    /// begins, so a new server binds the port while the old one's streams still drain (two
    /// loops: `SO_REUSEPORT` listeners, which check that nothing else listens).
    @Test func `a new server binds the port while the old one drains`() async throws {
        let router = Router()
        router.get("/events") { request, context in try await context.eventStream(for: request, channels: ["drain"]) }
        router.get("/ping") { _, _ in "pong" }
        let old = try Application(
            router: router,
            configuration: ServerConfiguration(eventLoopCount: 2, host: "127.0.0.1", port: 0, shutdownDrainPeriod: .seconds(3)))
        let port = try await old.start().port
        // Three streams: the drain ends them 1 s apart, the first at once.
        let streams = try (0..<3).map { _ in try RawConnection(port: port) }
        for stream in streams {
            try stream.send("GET /events HTTP/1.1\r\nHost: rill\r\n\r\n")
            _ = try stream.receive(atLeast: 1)
        }
        let stopping = Task { await old.shutdown() }
        var refused = false
        for _ in 0..<500 where !refused {
            refused = (try? RawConnection(port: port)) == nil
            if !refused { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(refused)
        let successor = try Application(
            router: router, configuration: ServerConfiguration(eventLoopCount: 2, host: "127.0.0.1", port: port))
        #expect(try await successor.start().port == port)
        let probe = try RawConnection(port: port)
        try probe.send("GET /ping HTTP/1.1\r\nHost: rill\r\n\r\n")
        #expect(try probe.readResponse().status == .ok)
        #expect(await old.connectionCount() > 0, "the old server still drains")
        probe.close()
        for stream in streams { stream.close() }
        await successor.shutdown()
        await stopping.value
    }

    @Test func `each stream's retry is spread around the configured value`() throws {
        var generator = SeededRandomNumberGenerator(seed: 42)
        let configuration = EventStreamConfiguration(retry: .seconds(4))
        let samples = (0..<2_000).compactMap { _ in configuration.jitteredRetry(using: &generator) }
        let milliseconds = samples.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }
        #expect(milliseconds.allSatisfy { (3_000...5_000).contains($0) }, "±25 %")
        #expect((milliseconds.min() ?? 0) < 3_100 && (milliseconds.max() ?? 0) > 4_900, "the whole range is used")
        let mean = milliseconds.reduce(0, +) / Double(milliseconds.count)
        #expect(abs(mean - 4_000) < 60)
        // Ten 200 ms bins, each near a tenth of the samples (uniform).
        let bins = Dictionary(grouping: milliseconds) { Int(($0 - 3_000) / 200) }.mapValues(\.count)
        #expect(bins.values.allSatisfy { (140...260).contains($0) }, "\(bins.sorted { $0.key < $1.key })")

        let exact = EventStreamConfiguration(retry: .milliseconds(1_234), retryJitter: 0)
        #expect(exact.jitteredRetry(using: &generator) == .milliseconds(1_234))
        #expect(EventStreamConfiguration().jitteredRetry(using: &generator) == nil)
        // Centuries do not fit 64-bit milliseconds: the hint saturates instead of trapping.
        for jitter in [0, 0.25] {
            let huge = EventStreamConfiguration(retry: .seconds(Int64.max / 2), retryJitter: jitter)
            #expect(huge.jitteredRetry(using: &generator) == .milliseconds(Int64.max))
        }
    }
}

/// What stream_end_times.py reports.
private struct EndRecord: Decodable {
    var opened: Int
    var ended: Int
    var farewells: Int
    var endsMs: [Int]
}
