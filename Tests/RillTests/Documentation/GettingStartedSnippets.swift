import Rill

/// The Swift code of `Rill.docc/GettingStarted.md`, compiled here so it cannot rot (never called:
/// it would listen on port 8080 until a signal). `DocumentationSnippetTests` checks that the
/// article shows exactly this code.
enum GettingStartedSnippets {
    // GettingStarted.md: a first server — begin
    static func firstServer() async throws {
        let router = Router()
        router.get("/") { request, context in "Hello from Rill" }
        router.get("/hello/:name") { request, context in
            "Hello, \(try context.parameter("name"))!"
        }
        let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 8080))
        try await app.run()
    }
    // GettingStarted.md: a first server — end

    // GettingStarted.md: handlers return values — begin
    static func handlersReturnValues() {
        struct Todo: Codable, Sendable {
            var title: String
            var done: Bool?  // optional: a body without it decodes (a default value alone would not)
        }

        let router = Router()
        router.get("/ping") { request, context in "pong" }
        router.get("/todos/:id") { request, context in
            Todo(title: "Todo \(try context.parameter("id"))")  // sent as JSON
        }
        router.post("/todos") { request, context in
            let todo = try request.decode(Todo.self)  // 415 unless JSON, 400 when it does not decode
            return JSONResponse(todo, status: .created)
        }
        router.delete("/todos/:id") { request, context in HTTPResponse.Status.noContent }
        router.get("/search") { request, context in
            guard let text = request.query["q"] else {
                throw HTTPError(.badRequest, message: "add ?q=")
            }
            return "Results for \(text)"
        }
    }
    // GettingStarted.md: handlers return values — end

    // GettingStarted.md: a streamed body — begin
    static func streamedBody(router: Router) {
        router.get("/report.csv") { request, context in
            Response(
                headerFields: [.contentType: "text/csv"],
                body: ResponseBody { writer in
                    for row in 1...1000 {
                        try await writer.write("\(row),\(row * row)\n")
                    }
                })
        }
    }
    // GettingStarted.md: a streamed body — end

    // GettingStarted.md: groups and middleware — begin
    static func groupsAndMiddleware() {
        enum UserKey: RequestContext.Storage.Key {
            typealias Value = String
        }

        struct BearerToken: Middleware {
            func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
                guard let field = request.headerFields[.authorization], field.hasPrefix("Bearer ") else {
                    throw HTTPError(.unauthorized, message: "a bearer token is required")
                }
                var context = context
                context.storage[UserKey.self] = String(field.dropFirst("Bearer ".count))
                return try await next(request, context)
            }
        }

        let router = Router()
        router.add(middleware: LogRequestsMiddleware(.info))  // every request the router saw, 404s and 405s included
        let api = router.group("/api")
        api.add(middleware: BearerToken())
        api.get("/me") { request, context in "You are \(context.storage[UserKey.self] ?? "nobody")" }
        let admin = api.group("/admin")  // /api/admin/…, behind BearerToken too
        admin.get("/stats") { request, context in ["routes": 2] }
    }
    // GettingStarted.md: groups and middleware — end

    // GettingStarted.md: run it — begin
    static func runIt(router: Router) async throws {
        let configuration = ServerConfiguration(host: "0.0.0.0", port: 8080)
        let app = try Application(router: router, configuration: configuration)
        let address = try await app.start()  // binds now; port 0 picks a free port
        print("listening on http://\(address)")
        try await app.run()  // until SIGINT or SIGTERM, then a graceful shutdown
    }
    // GettingStarted.md: run it — end
}
