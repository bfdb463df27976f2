import Foundation
import RillCore
import RillPubSub
import RillTestSupport
import Testing

@testable import RillRedis

/// How a process mirrors its presence into Redis: a refresh renews one liveness entry and writes
/// what changed; quiet channels' keys are renewed rarely, yet outlive many refreshes; a process
/// that stops renewing drops out of queries at once, and one only stalled comes back; a flushed
/// Redis gets every channel back.
@Suite(.timeLimit(.minutes(1)))
struct RedisPresenceMirrorTests {
    /// A node whose presence refreshes every `refresh` and whose liveness lasts `timeToLive`
    /// (its channels' keys live 40 times that).
    private func node(_ server: RedisServer, refresh: Duration, timeToLive: Duration) async throws -> Node {
        var broker = BrokerConfiguration()
        broker.presence = PresenceConfiguration(refreshInterval: refresh, entryTimeToLive: timeToLive)
        return try await Node.start(server, broker: broker)
    }

    /// Two nodes (processes) on `server`, each with its presence store.
    private func twoNodes(
        _ server: RedisServer, refresh: Duration, timeToLive: Duration
    ) async throws -> (Node, Node, any PresenceStore, any PresenceStore) {
        let a = try await node(server, refresh: refresh, timeToLive: timeToLive)
        let b = try await node(server, refresh: refresh, timeToLive: timeToLive)
        return (a, b, a.broker.makePresenceStore(), b.broker.makePresenceStore())
    }

    /// `redis-cli` against `server`; its output.
    private func cli(_ server: RedisServer, _ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(server.port)] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }

    /// Calls of `command` so far (`INFO commandstats`).
    private func calls(_ server: RedisServer, _ command: String) throws -> Int {
        let line = try cli(server, "info", "commandstats").split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_\(command):") }
        return line.flatMap { $0.split(separator: "=")[1].split(separator: ",").first.flatMap { Int($0) } } ?? 0
    }

    @Test func `quiet channels cost their renewals rarely, and their keys outlive many refreshes`() async throws {
        let server = try RedisServer()
        // Refreshed every 50 ms, alive 100 ms past the last: keys live 4 s, renewed after 1.33 s.
        let (a, b, storeA, storeB) = try await twoNodes(server, refresh: .milliseconds(50), timeToLive: .milliseconds(100))
        let channels = (0..<200).map { "quiet-\($0)" }
        let lease = storeA.registry.join("alice", channels: channels)
        try await eventually("A's channels in Redis") { (try? await storeB.presence(of: "quiet-199", limit: 10).count) == 1 }

        // Idle: each refresh renews A's liveness; a channel's keys are renewed once per 1.33 s,
        // not at each of the ~20 refreshes per second (which would be 8,000 PEXPIREs a second).
        let before = try calls(server, "pexpire")
        try await Task.sleep(for: .seconds(1))
        let renewals = try calls(server, "pexpire") - before
        #expect(renewals < 2_000, "\(renewals) PEXPIRE in an idle second for 200 channels")

        // Past the keys' 4 s lifetime, renewed, every channel is still there.
        try await Task.sleep(for: .seconds(5))
        for channel in ["quiet-0", "quiet-100", "quiet-199"] {
            let presence = try await storeB.presence(of: channel, limit: 10)
            #expect(presence.count == 1 && presence.members.map(\.sub) == ["alice"], "\(channel)")
        }
        lease.release()
        await storeA.shutdown()
        await storeB.shutdown()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a channel is written with one script per refresh, a crowd beyond one HSET slice whole`() async throws {
        let server = try RedisServer()
        let (a, b, storeA, storeB) = try await twoNodes(server, refresh: .milliseconds(50), timeToLive: .milliseconds(500))
        let scriptsBefore = try calls(server, "evalsha")
        // 500 identities: 1,002 hash values, three of the script's HSET slices.
        let leases = (0..<500).map { storeA.registry.join("user-\($0)", channels: ["crowd"]) }
        let lonely = storeA.registry.join("alice", channels: (0..<100).map { "lonely-\($0)" })
        try await eventually("the crowd in Redis") { (try? await storeB.presence(of: "crowd", limit: 1000).count) == 500 }
        try await eventually("the lonely channels in Redis") { (try? await storeB.presence(of: "lonely-99", limit: 10).count) == 1 }
        let crowd = try await storeB.presence(of: "crowd", limit: 1000)
        let whole = Set(crowd.members.map(\.sub)) == Set((0..<500).map { "user-\($0)" })
        #expect(whole, "\(Set(crowd.members.map(\.sub)).count) of 500 identities listed")
        #expect(try calls(server, "multi") == 0 && calls(server, "exec") == 0, "no transaction: one script per channel")
        #expect(try calls(server, "evalsha") - scriptsBefore >= 101)
        for lease in leases { lease.release() }
        lonely.release()
        await storeA.shutdown()
        await storeB.shutdown()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a process that stops renewing drops out once its liveness ends, before its keys expire`() async throws {
        let server = try RedisServer()
        // Keys live 40 × 300 ms = 12 s: the liveness, not the keys, ends A's presence.
        let (a, b, storeA, storeB) = try await twoNodes(server, refresh: .milliseconds(100), timeToLive: .milliseconds(300))
        let lease = storeA.registry.join("alice", channels: ["room"])
        try await eventually("A in Redis") { (try? await storeB.presence(of: "room", limit: 10).count) == 1 }

        await a.shutdown()  // no goodbye: A's loop is gone, its keys stay
        try await eventually(within: .seconds(5), "A dropped out") { (try? await storeB.presence(of: "room", limit: 10).count) == 0 }
        #expect(try cli(server, "--scan", "--pattern", "rill:presence-members:*:room").contains("room"), "A's hash still in Redis")
        // Ignored, not removed: a process only stalled must count again at its next refresh.
        #expect(!(try cli(server, "zrange", "rill:presence:room", "0", "-1").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty))
        lease.release()
        await storeB.shutdown()
        await b.shutdown()
    }

    @Test func `a process that was only stalled past its liveness counts again at its next refresh`() async throws {
        let server = try RedisServer()
        let (a, b, storeA, storeB) = try await twoNodes(server, refresh: .milliseconds(100), timeToLive: .milliseconds(300))
        let lease = storeA.registry.join("alice", channels: ["room"])
        try await eventually("A in Redis") { (try? await storeB.presence(of: "room", limit: 10).count) == 1 }

        // A's loop stalls for 1.5 s: its liveness lapses, and B's queries meanwhile find it dead.
        a.loop.execute { usleep(1_500_000) }
        try await eventually(within: .seconds(5), "A stalled out of B's view") {
            (try? await storeB.presence(of: "room", limit: 10).count) == 0
        }
        // Nothing changed in A's presence: its next refresh alone must bring it back.
        try await eventually(within: .seconds(5), "A back in B's view") {
            (try? await storeB.presence(of: "room", limit: 10).count) == 1
        }
        lease.release()
        await storeA.shutdown()
        await storeB.shutdown()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `channels that come and go leave nothing queued for renewal behind`() async throws {
        let server = try RedisServer()
        let node = try await node(server, refresh: .milliseconds(50), timeToLive: .seconds(10))
        let store = try #require(node.broker.makePresenceStore() as? RedisPresenceStore)
        // Three floods of 2,000 invented channels, each written at a refresh and then removed.
        for round in 0..<3 {
            let lease = store.registry.join(nil, channels: (0..<2_000).map { "flood-\(round)-\($0)" })
            try await Task.sleep(for: .milliseconds(300))
            lease.release()
            try await Task.sleep(for: .milliseconds(300))
        }
        let queued = await withCheckedContinuation { continuation in
            node.loop.execute { continuation.resume(returning: store.renewalQueueCount) }
        }
        // Their keys are renewed after 133 s: without compaction all 6,000 would still wait.
        #expect(queued <= 1_024, "\(queued) entries queued for 0 channels")
        await store.shutdown()
        await node.shutdown()
    }

    @Test func `after Redis lost everything, each process writes every channel again at its next refresh`() async throws {
        let server = try RedisServer()
        // Keys live 40 s, renewed after 13 s: only the lost liveness entry can bring them back soon.
        let (a, b, storeA, storeB) = try await twoNodes(server, refresh: .milliseconds(100), timeToLive: .seconds(1))
        let lease = storeA.registry.join("alice", channels: ["one", "two", "three"])
        try await eventually("A in Redis") { (try? await storeB.presence(of: "three", limit: 10).count) == 1 }

        #expect(try cli(server, "flushall").hasPrefix("OK"))
        #expect(try await storeB.presence(of: "one", limit: 10).count == 0)
        try await eventually(within: .seconds(5), "A's channels written again") {
            var counts: [Int] = []
            for channel in ["one", "two", "three"] { counts.append((try? await storeB.presence(of: channel, limit: 10).count) ?? -1) }
            return counts == [1, 1, 1]
        }
        lease.release()
        await storeA.shutdown()
        await storeB.shutdown()
        await a.shutdown()
        await b.shutdown()
    }
}
