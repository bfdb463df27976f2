import Rill
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Many clients at once, and graceful shutdown with work in flight.
@Suite struct ScaleAndShutdownTests {
    @Test func `a thousand concurrent connections are all served`() async throws {
        let count = 1000
        let router = Router()
        router.get("/n/:n") { _, context in try context.parameter("n") }
        try await withLiveServer(router) { app, port in
            let connections = try await onDedicatedThread {
                try (0..<count).map { _ in try RawConnection(port: port, timeout: .seconds(10)) }
            }
            #expect(await eventually(within: .seconds(10)) { await app.connectionCount() == count })
            let bodies = try await onDedicatedThread { () -> [String] in
                for (index, connection) in connections.enumerated() { try connection.send(request("/n/\(index)")) }
                return try connections.map { connection in
                    let response = try connection.readResponse()
                    return response.status == .ok ? response.bodyText : "status \(response.status.code)"
                }
            }
            #expect(bodies == (0..<count).map(String.init))
            for connection in connections { connection.close() }
            #expect(await eventually(within: .seconds(10)) { await app.connectionCount() == 0 })
        }
    }

    @Test func `graceful shutdown finishes the response in flight and refuses new connections`() async throws {
        let started = Shared(false)
        let finished = Shared(false)
        let refusalSeen = Shared(false)
        let router = Router()
        router.get("/slow") { _, context in
            started.set(true)
            // 300 ms, and more only if the test has not yet seen a refusal (a loaded machine):
            // the response must still be in flight when the refusal is observed.
            for _ in 0..<10 {
                try await context.eventLoop.sleep(for: .milliseconds(300))
                if refusalSeen.current { break }
            }
            finished.set(true)
            return "slow but complete"
        }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        let port = try await app.start().port
        let inFlight = Task {
            try await converse(port: port) { connection in
                try connection.send(request("/slow"))
                return (try connection.readResponse(), connection.isClosedByPeer(within: .seconds(2)))
            }
        }
        #expect(await eventually { started.current })
        let shutdown = Task { await app.shutdown() }
        // Once shutdown began, the listener is gone: connecting is refused outright.
        let refusedWhileInFlight = try await onDedicatedThread { () -> Bool? in
            let deadline = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < deadline {
                do {
                    let connection = try RawConnection(port: port)
                    connection.close()
                    blockingSleep(milliseconds: 2)
                } catch TestClientError.system(call: "connect", let code) where code == ECONNREFUSED || code == ECONNRESET {
                    // A connect racing the listener's close may be reset instead of refused:
                    // either way nobody accepts it any more.
                    let inFlight = !finished.current
                    refusalSeen.set(true)
                    return inFlight
                }
            }
            return nil
        }
        #expect(refusedWhileInFlight == true, "new connections were not refused while the slow response was in flight")
        let (response, closed) = try await inFlight.value
        #expect(response.status == .ok)
        #expect(response.bodyText == "slow but complete")
        #expect(response.headerFields[.connection] == "close")
        #expect(closed)
        await shutdown.value
        #expect(finished.current)
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test func `shutdown closes idle keep-alive connections at once`() async throws {
        let router = Router()
        router.get("/") { _, _ in "ok" }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        let port = try await app.start().port
        let connection = try await onDedicatedThread { () -> RawConnection in
            let connection = try RawConnection(port: port)
            try connection.send(request("/"))
            _ = try connection.readResponse()
            return connection
        }
        // Like a real client, close as soon as the server's FIN arrives.
        let closedByServer = Task {
            try await onDedicatedThread { () -> (Bool, Duration) in
                let start = ContinuousClock.now
                let closed = connection.isClosedByPeer(within: .seconds(3))
                connection.close()
                return (closed, ContinuousClock.now - start)
            }
        }
        let start = ContinuousClock.now
        await app.shutdown()
        let shutdownTook = ContinuousClock.now - start
        let (closed, closeTook) = try await closedByServer.value
        #expect(closed)
        // Well inside the 10 s grace period: idle connections are not waited for.
        #expect(closeTook < .seconds(5))
        #expect(shutdownTook < .seconds(5))
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test func `a handler still running after the grace period is cancelled`() async throws {
        let ending = Shared<String?>(nil)
        let started = Shared(false)
        let router = Router()
        router.get("/forever") { _, context in
            started.set(true)
            do {
                try await context.eventLoop.sleep(for: .seconds(60))
                return "woke"
            } catch {
                ending.set("\(type(of: error))")
                throw error
            }
        }
        let configuration = testConfiguration { $0.shutdownGracePeriod = .milliseconds(200) }
        let app = try Application(router: router, configuration: configuration, logger: quietLogger)
        let port = try await app.start().port
        let client = Task {
            try await converse(port: port) { connection -> [UInt8] in
                try connection.send(request("/forever"))
                return try connection.receiveUntilClose()
            }
        }
        // The handler must be running, not only the connection open (a request still in the
        // socket is simply closed by shutdown, with no handler to cancel).
        #expect(await eventually { started.current })
        let start = ContinuousClock.now
        await app.shutdown()
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(150))
        #expect(elapsed < .seconds(3))
        #expect(ending.current == "CancellationError")
        _ = try? await client.value
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }
}
