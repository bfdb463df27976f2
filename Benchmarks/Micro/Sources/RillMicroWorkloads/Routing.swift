import Rill
import RillTesting

/// A request through the router by the only public way to call it without sockets:
/// RillTesting's in-process client (`app.test(.router)`).
///
/// `Router`'s lookup (`resolve(method:path:)`) and `Application.makeResponder()` are not public,
/// so each operation is a whole in-process request: `TestClient.execute` builds the `Request`
/// and `RequestContext`, starts a `Task` on the loop's executor, the router resolves the path
/// and runs the handler, the `String` result becomes a `Response` with a byte body, and the
/// client returns those bytes in a `TestResponse`. The requests are issued from a task that
/// already runs on the application's loop, so no request crosses a thread. Compare the 50-route
/// benchmark with the one-route one: the difference is what the lookup in the larger router
/// costs.
public final class RoutingWorkload: Sendable {
    /// The resources of the 50-route router: 10 × 5 routes each.
    static let resources = [
        "users", "posts", "comments", "teams", "projects", "issues", "labels", "files", "events", "channels",
    ]

    /// The path the 50-route benchmark requests: two parameters, matched against routes with
    /// parameters at the same depth.
    public static let paramPath = "/api/v1/projects/42/items/7"
    /// The path the one-route baseline requests.
    public static let literalPath = "/ping"

    public let client: TestClient
    public let eventLoop: EventLoop
    private let stop: AsyncStream<Never>.Continuation
    private let runner: Task<Void, any Error>

    /// A router with 50 routes: for each of 10 resources, `GET /api/v1/R`, `POST /api/v1/R`,
    /// `GET /api/v1/R/:id`, `GET /api/v1/R/:id/settings` and `GET /api/v1/R/:id/items/:itemID`.
    public static func fiftyRoutes() -> Router {
        let router = Router()
        for resource in resources {
            let base = "/api/v1/\(resource)"
            router.get(base) { _, _ in "list" }
            router.post(base) { _, _ in "created" }
            router.get("\(base)/:id") { _, context in try context.parameter("id") }
            router.get("\(base)/:id/settings") { _, context in try context.parameter("id") }
            router.get("\(base)/:id/items/:itemID") { _, context in try context.parameter("itemID") }
        }
        return router
    }

    /// A router with the single route `GET /ping`.
    public static func oneRoute() -> Router {
        let router = Router()
        router.get(literalPath) { _, _ in "pong" }
        return router
    }

    /// Creates the application (and its loop thread) and keeps `app.test(.router)` open until
    /// ``shutdown()``.
    public static func start(router: Router) async throws -> RoutingWorkload {
        var logger = Logger(label: "rill-micro")
        logger.logLevel = .critical
        let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 0), logger: logger)
        let (clients, clientContinuation) = AsyncStream<TestClient>.makeStream()
        let (stopSignal, stop) = AsyncStream<Never>.makeStream()
        let runner = Task {
            try await app.test(.router) { client in
                clientContinuation.yield(client)
                clientContinuation.finish()
                for await _ in stopSignal {}
            }
        }
        var iterator = clients.makeAsyncIterator()
        guard let client = await iterator.next() else {
            try await runner.value
            fatalError("app.test(.router) ended before handing out its client")
        }
        return RoutingWorkload(client: client, eventLoop: app.eventLoop, stop: stop, runner: runner)
    }

    private init(client: TestClient, eventLoop: EventLoop, stop: AsyncStream<Never>.Continuation, runner: Task<Void, any Error>) {
        self.client = client
        self.eventLoop = eventLoop
        self.stop = stop
        self.runner = runner
    }

    /// Sends `count` `GET path` requests one after another from a task on the application's
    /// loop; returns the total body bytes (and checks the status).
    public func get(_ path: String, count: Int) async throws -> Int {
        let client = self.client
        return try await Task(executorPreference: eventLoop.executor) {
            var bytes = 0
            for _ in 0..<count {
                let response = try await client.get(path)
                precondition(response.status == .ok, "GET \(path) answered \(response.status)")
                bytes &+= response.body.count
            }
            return bytes
        }.value
    }

    /// Ends `app.test`, which shuts the application and its loop down.
    public func shutdown() async throws {
        stop.finish()
        try await runner.value
    }
}
