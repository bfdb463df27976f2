import Rill
import RillHTTP
import RillTesting
import Testing

/// Records `METHOD path status` for every request it wraps, errors included.
private func recordingMiddleware(into log: Shared<[String]>) -> ClosureMiddleware {
    ClosureMiddleware { request, context, next in
        do {
            let response = try await next(request, context)
            log.update { $0.append("\(request.method) \(request.path) \(response.status.code)") }
            return response
        } catch let error as HTTPError {
            log.update { $0.append("\(request.method) \(request.path) \(error.status.code)") }
            throw error
        }
    }
}

/// Adds `x-layer` with `name` appended, so the order of layers is visible.
private func layer(_ name: String) -> ClosureMiddleware {
    ClosureMiddleware { request, context, next in
        var response = try await next(request, context)
        let previous = response.headerFields[HTTPField.Name("x-layer")!].map { $0 + "," } ?? ""
        response.headerFields[HTTPField.Name("x-layer")!] = previous + name
        return response
    }
}

@Suite struct MiddlewareTests {
    @Test func `global middleware sees every request, including 404 and 405`() async throws {
        let log = Shared<[String]>([])
        let router = Router()
        router.add(middleware: recordingMiddleware(into: log))
        router.get("/here") { _, _ in "here" }
        try await withLiveServer(router) { _, port in
            let statuses = try await converse(port: port) { connection in
                try connection.send(request("/here") + request("/missing") + request("/here", method: "POST", body: "x"))
                return try connection.readResponses(3).map(\.status.code)
            }
            #expect(statuses == [200, 404, 405])
        }
        #expect(log.current == ["GET /here 200", "GET /missing 404", "POST /here 405"])
    }

    @Test func `a middleware guarding a prefix by routingPath sees every spelling the router matches`() async throws {
        let router = Router()
        // Guards "/admin" the way a middleware should: by the path the router will match.
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                let path = request.routingPath ?? "/"
                if path == "/admin" || path.hasPrefix("/admin/") { throw HTTPError(.forbidden) }
                return try await next(request, context)
            })
        router.get("/admin/panel") { _, _ in "secret" }
        router.get("/files/:name") { _, context in try context.parameter("name") }
        try await withLiveServer(router) { _, port in
            let statuses = try await converse(port: port) { connection in
                let targets = ["/admin/panel", "//admin//panel/", "/%61dmin/panel", "/admin/%70anel", "/ADMIN/panel"]
                try connection.send(targets.map { request($0) }.joined())
                return try connection.readResponses(targets.count).map(\.status.code)
            }
            // Every spelling of /admin/panel is refused; a different case is a different path.
            #expect(statuses == [403, 403, 403, 403, 404])
            let file = try await converse(port: port) { connection in
                try connection.send(request("/files/a%2Fb"))
                return try connection.readResponse().bodyText
            }
            #expect(file == "a/b")
        }
    }

    @Test func `routingPath decodes segments, drops empty ones and keeps encoded slashes distinct`() {
        func routingPath(_ target: String) -> String? {
            Request(head: HTTPRequestHead(method: .get, target: target)).routingPath
        }
        #expect(routingPath("/") == "/")
        #expect(routingPath("//") == "/")
        #expect(routingPath("/a//b/") == "/a/b")
        #expect(routingPath("/%61dmin?x=1") == "/admin")
        #expect(routingPath("/a%2Fb/c") == "/a%2Fb/c")
        #expect(routingPath("/100%25") == "/100%25")
        #expect(routingPath("/caf%C3%A9") == "/café")
        #expect(routingPath("/bad%zz") == nil)
        #expect(routingPath("/nul%00") == nil)
        #expect(routingPath("http://example.com//x/") == "/x")
    }

    @Test func `group middleware wraps only the group's routes, inside the global middleware`() async throws {
        let router = Router()
        router.add(middleware: layer("global"))
        router.get("/outside") { _, _ in "outside" }
        let api = router.group("/api")
        api.add(middleware: layer("api"))
        api.get("/inside") { _, _ in "inside" }
        let admin = api.group("/admin")
        admin.get("/deep") { _, _ in "deep" }
        admin.add(middleware: layer("admin"))  // added after the route: still wraps it
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        try await app.test(.live) { client async throws in
            let layers = HTTPField.Name("x-layer")!
            #expect(try await client.get("/outside").headerFields[layers] == "global")
            #expect(try await client.get("/api/inside").headerFields[layers] == "api,global")
            #expect(try await client.get("/api/admin/deep").headerFields[layers] == "admin,api,global")
            // A 404 under the group's prefix is not the group's: only the global layer runs.
            let missing = try await client.get("/api/missing")
            #expect(missing.status == .notFound)
            #expect(missing.headerFields[layers] == nil)
        }
    }

    @Test func `closure middleware can answer 401 without calling the handler`() async throws {
        let handlerCalls = Shared(0)
        let router = Router()
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                guard request.headerFields[.authorization] == "Bearer letmein" else {
                    return Response(
                        status: .unauthorized, headerFields: [.wwwAuthenticate: "Bearer"], body: .text("who are you?"))
                }
                return try await next(request, context)
            })
        router.get("/private") { _, _ in
            handlerCalls.update { $0 += 1 }
            return "secret stuff"
        }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        try await app.test(.live) { client async throws in
            let denied = try await client.get("/private")
            #expect(denied.status == .unauthorized)
            #expect(denied.headerFields[.wwwAuthenticate] == "Bearer")
            #expect(denied.bodyText == "who are you?")
            #expect(handlerCalls.current == 0)
            let allowed = try await client.get("/private", headerFields: [.authorization: "Bearer letmein"])
            #expect(allowed.status == .ok)
            #expect(allowed.bodyText == "secret stuff")
            #expect(handlerCalls.current == 1)
        }
    }

    @Test func `middleware can pass values to the handler through the context storage`() async throws {
        enum UserKey: RequestContext.Storage.Key { typealias Value = String }
        let router = Router()
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                var context = context
                context.storage[UserKey.self] = request.headerFields[.authorization].map { String($0.dropFirst("Bearer ".count)) }
                return try await next(request, context)
            })
        router.get("/me") { _, context in context.storage[UserKey.self] ?? "anonymous" }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        try await app.test(.live) { client async throws in
            #expect(try await client.get("/me", headerFields: [.authorization: "Bearer ada"]).bodyText == "ada")
            #expect(try await client.get("/me").bodyText == "anonymous")
        }
    }

    @Test func `LogRequestsMiddleware logs one line per request with method, path and status`() async throws {
        let store = CapturingLogHandler.Store()
        let router = Router()
        router.add(middleware: LogRequestsMiddleware(.notice))
        router.get("/hello/:name") { _, context in "hi \(try context.parameter("name"))" }
        router.get("/boom") { _, _ -> String in throw HTTPError(.conflict, message: "boom") }
        let app = try Application(
            router: router, configuration: testConfiguration(), logger: CapturingLogHandler.logger(into: store))
        try await app.test(.live) { client async throws in
            #expect(try await client.get("/hello/ada?x=1").status == .ok)
            #expect(try await client.get("/nothing").status == .notFound)
            #expect(try await client.get("/boom").status == .conflict)
        }
        let lines = store.all.filter { $0.level == .notice }
        #expect(lines.map(\.message) == ["GET /hello/ada?x=1 200", "GET /nothing 404", "GET /boom 409"])
        #expect(lines.map { $0.metadata["status"] } == ["200", "404", "409"])
        #expect(lines.allSatisfy { $0.metadata["duration_us"].flatMap(Int.init) != nil })
        #expect(lines.allSatisfy { $0.metadata["peer"]?.hasPrefix("127.0.0.1:") == true })
    }
}
