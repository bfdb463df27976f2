// Hello — the smallest Rill server: plain text, JSON, path parameters, a route group and a
// streamed body. It is also what `make bench` drives with wrk.
//
//   swift run -c release Hello --port 8080
//   curl -i localhost:8080/
//   curl -i localhost:8080/plaintext
//   curl -i localhost:8080/hello/ada
//   curl -i localhost:8080/api/json
//   curl -i -X POST localhost:8080/api/echo -H 'content-type: application/json' -d '{"message":"hi"}'
//   curl -N localhost:8080/count
//   curl -N localhost:8080/events -H 'Last-Event-ID: 41'
import ArgumentParser
import Rill

#if canImport(Glibc)
    import Glibc
#endif

struct Greeting: Codable, Sendable {
    var message: String
}

@main
struct Hello: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The smallest Rill server.")

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Flag(help: "Log one line per request.") var logRequests = false

    func run() async throws {
        let router = Router()
        if logRequests { router.add(middleware: LogRequestsMiddleware(.info)) }
        router.get("/") { _, _ in "Hello from Rill\n" }
        router.get("/plaintext") { _, _ in "Hello, World!" }
        router.get("/hello/:name") { _, context in "Hello, \(try context.parameter("name"))!\n" }
        let api = router.group("/api")
        api.get("/json") { _, _ in Greeting(message: "Hello, World!") }
        api.post("/echo") { request, _ in try request.decode(Greeting.self) }
        router.get("/count") { _, context in
            Response(
                headerFields: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody { writer in
                    for number in 1...5 {
                        try await writer.write("\(number)\n")
                        try await context.eventLoop.sleep(for: .milliseconds(200))
                    }
                })
        }

        router.get("/events") { request, context in
            // Resumes after the client's Last-Event-ID, one event every 500 ms.
            // An id this server never sent (not a number, negative, beyond UInt32) starts over.
            let start = UInt32(request.lastEventID ?? "").map(Int.init) ?? 0
            return EventStream(configuration: .init(heartbeatInterval: .seconds(2), retry: .seconds(1))) { stream in
                for number in (start + 1)... {
                    try await stream.send(ServerSentEvent(data: "tick \(number)\nsecond line", event: "tick", id: "\(number)"))
                    try await context.eventLoop.sleep(for: .milliseconds(500))
                }
            }
        }

        let app = try Application(router: router, configuration: .init(host: host, port: port))
        let address = try await app.start()
        print("listening on http://\(address)")
        fflush(nil)  // stdout may be a pipe: make the line visible now
        // A service in a group, beside any other of the program's: SIGTERM or SIGINT shut it down gracefully.
        try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger).run()
    }
}
