import Rill
import RillTesting
import Testing

/// What a client can make a connection hold: pipelined input behind a response, queued output
/// a client never reads, and a subscription whose client left before the handler returned.
@Suite struct HeldInputTests {
    @Test func `input pipelined behind an event stream is dropped, and the connection closes when the stream ends`()
        async throws
    {
        let router = Router()
        router.get("/events") { _, context in
            EventStream { stream in
                try await stream.send(ServerSentEvent(data: "one"))
                // Long enough for the client's pipelined requests to arrive meanwhile.
                try await context.eventLoop.sleep(for: .milliseconds(300))
                try await stream.send(ServerSentEvent(data: "two"))
            }
        }
        router.post("/nope") { _, _ in "answered" }
        try await withLiveServer(router) { _, port in
            let (text, closed) = try await converse(port: port) { connection in
                let body = String(repeating: "b", count: 200_000)
                // 2 MB of requests behind an endless response: sending all of it must not block,
                // since the server reads (and drops) to notice the client leaving.
                var burst = request("/events")
                for _ in 0..<10 { burst += request("/nope", method: "POST", body: body) }
                try connection.send(burst)
                let bytes = try connection.receiveUntilClose()
                return (String(decoding: bytes, as: UTF8.self), connection.isClosedByPeer(within: .seconds(1)))
            }
            #expect(text.hasPrefix("HTTP/1.1 200 OK"))
            #expect(text.contains("data: one\n\n"))
            #expect(text.contains("data: two\n\n"))
            #expect(text.hasSuffix("0\r\n\r\n"), "the stream did not end with its last chunk")
            // The requests behind the stream were never answered: they were not held.
            #expect(!text.contains("answered"))
            #expect(closed)
        }
    }

    @Test func `a client that stopped reading is closed after the write timeout`() async throws {
        let written = Shared(0)
        let router = Router()
        router.get("/flood") { _, _ in
            Response(
                body: ResponseBody { writer in
                    let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
                    // Bounded: 256 MiB is far more than loopback socket buffers take.
                    for _ in 0..<4096 {
                        try await writer.write(chunk)
                        written.update { $0 += chunk.count }
                    }
                })
        }
        let configuration = testConfiguration { $0.writeTimeout = .milliseconds(300) }
        try await withLiveServer(router, configuration: configuration) { app, port in
            let connection = try await onDedicatedThread { () -> RawConnection in
                let connection = try RawConnection(port: port)
                try connection.send(request("/flood"))
                return connection
            }
            #expect(await eventually { written.current > 0 })
            // Never read: the server must give up on its own.
            #expect(await eventually(within: .seconds(10)) { await app.connectionCount() == 0 })
            #expect(await app.serverStatistics().writeTimeoutCount == 1)
            #expect(written.current < 4096 * 64 * 1024)
            connection.close()
        }
    }

    @Test func `a reader that is slow but steady is not cut off by the write timeout`() async throws {
        let router = Router()
        router.get("/big") { _, _ in
            Response(
                body: ResponseBody { writer in
                    let chunk = [UInt8](repeating: UInt8(ascii: "y"), count: 64 * 1024)
                    for _ in 0..<160 { try await writer.write(chunk) }
                })
        }
        let configuration = testConfiguration { $0.writeTimeout = .milliseconds(400) }
        try await withLiveServer(router, configuration: configuration) { app, port in
            let total = try await converse(port: port, timeout: .seconds(20)) { connection in
                try connection.send(request("/big", ["Connection: close"]))
                var total = 0
                // 10 MB read a socket buffer at a time with pauses shorter than the timeout: each pause
                // leaves the server's queue stuck only briefly, so no check sees zero progress.
                while true {
                    let bytes = try connection.receive(atLeast: 1)
                    if bytes.isEmpty { break }
                    total += bytes.count
                    blockingSleep(milliseconds: 20)
                }
                return total
            }
            #expect(total > 160 * 64 * 1024)
            #expect(await app.serverStatistics().writeTimeoutCount == 0)
        }
    }

    @Test func `a subscription returned after its client left is cancelled`() async throws {
        let router = Router()
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        let subscribed = Shared(false)
        router.get("/late") { request, context in
            let stream = try await app.eventStream(for: request, context: context)
            subscribed.set(true)
            // The client resets meanwhile; the handler still returns its stream.
            try? await context.eventLoop.sleep(for: .milliseconds(200))
            return stream
        }
        let address = try await app.start()
        let connection = try await onDedicatedThread { () -> RawConnection in
            let connection = try RawConnection(port: address.port)
            try connection.send(request("/late?channel=leaving"))
            return connection
        }
        #expect(await eventually { subscribed.current })
        connection.reset()
        #expect(await eventually { await app.connectionCount() == 0 })
        #expect(await eventually { await app.broker.statistics().subscriptionCount == 0 })
        await app.shutdown()
    }
}
