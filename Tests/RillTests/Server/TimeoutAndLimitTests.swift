import Rill
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private func okRouter() -> Router {
    let router = Router()
    router.get("/") { _, _ in "ok" }
    return router
}

/// Slow clients, idle clients and too many clients.
@Suite struct TimeoutAndLimitTests {
    @Test func `a request head that stalls gets a 408 and is closed`() async throws {
        let configuration = testConfiguration { $0.requestTimeout = .milliseconds(300) }
        try await withLiveServer(okRouter(), configuration: configuration) { app, port in
            let (response, elapsed, closed) = try await converse(port: port, timeout: .seconds(3)) { connection in
                let start = ContinuousClock.now
                try connection.send("GET /slo")
                let response = try connection.readResponse()
                let elapsed = ContinuousClock.now - start
                return (response, elapsed, connection.isClosedByPeer(within: .seconds(2)))
            }
            #expect(response.status == .requestTimeout)
            #expect(response.headerFields[.connection] == "close")
            #expect(try response.decode(ErrorBody.self).error.status == 408)
            #expect(elapsed >= .milliseconds(250), "the 408 came before the timeout")
            #expect(elapsed < .seconds(2))
            #expect(closed)
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a request line followed by silence gets a 408, not the idle timeout`() async throws {
        // Whole lines leave the parser's buffer as they are parsed: the connection must still
        // count as receiving a request (it used to fall back to the 60 s idle timeout).
        let configuration = testConfiguration { $0.requestTimeout = .milliseconds(300) }
        try await withLiveServer(okRouter(), configuration: configuration) { _, port in
            let (response, elapsed) = try await converse(port: port, timeout: .seconds(5)) { connection in
                let start = ContinuousClock.now
                try connection.send("GET /silent HTTP/1.1\r\n")
                return (try connection.readResponse(), ContinuousClock.now - start)
            }
            #expect(response.status == .requestTimeout)
            #expect(elapsed < .seconds(4))
        }
    }

    @Test func `header lines trickled one at a time get a 408`() async throws {
        let configuration = testConfiguration { $0.requestTimeout = .milliseconds(300) }
        try await withLiveServer(okRouter(), configuration: configuration) { _, port in
            let response = try await converse(port: port, timeout: .seconds(5)) { connection -> TestResponse? in
                try connection.send("GET /trickle HTTP/1.1\r\nHost: x\r\n")
                connection.timeout = .milliseconds(100)
                for index in 0..<40 {
                    if let response = try? connection.readResponse() { return response }
                    try? connection.send("X-Line-\(index): v\r\n")
                }
                return nil
            }
            #expect(response?.status == .requestTimeout)
        }
    }

    @Test func `request bodies still arriving stay within the process's budget: the one past it gets 503 and the others go on`() async throws {
        let router = okRouter()
        router.post("/upload") { request, _ in "\(request.body.count)" }
        let configuration = testConfiguration { $0.maxReceivingRequestBodyBytes = 100_000 }
        try await withLiveServer(router, configuration: configuration) { _, port in
            let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 80000\r\n\r\n"
            let chunk = String(repeating: "a", count: 10_000)
            let (first, refused, afterwards) = try await onDedicatedThread {
                let first = try RawConnection(port: port, timeout: .seconds(5))
                let second = try RawConnection(port: port, timeout: .seconds(5))
                defer {
                    first.close()
                    second.close()
                }
                // 60,000 bytes of the first body arrive and it waits for the rest...
                try first.send(head)
                for _ in 0..<6 { try first.send(chunk) }
                blockingSleep(milliseconds: 100)
                // ...so the second body's 50,000 would take the total past 100,000.
                try second.send(head)
                for _ in 0..<5 { try second.send(chunk) }
                let refused = try second.readResponse(forRequestMethod: .post)
                let closed = try second.receive(atLeast: 1).isEmpty
                // The first goes on; once it is done its bytes leave the count.
                for _ in 0..<2 { try first.send(chunk) }
                let answered = try first.readResponse(forRequestMethod: .post)
                let third = try RawConnection(port: port, timeout: .seconds(5))
                defer { third.close() }
                try third.send(head + String(repeating: "b", count: 80_000))
                return (answered, (refused, closed), try third.readResponse(forRequestMethod: .post))
            }
            #expect(first.status == .ok && first.bodyText == "80000")
            #expect(refused.0.status == .serviceUnavailable)
            #expect(refused.0.headerFields[.retryAfter] == "2")
            #expect(refused.1, "the refused connection closes")
            #expect(afterwards.status == .ok && afterwards.bodyText == "80000")
        }
    }

    @Test func `a body that stalls gets a 408 as well`() async throws {
        let configuration = testConfiguration { $0.requestTimeout = .milliseconds(300) }
        try await withLiveServer(okRouter(), configuration: configuration) { _, port in
            let response = try await converse(port: port, timeout: .seconds(3)) { connection in
                try connection.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
                return try connection.readResponse()
            }
            #expect(response.status == .requestTimeout)
        }
    }

    @Test func `a trickling head is not saved by each new byte`() async throws {
        // The request timeout runs from the first byte; a byte every 100 ms must not re-arm it.
        let configuration = testConfiguration { $0.requestTimeout = .milliseconds(300) }
        try await withLiveServer(okRouter(), configuration: configuration) { _, port in
            let (response, elapsed) = try await converse(port: port) { connection -> (TestResponse?, Duration) in
                let start = ContinuousClock.now
                connection.timeout = .milliseconds(100)
                for byte in "GET /trickle HTTP/1.1\r\nHost: x".utf8 {
                    try connection.send([byte])
                    // Waits 100 ms for an answer; a partial response stays buffered for the next try.
                    if let response = try? connection.readResponse() { return (response, ContinuousClock.now - start) }
                }
                return (nil, ContinuousClock.now - start)
            }
            #expect(response?.status == .requestTimeout)
            #expect(elapsed >= .milliseconds(250))
            #expect(elapsed < .seconds(2), "each byte re-armed the request timeout")
        }
    }

    @Test func `an idle keep-alive connection is closed by the server`() async throws {
        // Generous margins: the client thread may be scheduled late on a loaded machine, so only
        // "not closed well before" and "closed well after" are asserted.
        let configuration = testConfiguration { $0.idleTimeout = .seconds(1) }
        try await withLiveServer(okRouter(), configuration: configuration) { app, port in
            let (response, openEarly, closed) = try await converse(port: port) { connection in
                try connection.send(request("/"))
                let response = try connection.readResponse()
                let closedEarly = connection.isClosedByPeer(within: .milliseconds(300))
                let closed = connection.isClosedByPeer(within: .seconds(3))
                return (response, !closedEarly, closed)
            }
            #expect(response.status == .ok)
            #expect(openEarly, "closed before the idle timeout")
            #expect(closed, "still open long after the idle timeout")
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a connection that never sends anything is closed after the idle timeout`() async throws {
        // Without the accept deferral: with it the kernel would hold the silent socket for
        // seconds before the server ever sees it (TCPTests covers the deferral itself).
        let configuration = testConfiguration {
            $0.idleTimeout = .milliseconds(300)
            $0.acceptDeferral = nil
        }
        try await withLiveServer(okRouter(), configuration: configuration) { _, port in
            let (bytes, elapsed) = try await converse(port: port) { connection in
                let start = ContinuousClock.now
                let bytes = try connection.receiveUntilClose()
                return (bytes, ContinuousClock.now - start)
            }
            #expect(bytes.isEmpty)
            #expect(elapsed >= .milliseconds(250))
            #expect(elapsed < .seconds(2))
        }
    }

    @Test func `past the connection cap a client gets a 503 and is closed, and a freed slot is reused`() async throws {
        let configuration = testConfiguration { $0.maxConnections = 5 }
        try await withLiveServer(okRouter(), configuration: configuration) { app, port in
            let (held, statuses) = try await onDedicatedThread { () -> ([RawConnection], [Int]) in
                var held: [RawConnection] = []
                var statuses: [Int] = []
                for _ in 0..<5 {
                    let connection = try RawConnection(port: port)
                    try connection.send(request("/"))
                    statuses.append(try connection.readResponse().status.code)
                    held.append(connection)
                }
                return (held, statuses)
            }
            #expect(statuses == [200, 200, 200, 200, 200])
            #expect(await app.connectionCount() == 5)
            // The refused client speaks first, as HTTP clients do (the listener defers accepting
            // a connection until its first bytes); its request is read and dropped.
            let (refused, closed) = try await converse(port: port) { connection in
                try connection.send(request("/"))
                return (try connection.readResponse(), connection.isClosedByPeer(within: .seconds(2)))
            }
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headerFields[.connection] == "close")
            #expect(refused.headerFields[.retryAfter] == "1")
            #expect(
                try refused.decode(ErrorBody.self)
                    == ErrorBody(error: .init(status: 503, reason: "Service Unavailable", message: "too many connections")))
            #expect(closed)
            // The held connections still work.
            let stillServed = try await onDedicatedThread { () -> Bool in
                try held[0].send(request("/"))
                return try held[0].readResponse().bodyText == "ok"
            }
            #expect(stillServed)
            held[4].close()
            #expect(await eventually { await app.connectionCount() == 4 })
            let served = try await converse(port: port) { connection in
                try connection.send(request("/"))
                return try connection.readResponse()
            }
            #expect(served.status == .ok)
            #expect(served.bodyText == "ok")
            for connection in held { connection.close() }
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    /// Descriptors this process has open (/proc/self/fd, less the one reading it).
    static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return count - 1
    }

    @Test func `a flood over the connection cap cannot make every refused socket linger`() async throws {
        let configuration = testConfiguration { $0.maxConnections = 1 }
        try await withLiveServer(okRouter(), configuration: configuration) { app, port in
            let held = try await onDedicatedThread { () -> RawConnection in
                let connection = try RawConnection(port: port)
                try connection.send(request("/"))
                _ = try connection.readResponse()
                return connection
            }
            let before = Self.openDescriptorCount()
            let flood = 200
            let clients = try await onDedicatedThread { () -> [RawConnection] in
                try (0..<flood).map { _ in
                    let connection = try RawConnection(port: port)
                    try connection.send(request("/"))
                    return connection
                }
            }
            #expect(await eventually { await app.serverStatistics().refusedConnectionCount == flood })
            // Each refusal that lingers holds a server descriptor for up to 500 ms; the flood took
            // less, so without the cap the server would hold about 200 now.
            let serverHeld = Self.openDescriptorCount() - before - flood
            #expect(serverHeld <= 64, "the server holds \(serverHeld) refused sockets")
            // The first refusals lingered: their clients read the 503.
            let first = try await onDedicatedThread { try clients[0].readResponse() }
            #expect(first.status == .serviceUnavailable)
            for client in clients { client.close() }
            held.close()
        }
    }
}
