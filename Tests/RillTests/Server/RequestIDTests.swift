import Rill
import RillTesting
import Testing

/// Request ids: the client's valid `X-Request-Id` or a generated one, in the handler's logger
/// metadata (`request_id`) and echoed in the response.
@Suite struct RequestIDTests {
    /// An application whose `/log` route logs one line through its context's logger and answers
    /// the context's request id.
    private func app(_ store: CapturingLogHandler.Store) throws -> Application {
        let router = Router()
        router.get("/log") { _, context in
            context.logger.info("handled")
            return context.requestID?.description ?? "none"
        }
        return try Application(router: router, configuration: testConfiguration(), logger: CapturingLogHandler.logger(into: store))
    }

    @Test func `a generated id is in the log metadata and the response, and differs per request`() async throws {
        let store = CapturingLogHandler.Store()
        let app = try app(store)
        try await app.test(.live) { client in
            let first = try await client.get("/log")
            let second = try await client.get("/log")
            let firstID = try #require(first.headerFields[RequestID.headerName])
            #expect(firstID == first.bodyText)
            #expect(firstID.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{16}/) != nil)
            #expect(second.headerFields[RequestID.headerName] != firstID)
            let logged = store.all.filter { $0.message == "handled" }.map { $0.metadata["request_id"] }
            #expect(logged == [firstID, second.bodyText])
        }
    }

    @Test func `a valid client id is kept and echoed`() async throws {
        let store = CapturingLogHandler.Store()
        let app = try app(store)
        try await app.test(.live) { client in
            let response = try await client.get("/log", headerFields: [RequestID.headerName: "edge-7f3a/42"])
            #expect(response.headerFields[RequestID.headerName] == "edge-7f3a/42")
            #expect(response.bodyText == "edge-7f3a/42")
            #expect(store.all.first { $0.message == "handled" }?.metadata["request_id"] == "edge-7f3a/42")
        }
    }

    @Test(arguments: ["two words", String(repeating: "a", count: 129), "caf\u{E9}"])
    func `an invalid client id is replaced by a generated one`(value: String) async throws {
        let app = try app(CapturingLogHandler.Store())
        try await app.test(.live) { client in
            let response = try await client.get("/log", headerFields: [RequestID.headerName: value])
            let echoed = try #require(response.headerFields[RequestID.headerName])
            #expect(echoed != value)
            #expect(echoed.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{16}/) != nil)
        }
    }

    @Test func `a handler's own X-Request-Id is not doubled`() async throws {
        let router = Router()
        router.get("/own") { _, _ in Response(headerFields: [RequestID.headerName: "mine"], body: .text("x")) }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        try await app.test(.live) { client in
            let response = try await client.get("/own")
            #expect(response.headerFields[values: RequestID.headerName] == ["mine"])
        }
    }
}
