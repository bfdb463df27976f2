import Rill
import RillCore
import RillTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A configuration for a server on 127.0.0.1 with a free port.
func testConfiguration(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
    adjust(&configuration)
    return configuration
}

/// Starts an application for `router` on 127.0.0.1:0, runs `body` with it and its port, shuts it
/// down, and checks that the event loop closed cleanly with no handle left open.
func withLiveServer<T>(
    _ router: Router, configuration: ServerConfiguration = testConfiguration(), logger: Logger = quietLogger,
    isolation: isolated (any Actor)? = #isolation,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (Application, Int) async throws -> T
) async throws -> T {
    let app = try Application(router: router, configuration: configuration, logger: logger)
    let address = try await app.start()
    #expect(address.port != 0, sourceLocation: sourceLocation)
    let result: T
    do {
        result = try await body(app, address.port)
    } catch {
        await app.shutdown()
        throw error
    }
    await app.shutdown()
    for loop in app.eventLoops {
        #expect(loop.closeResult == 0, "uv_loop_close failed on \(loop.name)", sourceLocation: sourceLocation)
        #expect(loop.leakedHandleCount == 0, "handles left open at shutdown on \(loop.name)", sourceLocation: sourceLocation)
    }
    return result
}

/// A logger that drops everything, so expected handler errors do not clutter test output.
let quietLogger = Logger(label: "rill-test") { _ in SwiftLogNoOpLogHandler() }

/// Runs a raw-socket conversation with the server on a thread of its own.
func converse<T: Sendable>(
    port: Int, timeout: Duration = .seconds(5), _ body: @escaping @Sendable (RawConnection) throws -> T
) async throws -> T {
    try await onDedicatedThread {
        let connection = try RawConnection(port: port, timeout: timeout)
        defer { connection.close() }
        return try body(connection)
    }
}

/// An HTTP/1.1 request with a Host header, header `lines` and an optional body (with its
/// Content-Length unless the lines frame the body themselves).
func request(_ target: String, method: String = "GET", _ lines: [String] = [], body: String = "") -> String {
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for line in lines { text += line + "\r\n" }
    let framed = lines.contains { $0.lowercased().hasPrefix("content-length:") || $0.lowercased().hasPrefix("transfer-encoding:") }
    if !body.isEmpty && !framed { text += "Content-Length: \(body.utf8.count)\r\n" }
    return text + "\r\n" + body
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(3), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// A value shared between a handler on the loop and the test.
final class Shared<Value: Sendable>: Sendable {
    private let value: SanitizerVisibleMutex<Value>
    init(_ value: Value) { self.value = SanitizerVisibleMutex(value) }
    var current: Value { value.withLock { $0 } }
    func update<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
}

/// The JSON error body the framework writes: `{"error":{"status":…,"reason":…,"message":…}}`.
struct ErrorBody: Decodable, Equatable {
    struct Detail: Decodable, Equatable {
        var status: Int
        var reason: String
        var message: String?
    }
    var error: Detail
}

/// A swift-log handler that keeps every message, for asserting on logs.
struct CapturingLogHandler: LogHandler {
    struct Entry: Sendable, Equatable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    final class Store: Sendable {
        private let entries = SanitizerVisibleMutex<[Entry]>([])
        var all: [Entry] { entries.withLock { $0 } }
        func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        store.append(Entry(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }

    static func logger(into store: Store) -> Logger {
        Logger(label: "rill-test") { _ in CapturingLogHandler(store: store) }
    }
}

/// Blocks the calling (dedicated) thread, to let the server read one write before the next.
func blockingSleep(milliseconds: Int) {
    var time = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    nanosleep(&time, nil)
}
