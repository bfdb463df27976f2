import Rill
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private struct Pet: Codable, Equatable, Sendable {
    var name: String
    var legs: Int
}

private struct Secret: Error {}

private func petRouter() -> Router {
    let router = Router()
    router.get("/hello") { _, _ in "Hello" }
    router.get("/pets/:name") { _, context in Pet(name: try context.parameter("name"), legs: 4) }
    router.post("/pets") { request, _ in JSONResponse(try request.decode(Pet.self), status: .created) }
    router.get("/teapot") { _, _ -> String in throw HTTPError(HTTPResponse.Status(code: 418), message: "short and stout") }
    router.get("/secret") { _, _ -> String in throw Secret() }
    router.get("/cancelled") { _, _ -> String in throw CancellationError() }
    router.get("/where") { request, context in
        "loop=\(context.eventLoop.inEventLoop) remote=\(context.remoteAddress == nil ? "none" : "some") q=\(request.query["q"] ?? "-")"
    }
    router.get("/stream") { _, _ in
        Response(
            body: ResponseBody { writer in
                try await writer.write("written ")
                try await writer.write("in pieces")
            })
    }
    return router
}

private func makeApp(_ router: Router = petRouter()) throws -> Application {
    try Application(router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0), logger: quietLogger)
}

@Suite struct TestClientTests {
    @Test(arguments: [TestMode.router, .live])
    func `a GET returns the handler's status, content type and body`(mode: TestMode) async throws {
        let app = try makeApp()
        try await app.test(mode) { client in
            let response = try await client.get("/hello")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "text/plain; charset=utf-8")
            #expect(response.bodyText == "Hello")
        }
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test(arguments: [TestMode.router, .live])
    func `JSON goes both ways`(mode: TestMode) async throws {
        try await makeApp().test(mode) { client in
            let fetched = try await client.get("/pets/rex")
            #expect(try fetched.decode(Pet.self) == Pet(name: "rex", legs: 4))
            let created = try await client.post("/pets", json: Pet(name: "tweety", legs: 2))
            #expect(created.status == .created)
            #expect(created.headerFields[.contentType] == "application/json; charset=utf-8")
            #expect(try created.decode(Pet.self) == Pet(name: "tweety", legs: 2))
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `thrown errors become the responses the server would send`(mode: TestMode) async throws {
        try await makeApp().test(mode) { client in
            let teapot = try await client.get("/teapot")
            #expect(teapot.status.code == 418)
            #expect(try teapot.decode(ErrorBody.self).error.message == "short and stout")
            let secret = try await client.get("/secret")
            #expect(secret.status == .internalServerError)
            #expect(try secret.decode(ErrorBody.self) == ErrorBody(error: .init(status: 500, reason: "Internal Server Error")))
            // A handler that gives up because it was cancelled: 503 in both modes (one mapping).
            let cancelled = try await client.get("/cancelled")
            #expect(cancelled.status == .serviceUnavailable)
            #expect(try cancelled.decode(ErrorBody.self).error.message == "the request was cancelled")
            let missing = try await client.get("/nowhere")
            #expect(missing.status == .notFound)
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `HEAD responses have no body`(mode: TestMode) async throws {
        try await makeApp().test(mode) { client in
            let response = try await client.head("/hello")
            #expect(response.status == .ok)
            #expect(response.body.isEmpty)
            if mode == .live { #expect(response.headerFields[.contentLength] == "5") }
        }
    }

    @Test func `router mode runs handlers on the application's loop without a peer address`() async throws {
        try await makeApp().test(.router) { client in
            #expect(client.port == nil)
            let response = try await client.get("/where?q=fish")
            #expect(response.bodyText == "loop=true remote=none q=fish")
        }
    }

    @Test func `live mode serves over a real socket with the server's own header fields`() async throws {
        try await makeApp().test(.live) { client in
            let port = try #require(client.port)
            #expect(port > 0)
            let response = try await client.get("/where?q=fish")
            #expect(response.bodyText == "loop=true remote=some q=fish")
            #expect(response.headerFields[.contentLength] == "28")
            #expect(response.headerFields[.date] != nil)
            #expect(response.headerFields[.server] == "Rill")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `both modes run streamed bodies`(mode: TestMode) async throws {
        try await makeApp().test(mode) { client in
            let response = try await client.get("/stream")
            // Framing is the server's: only the wire has it.
            #expect(response.headerFields[.transferEncoding] == (mode == .live ? "chunked" : nil))
            #expect(response.bodyText == "written in pieces")
        }
    }

    @Test func `live mode refuses a configuration that is not loopback port 0`() async throws {
        let app = try Application(router: petRouter(), configuration: ServerConfiguration(host: "127.0.0.1", port: 8080))
        await #expect(throws: TestClientError.liveModeNeedsLoopbackAndPortZero(host: "127.0.0.1", port: 8080)) {
            try await app.test(.live) { _ in Issue.record("the body must not run") }
        }
        #expect(app.localAddress == nil)
        #expect(app.eventLoop.closeResult == 0)
    }

    @Test func `the application is shut down even when the body throws`() async throws {
        let app = try makeApp()
        await #expect(throws: Secret.self) {
            try await app.test(.live) { _ in throw Secret() }
        }
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }
}

@Suite struct RawConnectionTests {
    @Test func `waiting for bytes that never come times out within the bound`() async throws {
        let router = Router()
        router.get("/") { _, _ in "x" }
        try await withLiveServer(router) { _, port in
            let (error, elapsed) = try await onDedicatedThread { () -> (TestClientError?, Duration) in
                let connection = try RawConnection(port: port, timeout: .milliseconds(200))
                let start = ContinuousClock.now
                do {
                    _ = try connection.receive(atLeast: 1)
                    return (nil, ContinuousClock.now - start)
                } catch let error as TestClientError {
                    return (error, ContinuousClock.now - start)
                }
            }
            #expect(error == .timedOut(waitingFor: "1 bytes"))
            #expect(elapsed >= .milliseconds(190))
            #expect(elapsed < .seconds(2))
        }
    }

    @Test func `an open keep-alive connection is not reported closed`() async throws {
        let router = Router()
        router.get("/") { _, _ in "x" }
        try await withLiveServer(router) { _, port in
            let (body, closed) = try await converse(port: port) { connection in
                try connection.send(request("/"))
                return (try connection.readResponse().bodyText, connection.isClosedByPeer(within: .milliseconds(150)))
            }
            #expect(body == "x")
            #expect(closed == false)
        }
    }

    @Test func `connecting to a port nobody listens on fails with ECONNREFUSED`() async throws {
        let app = try makeApp()
        let port = try await app.start().port
        await app.shutdown()
        await #expect(throws: TestClientError.system(call: "connect", errno: ECONNREFUSED)) {
            try await onDedicatedThread { _ = try RawConnection(port: port) }
        }
    }

    @Test func `closing twice closes the descriptor only once`() async throws {
        let router = Router()
        router.get("/") { _, _ in "x" }
        try await withLiveServer(router) { _, port in
            let stillOpen = try await onDedicatedThread { () -> Bool in
                let connection = try RawConnection(port: port)
                connection.close()
                // Usually reuses the number just freed; a second close(2) of it would close this.
                let other = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                defer { Glibc.close(other) }
                connection.close()
                return fcntl(other, F_GETFD) != -1
            }
            #expect(stillOpen)
        }
    }

    @Test func `operations on a closed connection fail instead of touching a reused descriptor`() async throws {
        let router = Router()
        router.get("/") { _, _ in "x" }
        try await withLiveServer(router) { _, port in
            let errors = try await onDedicatedThread { () -> [String] in
                let connection = try RawConnection(port: port)
                connection.close()
                var errors: [String] = []
                do { try connection.send("GET / HTTP/1.1\r\n\r\n") } catch { errors.append("\(error)") }
                do { _ = try connection.readResponse() } catch { errors.append("\(error)") }
                return errors
            }
            #expect(errors == ["send failed with errno \(EBADF)", "recv failed with errno \(EBADF)"])
        }
    }

    @Test func `work on a dedicated thread returns its value or its error`() async throws {
        #expect(try await onDedicatedThread { 6 * 7 } == 42)
        await #expect(throws: Secret.self) { try await onDedicatedThread { throw Secret() } }
    }
}
