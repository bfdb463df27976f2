import CRillTestHooks
import Rill
import RillTesting
import Testing

/// DESIGN §2: handlers, what they await and their children stay on the loop thread, with no
/// hop to the global executor.
@Suite struct LoopAffinityTests {
    @Test func `handlers stay on the loop thread across awaits and never hop to the global executor`() async throws {
        let router = Router()
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                guard context.eventLoop.inEventLoop else { return Response(status: .internalServerError, body: .text("middleware off loop")) }
                return try await next(request, context)
            })
        router.get("/hops/:n") { _, context in
            var onLoop = [context.eventLoop.inEventLoop]
            try await context.eventLoop.sleep(for: .milliseconds(1))
            onLoop.append(context.eventLoop.inEventLoop)
            // A continuation resumed from a loop callback outside any task.
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                context.eventLoop.schedule(after: .zero) { continuation.resume() }
            }
            onLoop.append(context.eventLoop.inEventLoop)
            try await context.eventLoop.sleep(for: .zero)
            onLoop.append(context.eventLoop.inEventLoop)
            async let child = context.eventLoop.inEventLoop
            onLoop.append(await child)
            return onLoop.allSatisfy { $0 } ? "on loop" : "hopped: \(onLoop)"
        }
        router.get("/stream") { _, context in
            Response(
                body: ResponseBody { writer in
                    for _ in 0..<3 {
                        try await writer.write(context.eventLoop.inEventLoop ? "on loop;" : "hopped;")
                        try await context.eventLoop.sleep(for: .milliseconds(1))
                    }
                })
        }

        rill_install_global_enqueue_counter()
        try await withLiveServer(router) { app, port in
            // Watch the loop thread. Nothing below resumes a task from the loop thread: the test
            // polls shared state instead, because resuming a pool task from the loop is itself a
            // (legitimate) global enqueue on the loop thread.
            let watching = Shared(false)
            app.eventLoop.execute {
                rill_watch_current_thread_for_global_enqueues()
                watching.set(true)
            }
            #expect(await eventually { watching.current })

            let bodies = try await converse(port: port) { connection in
                var bodies: [String] = []
                for n in 0..<20 {
                    try connection.send(request("/hops/\(n)"))
                    bodies.append(try connection.readResponse().bodyText)
                }
                try connection.send((0..<20).map { request("/hops/\($0)") }.joined())
                bodies += try connection.readResponses(20).map(\.bodyText)
                try connection.send(request("/stream"))
                bodies.append(try connection.readResponse().bodyText)
                return bodies
            }
            #expect(bodies.count == 41)
            #expect(bodies.prefix(40).allSatisfy { $0 == "on loop" }, "\(Set(bodies))")
            #expect(bodies.last == "on loop;on loop;on loop;")

            let count = Shared<Int?>(nil)
            app.eventLoop.execute { count.set(rill_global_enqueue_count()) }
            #expect(await eventually { count.current != nil })
            #expect(count.current == 0, "global-executor enqueues on the loop thread while serving")
        }
    }

    @Test func `a request costs the loop one job, the handler task's start`() async throws {
        let router = Router()
        router.add(middleware: ClosureMiddleware { request, context, next in try await next(request, context) })
        router.get("/text") { _, _ in "hi" }
        // The periodic metrics report is a job of its own, not one of the requests'.
        try await withLiveServer(router, configuration: testConfiguration { $0.metricsReportingInterval = nil }) { app, port in
            let jobs = { @Sendable () async -> Int in
                await withCheckedContinuation { result in
                    app.eventLoop.execute { result.resume(returning: app.eventLoop.executor.localEnqueueCount) }
                }
            }
            let before = await jobs()
            let statuses = try await converse(port: port) { connection in
                try (0..<50).map { _ in
                    try connection.send(request("/text"))
                    return try connection.readResponse().status.code
                }
            }
            #expect(statuses == Array(repeating: 200, count: 50))
            // Every nonisolated async function on the way (middleware, router, handler) continues
            // inline; running the task's jobs as if isolated to the loop used to cost 9 per request.
            let count = await jobs() - before
            #expect(count <= 50 + 2, "\(count) jobs for 50 requests")
        }
    }
}
