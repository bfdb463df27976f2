import Foundation
import Rill
import Testing

/// What a real client sees when an open stream ends for reasons other than its producer
/// returning: the client going away, or the server shutting down (SIGTERM).
@Suite(.timeLimit(.minutes(1)))
struct StreamLifecycleTests {
    /// An endless `/events`: far more events than any test waits for.
    static let endless = ["--events-per-connection", "1000000"]

    @Test func `a client that disconnects mid-stream ends its handler promptly`() async throws {
        try await withTestServer(arguments: Self.endless) { server in
            let received = try await rawExchange(port: server.port, path: "/events") { bytes in
                String(decoding: bytes, as: UTF8.self).contains("id: 2\n")
            }
            #expect(String(decoding: received, as: UTF8.self).contains("data: tick 2\n"))
            // The client closed its socket: the handler is cancelled and its stream ends.
            let ended = try await waitUntil(timeout: .seconds(5)) {
                try await seenConnections(port: server.port).first?.endedAtMilliseconds != nil
            }
            #expect(ended, "the stream's handler still runs 5 s after its client left")
        }
    }

    @Test func `a server shutdown ends an open stream with a proper last chunk and exits promptly`() async throws {
        try await withTestServer(arguments: Self.endless) { server in
            async let response = rawGET(port: server.port, path: "/events", timeout: .seconds(20))
            let connected = try await waitUntil(timeout: .seconds(5)) {
                try await seenConnections(port: server.port).count == 1
            }
            try #require(connected)
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            server.terminate()
            // rawGET fails unless the chunked body ends with its zero-length chunk.
            let body = try await response.body
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(3), "the stream ended \(elapsed) after SIGTERM")
            var parser = ServerSentEventParser()
            let events = parser.parse(body)
            #expect(events.count >= 2)
            #expect(events == (1...events.count).map(expectedEvent(id:)))
        }
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
