import Rill
import RillTesting
import Testing

@Suite struct StreamLimitTests {
    /// The heartbeat's stalled-client check uses the stream's own `maxQueuedBytes`, not the
    /// server's default: a stream allowed 8 MB queued is not cut off at the default 16 KiB.
    @Test func `the heartbeat checks the stream's own queued bytes limit`() async throws {
        let app = try liveApp(sseConfiguration(.init(maxQueuedBytes: 16 * 1024))) { router in
            router.get("/big") { _, context in
                EventStream(configuration: .init(heartbeatInterval: .milliseconds(20), maxQueuedBytes: 8 * 1024 * 1024)) { stream in
                    try await stream.send(ServerSentEvent(data: String(repeating: "b", count: 4 * 1024 * 1024)))
                    try await context.eventLoop.sleep(for: .seconds(30))
                }
            }
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let reader = try RawConnection(port: port, timeout: .seconds(10), receiveBufferBytes: 4096)
            try reader.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            // Several heartbeat intervals pass while the reader reads nothing.
            try await Task.sleep(for: .milliseconds(300))
            #expect(await app.serverStatistics().slowClientDisconnectCount == 0)
            var received = 0
            while received < 4 * 1024 * 1024, let bytes = try? reader.receive(atLeast: 1), !bytes.isEmpty {
                received += bytes.count
            }
            #expect(received >= 4 * 1024 * 1024)
            reader.close()
        }
    }
}
