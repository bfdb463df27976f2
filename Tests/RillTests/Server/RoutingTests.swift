import Rill
import RillTesting
import Testing

private struct Greeting: Codable, Equatable, Sendable {
    var message: String
    var count: Int
}

private struct Payload: Codable, Equatable, Sendable {
    var name: String
    var tags: [String]
}

private struct DatabaseFailure: Error, CustomStringConvertible {
    var description: String { "connection string postgres://admin:hunter2@db" }
}

private func routingRouter() -> Router {
    let router = Router()
    router.get("/text") { _, _ in "plain text" }
    router.get("/json") { _, _ in Greeting(message: "hi", count: 3) }
    router.get("/users/:user/posts/:post") { _, context in
        "user=\(try context.parameter("user")) post=\(try context.parameter("post"))"
    }
    router.get("/files/**") { _, context in "rest=\(context.parameters.catchAll ?? "nil")" }
    router.get("/search") { request, _ in
        "q=\(request.query["q"] ?? "nil") tags=\(request.query.values(for: "tag").joined(separator: ","))"
    }
    router.get("/items") { _, _ in "items" }
    router.delete("/items") { _, _ in HTTPResponse.Status.noContent }
    router.get("/teapot") { _, _ -> String in
        throw HTTPError(HTTPResponse.Status(code: 418, reasonPhrase: "I'm a teapot"), message: "short and \"stout\"")
    }
    router.get("/fails") { _, _ -> String in throw DatabaseFailure() }
    router.post("/payload") { request, _ in try request.decode(Payload.self) }
    let api = router.group("/api")
    api.get("/ping") { _, _ in "pong" }
    let v2 = api.group("v2/")
    v2.get("/ping") { _, _ in "pong v2" }
    return router
}

/// Routing, responses and errors, run in both modes: `.router` must answer like the server.
@Suite struct RoutingTests {
    private func withClient(_ mode: TestMode, _ body: (TestClient) async throws -> Void) async throws {
        let app = try Application(router: routingRouter(), configuration: testConfiguration(), logger: quietLogger)
        try await app.test(mode, body)
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test(arguments: [TestMode.router, .live])
    func `a GET returns plain text`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.get("/text")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "text/plain; charset=utf-8")
            #expect(response.bodyText == "plain text")
            if mode == .live {
                #expect(response.headerFields[.contentLength] == "10")
                #expect(response.headerFields[.connection] == nil)
            }
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `an Encodable result is sent as JSON`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.get("/json")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "application/json; charset=utf-8")
            #expect(try response.decode(Greeting.self) == Greeting(message: "hi", count: 3))
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `path parameters are captured and percent-decoded`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            #expect(try await client.get("/users/ada/posts/42").bodyText == "user=ada post=42")
            #expect(try await client.get("/users/J%C3%BCrgen%20K/posts/7").bodyText == "user=Jürgen K post=7")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a catch-all captures the rest of the path`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            #expect(try await client.get("/files/a/b/c.txt").bodyText == "rest=a/b/c.txt")
            #expect(try await client.get("/files/one").bodyText == "rest=one")
            #expect(try await client.get("/files").bodyText == "rest=")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `query parameters are decoded, first value and all values`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.get("/search?q=swift+servers&tag=a&tag=b%26c&tag=")
            #expect(response.bodyText == "q=swift servers tags=a,b&c,")
            #expect(try await client.get("/search").bodyText == "q=nil tags=")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a group prefixes its routes and only its routes`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            #expect(try await client.get("/api/ping").bodyText == "pong")
            #expect(try await client.get("/api/v2/ping").bodyText == "pong v2")
            #expect(try await client.get("/ping").status == .notFound)
            #expect(try await client.get("/v2/ping").status == .notFound)
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `an unknown path is a 404 with a JSON error body`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.get("/no/such/thing")
            #expect(response.status == .notFound)
            #expect(response.headerFields[.contentType] == "application/json; charset=utf-8")
            #expect(
                try response.decode(ErrorBody.self)
                    == ErrorBody(error: .init(status: 404, reason: "Not Found", message: "no route for /no/such/thing")))
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a path that cannot be percent-decoded is a 400, on a route or not`(mode: TestMode) async throws {
        let router = Router()
        router.get("/users/:name") { _, context in context.parameters["name"] ?? "" }
        let app = try Application(router: router, configuration: testConfiguration())
        try await app.test(mode) { client in
            for target in ["/users/%zz", "/users/a%0", "/users/%00", "/users/%FF", "/nowhere/%e2%82"] {
                let response = try await client.get(target)
                #expect(response.status == .badRequest, "\(target)")
                #expect(try response.decode(ErrorBody.self).error.status == 400)
            }
            #expect(try await client.get("/users/%41da").bodyText == "Ada")
            #expect(try await client.get("/nowhere/%41").status == .notFound)
        }
    }
    @Test(arguments: [TestMode.router, .live])
    func `a known path with another method is a 405 listing the allowed methods with HEAD`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let text = try await client.post("/text", text: "x")
            #expect(text.status == .methodNotAllowed)
            #expect(text.headerFields[.allow] == "GET, HEAD, OPTIONS")
            #expect(try text.decode(ErrorBody.self).error.status == 405)
            let items = try await client.execute("/items", method: .put)
            #expect(items.status == .methodNotAllowed)
            #expect(items.headerFields[.allow] == "DELETE, GET, HEAD, OPTIONS")
            let payload = try await client.get("/payload")
            #expect(payload.headerFields[.allow] == "OPTIONS, POST")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a method the server does not recognize is a 501 wherever it goes; a standard one a 405 or 404`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            for target in ["/text", "/nowhere"] {
                let unknown = try await client.execute(target, method: HTTPRequest.Method("FROB")!)
                #expect(unknown.status == .notImplemented, "\(target)")
                #expect(try unknown.decode(ErrorBody.self).error.status == 501)
            }
            #expect(try await client.execute("/text", method: .patch).status == .methodNotAllowed)
            #expect(try await client.execute("/nowhere", method: .trace).status == .notFound)
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `OPTIONS on a known path is a 204 listing its methods; on an unknown path a 404`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let items = try await client.execute("/items", method: .options)
            #expect(items.status == .noContent)
            #expect(items.headerFields[.allow] == "DELETE, GET, HEAD, OPTIONS")
            #expect(items.body.isEmpty)
            let user = try await client.execute("/users/7/posts/9", method: .options)
            #expect(user.status == .noContent)
            #expect(user.headerFields[.allow] == "GET, HEAD, OPTIONS")
            let missing = try await client.execute("/no/such/thing", method: .options)
            #expect(missing.status == .notFound)
        }
    }

    @Test func `an OPTIONS route of its own answers OPTIONS`() async throws {
        let router = routingRouter()
        router.on("/text", method: .options) { _, _ in "own options" }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        try await app.test(.router) { client async throws in
            #expect(try await client.execute("/text", method: .options).bodyText == "own options")
            #expect(try await client.post("/text", text: "x").headerFields[.allow] == "GET, HEAD, OPTIONS")
        }
    }

    @Test func `OPTIONS * is a 204 listing every method a route answers, never a route's match`() async throws {
        let router = routingRouter()
        router.get("/:anything") { _, context in "matched \(try context.parameter("anything"))" }
        try await withLiveServer(router) { _, port in
            let (star, next) = try await converse(port: port) { connection in
                try connection.send("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
                let star = try connection.readResponse()
                try connection.send("GET /text HTTP/1.1\r\nHost: x\r\n\r\n")
                return (star, try connection.readResponse())
            }
            #expect(star.status == .noContent)
            #expect(star.headerFields[.allow] == "DELETE, GET, HEAD, OPTIONS, POST")
            #expect(star.body.isEmpty)
            #expect(next.bodyText == "plain text")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `HEAD on a GET route has no body but the same length`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let get = try await client.get("/json")
            let head = try await client.head("/json")
            #expect(head.status == .ok)
            #expect(head.body.isEmpty)
            #expect(!get.body.isEmpty)
            #expect(head.headerFields[.contentType] == get.headerFields[.contentType])
            if mode == .live {
                #expect(head.headerFields[.contentLength] == "\(get.body.count)")
            }
        }
    }

    @Test func `HEAD leaves no body bytes on a keep-alive connection`() async throws {
        // Were the body sent after all, the next response on the connection would start inside it.
        try await withLiveServer(routingRouter()) { _, port in
            let responses = try await converse(port: port) { connection in
                try connection.send(request("/text", method: "HEAD") + request("/json"))
                let head = try connection.readResponse(forRequestMethod: .head)
                let next = try connection.readResponse()
                return [head, next]
            }
            #expect(responses.map(\.status.code) == [200, 200])
            #expect(responses[0].headerFields[.contentLength] == "10")
            #expect(try responses[1].decode(Greeting.self) == Greeting(message: "hi", count: 3))
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `an HTTPError becomes its status with the message in a JSON body`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.get("/teapot")
            #expect(response.status.code == 418)
            #expect(response.headerFields[.contentType] == "application/json; charset=utf-8")
            #expect(
                try response.decode(ErrorBody.self)
                    == ErrorBody(error: .init(status: 418, reason: "I'm a teapot", message: "short and \"stout\"")))
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `any other error is a 500 that does not leak the error text`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.get("/fails")
            #expect(response.status == .internalServerError)
            #expect(try response.decode(ErrorBody.self) == ErrorBody(error: .init(status: 500, reason: "Internal Server Error")))
            #expect(!response.bodyText.contains("hunter2"))
            #expect(!response.bodyText.contains("DatabaseFailure"))
            #expect(!response.headerFields.contains { $0.value.contains("hunter2") })
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a JSON body is decoded into the handler's type`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.post("/payload", json: Payload(name: "rill", tags: ["http", "sse"]))
            #expect(response.status == .ok)
            #expect(try response.decode(Payload.self) == Payload(name: "rill", tags: ["http", "sse"]))
            let suffixed = try await client.post(
                "/payload", body: Array(#"{"name":"x","tags":[]}"#.utf8),
                headerFields: [.contentType: "application/vnd.rill+json; charset=utf-8"])
            #expect(suffixed.status == .ok)
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a body that is not valid JSON for the type is a 400 saying why`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let malformed = try await client.post("/payload", body: Array(#"{"name": "x", "#.utf8), headerFields: [.contentType: "application/json"])
            #expect(malformed.status == .badRequest)
            #expect(try malformed.decode(ErrorBody.self).error.message?.hasPrefix("invalid JSON body: malformed JSON") == true)
            let missingKey = try await client.post("/payload", body: Array(#"{"name": "x"}"#.utf8), headerFields: [.contentType: "application/json"])
            #expect(missingKey.status == .badRequest)
            #expect(try missingKey.decode(ErrorBody.self).error.message == "invalid JSON body: missing key 'tags'")
        }
    }

    @Test(arguments: [TestMode.router, .live])
    func `a body that is not declared as JSON is a 415`(mode: TestMode) async throws {
        try await withClient(mode) { client async throws in
            let response = try await client.post("/payload", text: #"{"name":"x","tags":[]}"#)
            #expect(response.status == .unsupportedMediaType)
            #expect(try response.decode(ErrorBody.self).error.status == 415)
            let untyped = try await client.post("/payload", body: Array(#"{"name":"x","tags":[]}"#.utf8))
            #expect(untyped.status == .unsupportedMediaType)
            // A content coding Rill does not undo: 415, not "invalid JSON" from compressed bytes.
            let gzipped = try await client.post(
                "/payload", body: [0x1F, 0x8B, 0x08, 0x00], headerFields: [.contentType: "application/json", .contentEncoding: "gzip"])
            #expect(gzipped.status == .unsupportedMediaType)
            #expect(gzipped.bodyText.contains("Content-Encoding"))
            let identity = try await client.post(
                "/payload", body: Array(#"{"name":"x","tags":[]}"#.utf8),
                headerFields: [.contentType: "application/json", .contentEncoding: "identity"])
            #expect(identity.status == .ok)
        }
    }

    @Test func `an absolute-form target is routed by its path and query`() async throws {
        try await withLiveServer(routingRouter()) { _, port in
            let responses = try await converse(port: port) { connection in
                try connection.send(request("http://127.0.0.1/users/7/posts/8") + request("http://example.com/search?q=abs"))
                return try connection.readResponses(2)
            }
            #expect(responses.map(\.bodyText) == ["user=7 post=8", "q=abs tags="])
        }
    }
}
