import Rill
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 12's smaller items that live in the application and its middleware.
@Suite struct ApplicationHardeningTests {
    /// Threads of this process named `name` (Linux: `/proc/self/task/*/comm`).
    static func threadCount(named name: String) -> Int {
        guard let directory = opendir("/proc/self/task") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let task = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard task.first?.isNumber == true else { continue }
            let fd = open("/proc/self/task/\(task)/comm", O_RDONLY)
            guard fd >= 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 64)
            let length = read(fd, &buffer, buffer.count)
            close(fd)
            guard length > 0 else { continue }
            if String(decoding: buffer[..<length], as: UTF8.self).trimmingSuffixNewline == name { count += 1 }
        }
        return count
    }

    @Test func `a failed Application init stops the loop thread it started`() throws {
        struct Refused: Error {}
        let before = Self.threadCount(named: "rill-loop")
        #expect(before >= 0)
        for _ in 0..<3 {
            #expect(throws: Refused.self) {
                try Application(
                    router: Router(), configuration: testConfiguration(), logger: quietLogger,
                    broker: BrokerFactory { _ in throw Refused() })
            }
        }
        // A joined thread can still be listed for a moment (the kernel wakes the joiner before
        // it unlists the task): poll, bounded. A thread that was never stopped stays listed.
        var after = Self.threadCount(named: "rill-loop")
        for _ in 0..<200 where after != before {
            usleep(10_000)
            after = Self.threadCount(named: "rill-loop")
        }
        #expect(after == before)
    }

    @Test func `an application whose routes capture it is freed after shutdown, and its counters stay readable`() async throws {
        weak var released: Application?
        try await {
            let router = Router()
            let app = try Application(router: router, configuration: testConfiguration(), logger: quietLogger)
            router.get("/stream") { request, context in try await app.eventStream(for: request, context: context) }
            router.add(
                middleware: ClosureMiddleware { request, context, next in
                    _ = app.localAddress
                    return try await next(request, context)
                })
            let address = try await app.start()
            let status = try await converse(port: address.port) { connection in
                try connection.send(request("/missing"))
                return try connection.readResponse().status
            }
            #expect(status == .notFound)
            await app.shutdown()
            // Read after the loop stopped: answered from what shutdown left, not a hang.
            #expect(await app.serverStatistics().connectionCount == 0)
            #expect(await app.connectionCount() == 0)
            released = app
        }()
        #expect(released == nil, "the application outlived its shutdown (a route or middleware holds it)")
    }

    @Test func `LogRequestsMiddleware redacts sensitive query values, case-insensitively`() {
        let middleware = LogRequestsMiddleware()
        #expect(middleware.redacting("/stream?channel=news&token=s3cret") == "/stream?channel=news&token=REDACTED")
        #expect(middleware.redacting("/a?Access_Token=x&PASSWORD=y&page=2") == "/a?Access_Token=REDACTED&PASSWORD=REDACTED&page=2")
        #expect(middleware.redacting("/a?github_token=x&api-key=y&monkey=z") == "/a?github_token=REDACTED&api-key=REDACTED&monkey=z")
        // Percent-encoded names are decoded before comparing; repeated and empty pairs kept.
        #expect(middleware.redacting("/a?%74oken=x&token=y&&sig") == "/a?%74oken=REDACTED&token=REDACTED&&sig")
        #expect(middleware.redacting("/plain/path") == "/plain/path")
        #expect(middleware.redacting("http://user:pw@example.com/x?key=1") == "http://REDACTED@example.com/x?key=REDACTED")
        // The list is configurable.
        let custom = LogRequestsMiddleware(.info, redactingQueryValuesOf: ["OTP"])
        #expect(custom.redacting("/a?otp=1&token=2") == "/a?otp=REDACTED&token=2")
    }

    @Test func `LogRequestsMiddleware never logs a query token`() async throws {
        let store = CapturingLogHandler.Store()
        let router = Router()
        router.add(middleware: LogRequestsMiddleware(.notice))
        router.get("/hello") { _, _ in "hi" }
        let app = try Application(
            router: router, configuration: testConfiguration(), logger: CapturingLogHandler.logger(into: store))
        try await app.test(.live) { client async throws in
            #expect(try await client.get("/hello?token=s3cret&x=1").status == .ok)
        }
        let lines = store.all.filter { $0.level == .notice }
        #expect(lines.map(\.message) == ["GET /hello?token=REDACTED&x=1 200"])
        #expect(!store.all.contains { $0.message.contains("s3cret") || $0.metadata.values.contains { $0.contains("s3cret") } })
    }
}

extension String {
    fileprivate var trimmingSuffixNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
