import Rill
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private func echoRouter() -> Router {
    let router = Router()
    router.get("/n/:n") { _, context in try context.parameter("n") }
    router.post("/echo") { request, _ in request.bodyText }
    router.delete("/n/:n") { _, _ in HTTPResponse.Status.noContent }
    router.get("/bytes/:count") { _, context in
        let count = Int(try context.parameter("count")) ?? 0
        return Response(status: .ok, body: .bytes(patternBytes(count)))
    }
    router.get("/slow") { _, context in
        try await context.eventLoop.sleep(for: .milliseconds(500))
        return "slow"
    }
    return router
}

/// `count` bytes that differ from one position to the next and from one count to another, so
/// a misplaced byte, or one of another response, shows.
private func patternBytes(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8 &+ count) }
}

/// Keep-alive, `Connection: close`, HTTP/1.0 and pipelining on real sockets.
@Suite struct ConnectionReuseTests {
    @Test func `three requests share one keep-alive connection`() async throws {
        try await withLiveServer(echoRouter()) { app, port in
            let (responses, closed) = try await converse(port: port) { connection in
                var responses: [TestResponse] = []
                for n in 1...3 {
                    try connection.send(request("/n/\(n)"))
                    responses.append(try connection.readResponse())
                }
                return (responses, connection.isClosedByPeer(within: .milliseconds(100)))
            }
            #expect(responses.map(\.bodyText) == ["1", "2", "3"])
            #expect(responses.allSatisfy { $0.headerFields[.connection] == nil })
            #expect(closed == false)
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `Connection close is answered with connection close and the server closes`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (response, closed) = try await converse(port: port) { connection in
                try connection.send(request("/n/7", ["Connection: close"]))
                return (try connection.readResponse(), connection.isClosedByPeer(within: .seconds(2)))
            }
            #expect(response.status == .ok)
            #expect(response.bodyText == "7")
            #expect(response.headerFields[.connection] == "close")
            #expect(closed)
        }
    }

    @Test func `an HTTP 1.0 request closes by default`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (response, closed) = try await converse(port: port) { connection in
                try connection.send("GET /n/10 HTTP/1.0\r\n\r\n")
                return (try connection.readResponse(), connection.isClosedByPeer(within: .seconds(2)))
            }
            #expect(response.version == .http1_1)  // the server's own version (RFC 9110 §2.5), as nginx
            #expect(response.bodyText == "10")
            #expect(response.headerFields[.connection] == "close")
            #expect(closed)
        }
    }

    @Test func `an HTTP 1.0 request with keep-alive keeps the connection`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (responses, closed) = try await converse(port: port) { connection in
                try connection.send("GET /n/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let first = try connection.readResponse()
                try connection.send("GET /n/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let second = try connection.readResponse()
                return ([first, second], connection.isClosedByPeer(within: .milliseconds(100)))
            }
            #expect(responses.map(\.bodyText) == ["1", "2"])
            #expect(responses.map(\.version) == [.http1_1, .http1_1])
            #expect(responses.map { $0.headerFields[.connection] } == ["keep-alive", "keep-alive"])
            #expect(closed == false)
        }
    }

    @Test func `a hundred pipelined requests in one write get a hundred responses in order`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let responses = try await converse(port: port) { connection in
                try connection.send((0..<100).map { request("/n/\($0)") }.joined())
                return try connection.readResponses(100)
            }
            #expect(responses.count == 100)
            #expect(responses.allSatisfy { $0.status == .ok })
            #expect(responses.map(\.bodyText) == (0..<100).map(String.init))
        }
    }

    @Test func `large and small responses pipelined to a client that reads late all arrive intact`() async throws {
        // The server serializes every response into one reused buffer (kept up to 64 KiB; a
        // larger one is let go of), and a client that reads late makes the kernel take only
        // part of a large response: every byte must still arrive, in order.
        let counts = [3_000_000, 5, 200_000, 60_000, 12, 70_000, 40_000]
        try await withLiveServer(echoRouter()) { _, port in
            let bodies = try await converse(port: port) { connection in
                try connection.send(counts.map { request("/bytes/\($0)") }.joined())
                usleep(300_000)  // the server's writes fill the socket buffers meanwhile
                return try connection.readResponses(counts.count).map(\.body)
            }
            #expect(bodies.count == counts.count)
            for (body, count) in zip(bodies, counts) { #expect(body == patternBytes(count)) }
        }
    }

    @Test func `pipelined requests with bodies are answered in order`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let bodies = try await converse(port: port) { connection in
                let batch = (0..<20).map { request("/echo", method: "POST", body: "body \($0) " + String(repeating: "x", count: $0 * 100)) }
                try connection.send(batch.joined())
                return try connection.readResponses(20).map(\.bodyText)
            }
            #expect(bodies == (0..<20).map { "body \($0) " + String(repeating: "x", count: $0 * 100) })
        }
    }

    @Test func `a chunked request body arriving in several writes is reassembled`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (response, next) = try await converse(port: port) { connection in
                try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                for piece in ["5\r\nhello\r\n", "1;ext=1\r\n \r\n", "5\r\nwor", "ld\r\n", "0\r\nX-Trailer: yes\r\n\r\n"] {
                    try connection.send(piece)
                    blockingSleep(milliseconds: 5)
                }
                let response = try connection.readResponse()
                try connection.send(request("/n/after"))
                return (response, try connection.readResponse())
            }
            #expect(response.status == .ok)
            #expect(response.bodyText == "hello world")
            #expect(next.bodyText == "after")
        }
    }

    @Test func `Expect 100-continue gets an interim 100 before the final response`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (interim, final) = try await converse(port: port) { connection in
                try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n")
                // The body is only sent once the server asked for it.
                let interim = try connection.readResponse(forRequestMethod: .post)
                try connection.send("continued")
                return (interim, try connection.readResponse(forRequestMethod: .post))
            }
            #expect(interim.status.code == 100)
            #expect(interim.version == .http1_1)
            #expect(interim.body.isEmpty)
            #expect(final.status == .ok)
            #expect(final.bodyText == "continued")
        }
    }

    @Test func `Expect 100-continue with a too-large Content-Length gets a 413 and no 100`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (response, closed) = try await converse(port: port) { connection in
                try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n")
                return (try connection.readResponse(forRequestMethod: .post), connection.isClosedByPeer(within: .seconds(2)))
            }
            #expect(response.status == .contentTooLarge)
            #expect(response.headerFields[.connection] == "close")
            #expect(closed)
        }
    }

    @Test func `requests pipelined behind Connection close are not answered`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (response, rest) = try await converse(port: port) { connection in
                try connection.send(request("/n/1", ["Connection: close"]) + request("/n/2"))
                return (try connection.readResponse(), try connection.receiveUntilClose())
            }
            #expect(response.bodyText == "1")
            #expect(response.headerFields[.connection] == "close")
            #expect(rest.isEmpty, "answered a request sent after Connection: close")
        }
    }

    @Test func `a client that half-closes after pipelining still gets every response`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let (responses, rest) = try await converse(port: port) { connection in
                try connection.send((1...3).map { request("/n/\($0)") }.joined())
                connection.shutdownWrite()
                return (try connection.readResponses(3), try connection.receiveUntilClose())
            }
            #expect(responses.map(\.bodyText) == ["1", "2", "3"])
            #expect(rest.isEmpty)
        }
    }

    @Test func `a 204 has no body and no length, and the connection carries on`() async throws {
        try await withLiveServer(echoRouter()) { _, port in
            let responses = try await converse(port: port) { connection in
                try connection.send(request("/n/1", method: "DELETE") + request("/n/2"))
                return try connection.readResponses(2)
            }
            #expect(responses.map(\.status.code) == [204, 200])
            #expect(responses[0].headerFields[.contentLength] == nil)
            #expect(responses[0].body.isEmpty)
            #expect(responses[1].bodyText == "2")
        }
    }

    @Test func `a slow handler is cut by neither the request nor the idle timeout`() async throws {
        let configuration = testConfiguration {
            $0.requestTimeout = .milliseconds(150)
            $0.idleTimeout = .milliseconds(150)
        }
        try await withLiveServer(echoRouter(), configuration: configuration) { _, port in
            let response = try await converse(port: port) { connection in
                try connection.send(request("/slow"))
                return try connection.readResponse()
            }
            #expect(response.status == .ok)
            #expect(response.bodyText == "slow")
        }
    }
}
