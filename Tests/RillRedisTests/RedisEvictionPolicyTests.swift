import Logging
import RillCore
import RillPubSub
import RillRedis
import RillSSE
import RillTestSupport
import Synchronization
import Testing

/// A Redis that may evict keys cannot keep the broker's promise that a loss is always reported:
/// the broker says so when it connects.
@Suite struct RedisEvictionPolicyTests {
    /// The messages logged at warning level and above.
    private final class Warnings: Sendable {
        private let messages = Mutex<[String]>([])
        var all: [String] { messages.withLock { $0 } }
        func append(_ message: String) { messages.withLock { $0.append(message) } }
    }

    private struct WarningRecorder: LogHandler {
        let warnings: Warnings
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) { warnings.append("\(event.message)") }
    }

    @Test(arguments: ["noeviction", "allkeys-lru", "volatile-ttl"])
    func `a maxmemory-policy that may evict the broker's keys is warned about`(policy: String) async throws {
        let server = try RedisServer()
        let reply = server.exchange(
            "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$16\r\nmaxmemory-policy\r\n$\(policy.utf8.count)\r\n\(policy)\r\n", expecting: 5)
        #expect(reply?.hasPrefix("+OK") == true)
        let warnings = Warnings()
        let logger = Logger(label: "redis-test") { _ in WarningRecorder(warnings: warnings) }
        let loop = try EventLoop(name: "redis-test")
        let broker = try await RedisBroker.connect(eventLoop: loop, configuration: try RedisBroker.Configuration(url: server.url), logger: logger)
        // The policy is asked for as the connection comes up; a publish answered after it means
        // its answer was read.
        _ = try await broker.publish(ServerSentEvent(data: "x"), to: "a")
        if policy == "noeviction" {
            try await Task.sleep(for: .milliseconds(200))
            #expect(!warnings.all.contains { $0.contains("maxmemory-policy") }, "\(warnings.all)")
        } else {
            try await eventually("the warning") { warnings.all.contains { $0.contains("maxmemory-policy \(policy)") } }
        }
        await broker.close()
        await loop.shutdown()
    }
}
