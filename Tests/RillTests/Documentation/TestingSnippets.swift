import Rill
import RillTesting
import Testing

/// The Swift code of `Rill.docc/Testing.md`, compiled here so it cannot rot (never called: each
/// is the body of a test the reader writes). `DocumentationSnippetTests` checks that the article
/// shows exactly this code.
enum TestingSnippets {
    // Testing.md: requests in process — begin
    static func requestsInProcess() async throws {
        let router = Router()
        router.get("/hello/:name") { request, context in "Hello, \(try context.parameter("name"))!" }
        let app = try Application(router: router)
        try await app.test(.router) { client in
            let response = try await client.get("/hello/ada")
            #expect(response.status == .ok)
            #expect(response.bodyText == "Hello, ada!")
        }
    }
    // Testing.md: requests in process — end

    // Testing.md: JSON requests — begin
    static func jsonRequests() async throws {
        struct Todo: Codable, Sendable {
            var title: String
        }

        let router = Router()
        router.post("/todos") { request, context in JSONResponse(try request.decode(Todo.self), status: .created) }
        let app = try Application(router: router)
        try await app.test(.router) { client in
            let created = try await client.post("/todos", json: Todo(title: "Write tests"))
            #expect(created.status == .created)
            #expect(try created.decode(Todo.self).title == "Write tests")
            let rejected = try await client.post("/todos", text: "not JSON")
            #expect(rejected.status == .unsupportedMediaType)
        }
    }
    // Testing.md: JSON requests — end

    // Testing.md: event streams — begin
    static func eventStreams() async throws {
        let router = Router()
        router.get("/ticks") { request, context in
            EventStream { stream in
                for n in 1... {
                    try await stream.send(ServerSentEvent(data: "\(n)", id: "\(n)"))
                    try await context.eventLoop.sleep(for: .milliseconds(10))
                }
            }
        }
        let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let stream = try await client.sse("/ticks")
            #expect(stream.status == .ok)
            #expect(try await stream.events(3).map(\.data) == ["1", "2", "3"])
            #expect(stream.lastEventID == "3")
            stream.close()
        }
    }
    // Testing.md: event streams — end

    // Testing.md: a reconnect — begin
    static func aReconnect() async throws {
        let router = Router()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        router.post("/send") { request, context in try await context.publish(request.bodyText) }
        let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 0))
        try await app.test(.live) { client in
            let first = try await client.post("/send", text: "a").decode(PublishReceipt.self)
            for text in ["b", "c"] {
                #expect(try await client.post("/send", text: text).status == .ok)
            }
            let resumed = try await client.sse("/stream?lastEventId=\(first.id)")
            #expect(resumed.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            #expect(try await resumed.events(2).map(\.data) == ["b", "c"])
            resumed.close()
        }
    }
    // Testing.md: a reconnect — end
}
