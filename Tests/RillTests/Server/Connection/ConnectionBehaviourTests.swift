import Foundation
import Synchronization
import Testing

@testable import Rill
@testable import RillCore

/// The connection against a ``MockTransport``, uvicorn-style: no sockets, the test plays the
/// client byte by byte and decides when it reads.
private func router(cancellations: Shared<Int> = Shared(0)) -> Router {
    let router = Router()
    router.get("/hello") { _, _ in "hello" }
    router.get("/slow") { _, context in
        try await context.eventLoop.sleep(for: .milliseconds(20))
        return "slow"
    }
    router.get("/big") { _, _ in
        Response(
            body: ResponseBody { writer in
                for _ in 0..<8 { try await writer.write([UInt8](repeating: 120, count: 32 * 1024)) }
            })
    }
    router.get("/events") { _, _ in
        // Heartbeats every 40 ms; a client that holds more than 40 bytes has stalled.
        EventStream(configuration: EventStreamConfiguration(heartbeatInterval: .milliseconds(40), maxQueuedBytes: 40)) { stream in
            do {
                try await stream.send(ServerSentEvent(data: "first"))
                try await suspendUntilCancelled()
            } catch {
                cancellations.update { $0 += 1 }
                throw error
            }
        }
    }
    return router
}

/// Suspends until the task is cancelled.
private func suspendUntilCancelled() async throws {
    let never = AsyncStream<Void> { _ in }
    for await _ in never {}
    throw CancellationError()
}

private func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)\r\n" }

private func responseCount(_ text: String) -> Int { text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 }

@Suite struct ConnectionBehaviourTests {
    @Test func `pipelined requests are answered in order, one response per request`() async throws {
        let harness = try ConnectionHarness(router())
        await harness.connect()
        // Three requests in one read; the first is slow: the others wait for it.
        await harness.onLoop { $0.receive(get("/slow") + get("/hello") + get("/hello")) }
        #expect(await harness.waitUntilWritten { responseCount($0) == 3 })
        let text = await harness.written
        let bodies = text.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix(5) }
        #expect(bodies.prefix(3) == ["slowH", "hello", "hello"])
        #expect(await harness.onLoop { !$0.isClosing })
        await harness.shutdown()
    }

    @Test func `a half-closed client gets the answers to its complete requests, then the connection closes`() async throws {
        let harness = try ConnectionHarness(router())
        await harness.connect()
        await harness.onLoop {
            $0.receive(get("/hello") + get("/hello"))
            $0.endInput()
        }
        #expect(await harness.waitUntilWritten { responseCount($0) == 2 })
        #expect(await eventually { await harness.connectionCount == 0 })
        await harness.shutdown()
    }

    @Test func `a half-close while a handler waits cancels it, and its 503 is still written`() async throws {
        let harness = try ConnectionHarness(router())
        await harness.connect()
        await harness.onLoop {
            $0.receive(get("/slow"))
            $0.endInput()
        }
        #expect(await harness.waitUntilWritten { $0.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n") })
        #expect(await eventually { await harness.connectionCount == 0 })
        await harness.shutdown()
    }

    @Test func `a slow reader suspends a streamed body at the high-water mark and resumes it when it reads`() async throws {
        var configuration = ServerConfiguration()
        configuration.writeHighWaterMarkBytes = 64 * 1024
        configuration.writeLowWaterMarkBytes = 16 * 1024
        let harness = try ConnectionHarness(router(), configuration: configuration)
        await harness.connect()
        await harness.onLoop {
            $0.holdsWrites = true
            $0.receive(get("/big"))
        }
        // The writer goes past the mark once (its write is taken), then waits.
        #expect(await eventually { await harness.onLoop { $0.queuedBytes > 64 * 1024 } })
        try await Task.sleep(for: .milliseconds(50))
        let held = await harness.onLoop { $0.written.count }
        #expect(held < 4 * 32 * 1024)
        // Reading lets the next chunks go, until the whole body and its last chunk are out.
        for _ in 0..<8 { await harness.onLoop { $0.clientReads() } }
        #expect(await harness.waitUntilWritten { $0.hasSuffix("0\r\n\r\n") })
        #expect(await harness.onLoop { $0.written.count } > 8 * 32 * 1024)
        await harness.shutdown()
    }

    @Test func `a request not received within the request timeout gets 408 and the connection closes`() async throws {
        var configuration = ServerConfiguration()
        configuration.requestTimeout = .milliseconds(30)
        let harness = try ConnectionHarness(router(), configuration: configuration)
        await harness.connect()
        await harness.onLoop { $0.receive("GET /hello HTTP/1.1\r\nHost") }
        #expect(await harness.waitUntilWritten { $0.hasPrefix("HTTP/1.1 408 Request Timeout\r\n") })
        #expect(await harness.onLoop { $0.closedAfterFlush })
        await harness.shutdown()
    }

    @Test func `an idle keep-alive connection closes after the idle timeout without a byte`() async throws {
        var configuration = ServerConfiguration()
        configuration.idleTimeout = .milliseconds(30)
        let harness = try ConnectionHarness(router(), configuration: configuration)
        // Connected and the request read in one turn: 30 ms between them on a busy machine
        // would be the idle timeout (no request yet), which this test is not about.
        await harness.connect(receiving: get("/hello"))
        #expect(await harness.waitUntilWritten { $0.hasSuffix("hello") })
        let answered = await harness.written
        #expect(await eventually { await harness.connectionCount == 0 })
        #expect(await harness.written == answered)
        await harness.shutdown()
    }

    @Test func `a reset cancels the event stream's handler and closes the connection`() async throws {
        let cancellations = Shared(0)
        let harness = try ConnectionHarness(router(cancellations: cancellations))
        await harness.connect()
        await harness.onLoop { $0.receive(get("/events")) }
        #expect(await harness.waitUntilWritten { $0.contains("data: first\n\n") })
        // libuv's codes are negated errno values.
        await harness.onLoop { $0.endInput(error: UVError(-ECONNRESET, "reading")) }
        #expect(await eventually { cancellations.current == 1 })
        #expect(await eventually { await harness.connectionCount == 0 })
        await harness.shutdown()
    }

    @Test func `a quiet event stream gets heartbeats, and a stalled one is disconnected`() async throws {
        let harness = try ConnectionHarness(router())
        await harness.connect()
        await harness.onLoop { $0.receive(get("/events")) }
        #expect(await harness.waitUntilWritten { $0.components(separatedBy: "3\r\n:\n\n\r\n").count >= 3 })
        // The client stops reading: heartbeats pile up past the stream's limit, and it goes —
        // reset, so that the kernel does not keep delivering what it holds for it.
        await harness.onLoop { $0.holdsWrites = true }
        #expect(await eventually { await harness.connectionCount == 0 })
        #expect(await harness.onLoop { $0.aborted })
        await harness.shutdown()
    }
}
