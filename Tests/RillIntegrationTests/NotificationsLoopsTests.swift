import Rill
import RillTestSupport
import RillTesting
import Testing

/// The `Notifications` example with `--loops`: its loop threads, a post reaching streams on
/// every loop, and the flag refused below 1.
@Suite struct NotificationsLoopsTests {
    @Test func `with --loops 2 a post reaches streams on both loops`() async throws {
        let node = try await NotificationsProcess("Notifications", arguments: ["--loops", "2"])
        #expect(threadNames(of: node.process.pid).filter { $0.hasPrefix("rill-loop-") } == ["rill-loop-0", "rill-loop-1"])
        let client = TestClient(port: node.port)
        // 12 streams: the kernel spreads them over both loops' listeners by a hash of the
        // address pair (all on one loop: a chance of 2 in 2^12); each must get the post.
        var streams: [SSETestStream] = []
        for _ in 0..<12 {
            let stream = try await client.sse("/stream")
            try await stream.waitForBody(containing: ":ok")
            streams.append(stream)
        }
        let sent = try await client.post(
            "/send_notification", text: #"{"message":"to every loop"}"#, headerFields: [.contentType: "application/json"])
        #expect(sent.status == .ok)
        #expect(try sent.decode([String: String].self)["message"] == "sent to 12 subscriber(s)")
        for stream in streams {
            #expect(try await stream.events(1).map(\.data) == [#"{"message":"to every loop"}"#])
            stream.close()
        }
        #expect(try await node.terminate() == "exit status 0")
    }

    @Test(arguments: [["--loops", "0"], ["--loops", "x"]])
    func `a loop count below 1 is refused`(arguments: [String]) async throws {
        let outcome = try await runRefusing("Notifications", arguments: arguments)
        #expect(outcome.refused, "\(arguments): \(outcome.ended ?? "still running")\n\(outcome.standardError)")
    }
}
