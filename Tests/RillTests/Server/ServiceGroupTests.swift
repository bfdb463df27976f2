import Rill
import RillTesting
import ServiceLifecycle
import Synchronization
import Testing

/// `Application` as a swift-service-lifecycle `Service`.
@Suite struct ServiceGroupTests {
    /// A service that runs until the group shuts down gracefully, and says when it ended.
    private struct UntilShutdown: Service {
        let ended: Shared<Bool>

        func run() async throws {
            try? await gracefulShutdown()
            ended.set(true)
        }
    }

    @Test func `a graceful shutdown of the group ends the application and the other service, streams get their farewell`() async throws {
        let router = Router()
        router.get("/stream") { request, context in
            var stream = try await context.eventStream(for: request, channels: ["news"])
            stream.farewell = ServerSentEvent(data: "bye", event: "shutdown")
            return stream
        }
        let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
        let port = try await app.start().port
        let ended = Shared(false)
        let group = ServiceGroup(services: [app, UntilShutdown(ended: ended)], logger: quietLogger)
        let running = Task { try await group.run() }
        // The stream's reader, on a thread of its own: everything until the server closes.
        let reading = Task {
            try await onDedicatedThread {
                let reader = try RawConnection(port: port, timeout: .seconds(20))
                defer { reader.close() }
                try reader.send(request("/stream"))
                return String(decoding: try reader.receiveUntilClose(), as: UTF8.self)
            }
        }
        #expect(await eventually { await app.broker.statistics().subscriptionCount == 1 })
        _ = try await app.publish("hello", channel: "news")
        await group.triggerGracefulShutdown()
        let text = try await reading.value
        #expect(text.contains("data: hello\n"))
        #expect(text.contains("event: shutdown\ndata: bye\n"))
        try await running.value
        #expect(ended.current)
        #expect(app.eventLoops.allSatisfy { $0.closeResult == 0 })
    }

    @Test func `cancelling the task that runs the application shuts it down`() async throws {
        let app = try Application(router: Router(), configuration: testConfiguration(), logger: quietLogger)
        _ = try await app.start()
        let running = Task { try await app.run() }
        try await Task.sleep(for: .milliseconds(50))
        running.cancel()
        try await running.value
        #expect(await app.connectionCount() == 0)
        #expect(app.eventLoops.allSatisfy { $0.closeResult == 0 })
    }
}
