import Foundation
import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `rill-hub` executable itself, as an operator runs it: its command-line options, its
/// `listening on` line, a graceful SIGTERM, and two processes sharing one real `redis-server`.
@Suite struct HubProcessTests {
    @Test func `the executable serves with its options and stops on SIGTERM`() async throws {
        let hub = try await HubProcess([
            "--token", "s3cret", "--cors-origin", "https://app.example.com", "--heartbeat", "0.1", "--drain-seconds", "0.5",
        ])
        let client = hub.client
        let stream = try await client.sse("/stream?channel=news", headerFields: [.origin: "https://app.example.com"])
        #expect(stream.status == .ok)
        #expect(stream.headerFields[.accessControlAllowOrigin] == "https://app.example.com")
        try await stream.waitForBody(containing: "\n\n:\n\n")  // --heartbeat 0.1
        #expect(try await client.post("/publish?channel=news", text: "x").status == .unauthorized)
        let published = try await client.post(
            "/publish?channel=news&event=headline", text: "line one\nline two", headerFields: [.authorization: "Bearer s3cret"])
        // Ids from the clock (microseconds), so that they keep increasing across restarts.
        let answer = try published.decode(PublishAnswer.self)
        #expect(answer.subscribers == 1)
        #expect(UInt64(answer.id).map { $0 > 1_700_000_000_000_000 } == true, "\(answer.id)")
        #expect(try await stream.events(1) == [MessageEvent(type: "headline", data: "line one\nline two", lastEventID: answer.id)])
        #expect(try await client.get("/health").bodyText == #"{"status":"ok"}"#)
        // SIGTERM: the stream ends with its farewell, which sends rill.js elsewhere at once.
        async let ended = hub.terminate()
        try await stream.waitForBody(containing: "event: rill-reconnect\ndata: {\"reason\":\"shutdown\"}\n\n")
        stream.close()
        #expect(try await ended == "exit status 0")
    }

    /// The hub runs in a swift-service-lifecycle `ServiceGroup`, which handles the first SIGTERM
    /// and ignores the next ones: the application itself must turn a second signal into "stop
    /// now", or an operator's second SIGTERM (or Ctrl-C) would do nothing, or kill the process.
    @Test(arguments: [SIGTERM, SIGINT])
    func `a second signal during the graceful shutdown closes everything at once`(signal: Int32) async throws {
        // 20 streams ended spread over 30 s: the graceful shutdown takes that long.
        let hub = try await HubProcess(["--drain-seconds", "30"])
        var streams: [SSETestStream] = []
        for _ in 0..<20 { streams.append(try await hub.client.sse("/stream?channel=x")) }
        #expect(streams.allSatisfy { $0.status == .ok })
        hub.process.kill(signal)
        try await Task.sleep(for: .milliseconds(600))
        #expect(!hub.process.hasExited, "the graceful shutdown drains the streams over 30 s")
        let started = ContinuousClock.now
        hub.process.kill(signal)
        let ended = try await withDeadline(.seconds(15), "rill-hub shutdown") { hub.process.waitForExit(timeout: .seconds(12)) }
        #expect(ended == "exit status 0")
        // Not the 30 s drain (generous for a loaded machine).
        #expect(ContinuousClock.now - started < .seconds(6))
        #expect(hub.process.standardError.contains("received again") || hub.process.standardOutput.contains("received again"))
        for stream in streams { stream.close() }
    }

    @Test(arguments: [
        ["--port", "70000"], ["--history", "-1"], ["--max-connections", "0"], ["--token", ""], ["--bogus"],
        ["--metrics-channels", "-1"], ["--metrics-token", ""], ["--loops", "0"], ["--loops", "-2"], ["--max-stats-streams", "0"],
        // Seconds whose milliseconds would not fit 64 bits (they trapped at start).
        ["--jwt-leeway", "1e16"], ["--heartbeat", "1e300"], ["--max-connection-age", "1e17"], ["--drain-seconds", "nan"],
        // A positive age under a millisecond, and values that overflowed once streams opened.
        ["--max-connection-age", "0.0001"], ["--retry-ms", "9223372036854775807"], ["--max-queued-bytes", "9223372036854775807"],
        ["--cors-private-network"], ["--cors-origin", "https://App.example.com"],
    ])
    func `invalid options are refused`(arguments: [String]) async throws {
        let outcome = try await runRefusing("rill-hub", arguments: arguments)
        #expect(outcome.refused, "\(arguments): \(outcome.ended ?? "still running")\n\(outcome.standardError)")
        // With a message and an exit status, not a trap's signal.
        #expect(outcome.ended?.hasPrefix("exit status") == true, "\(arguments): \(outcome.ended ?? "still running")")
    }

    // `make test` installs what this needs; it never skips (a missing tool is a failure).
    @Test func `two hubs on one Redis share events and history`() async throws {
        let redis = try RedisServer()
        defer { redis.kill() }
        let a = try await HubProcess(["--redis", redis.url])
        let b = try await HubProcess(["--redis", redis.url])
        let onB = try await b.client.sse("/stream?channel=shared")
        #expect(onB.status == .ok)
        // The subscription on B is in place once a publish on B reaches it.
        #expect(
            await eventually(within: .seconds(10)) {
                (try? await b.client.get("/metrics").bodyText.contains("\nrill_subscribers 1.0\n")) == true
            })
        let first = try await a.client.post("/publish?channel=shared", text: "from A").decode(PublishAnswer.self)
        #expect(try await onB.events(1).map(\.data) == ["from A"])
        _ = try await a.client.post("/publish?channel=shared", text: "again from A")
        #expect(try await onB.events(1).map(\.data) == ["again from A"])
        onB.close()
        // Replay on B of what was published on A, from Redis's shared history.
        let replay = try await b.client.sse("/stream?channel=shared", headerFields: [lastEventIDField: first.id])
        #expect(replay.headerFields[replayField] == "complete")
        #expect(try await replay.events(1).map(\.data) == ["again from A"])
        replay.close()
        #expect(try await a.terminate() == "exit status 0")
        #expect(try await b.terminate() == "exit status 0")
    }
}
