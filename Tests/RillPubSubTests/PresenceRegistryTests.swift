import RillCore
import RillPubSub
import Synchronization
import Testing

/// This process's presence: counts, members, leases, and the announcements it makes.
@Suite struct PresenceRegistryTests {
    @Test func `counts subscriptions and lists each identity once with its connections`() async throws {
        let store = InMemoryPresenceStore()
        let first = store.registry.join("alice", channels: ["chat", "news"])
        let second = store.registry.join("alice", channels: ["chat"])
        let anonymous = store.registry.join(nil, channels: ["chat"])
        let bob = store.registry.join("bob", channels: ["chat"])
        var presence = try await store.presence(of: "chat", limit: 10)
        #expect(presence.count == 4)
        #expect(presence.memberCount == 2)
        #expect(presence.members.map(\.sub).sorted() == ["alice", "bob"])
        #expect(presence.members.first { $0.sub == "alice" }?.connections == 2)
        #expect(try await store.presence(of: "news", limit: 10).count == 1)

        first.release()
        first.release()  // idempotent
        presence = try await store.presence(of: "chat", limit: 10)
        #expect(presence.count == 3)
        #expect(presence.members.first { $0.sub == "alice" }?.connections == 1)
        #expect(try await store.presence(of: "news", limit: 10) == Presence(channel: "news", count: 0, members: [], memberCount: 0))
        for lease in [second, anonymous, bob] { lease.release() }
        #expect(try await store.presence(of: "chat", limit: 10).count == 0)
    }

    @Test func `the limit lists the longest present members first and memberCount counts all`() async throws {
        let members = (0..<5).map { Presence.Member(sub: "u\($0)", connections: 1, sinceUnixMilliseconds: Int64(100 - $0)) }
        let presence = Presence(channel: "c", count: 7, allMembers: members, limit: 2)
        #expect(presence.members.map(\.sub) == ["u4", "u3"])
        #expect(presence.memberCount == 5)
        #expect(Presence(channel: "c", count: 7, allMembers: members, limit: 0).members.isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func `changes are announced once per window, coalesced`() async throws {
        let loop = try EventLoop(name: "presence-announcer")
        defer { loop.shutdownAndWait() }
        let registry = PresenceRegistry(
            configuration: PresenceConfiguration(coalescingWindow: .milliseconds(50)), announcesUnwatchedChannels: true)
        let received = Mutex<[[PresenceAnnouncement]]>([])
        let unannounced = Mutex<[String]>([])
        registry.announce(on: loop) { batch, quiet in
            received.withLock { $0.append(batch) }
            unannounced.withLock { $0 += quiet }
        }
        let alice = registry.join("alice", channels: ["chat"])
        let bob = registry.join("bob", channels: ["chat"])
        bob.release()  // cancels bob's join
        for _ in 0..<500 {
            if received.withLock({ !$0.isEmpty }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.withLock { $0 } == [[.join(channel: "chat", sub: "alice")]])
        alice.release()
        for _ in 0..<500 {
            if received.withLock({ $0.count == 2 }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.withLock { $0.last } == [.leave(channel: "chat", sub: "alice")])
        #expect(unannounced.withLock { $0 }.isEmpty)  // every channel is announced
    }

    @Test(.timeLimit(.minutes(1)))
    func `in memory, only channels a stream watches are announced`() async throws {
        let loop = try EventLoop(name: "presence-watchers")
        defer { loop.shutdownAndWait() }
        let registry = PresenceRegistry(configuration: PresenceConfiguration(coalescingWindow: .milliseconds(20)))
        let received = Mutex<[PresenceAnnouncement]>([])
        let unannounced = Mutex<[String]>([])
        registry.announce(on: loop) { batch, quiet in
            received.withLock { $0.append(contentsOf: batch) }
            unannounced.withLock { $0 += quiet }
        }
        let unwatched = registry.join("alice", channels: ["quiet"])
        let watcher = registry.join("watcher", channels: ["busy"], watching: true)
        let bob = registry.join("bob", channels: ["busy", "quiet"])
        for _ in 0..<500 {
            if received.withLock({ $0.count >= 2 }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(100))  // one more window: nothing else comes
        #expect(received.withLock { $0 } == [.join(channel: "busy", sub: "watcher"), .join(channel: "busy", sub: "bob")])
        // The unwatched channel's two joins are reported once, as a channel whose changes
        // went unannounced.
        #expect(unannounced.withLock { $0 } == ["quiet"])
        // The watcher's leave is announced to nobody: `busy` is unannounced from then on,
        // once per window however many changes it has.
        watcher.release()
        bob.release()
        unwatched.release()
        for _ in 0..<500 {
            if unannounced.withLock({ Set($0.dropFirst()) == ["busy", "quiet"] }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(unannounced.withLock { Set($0.dropFirst()) } == ["busy", "quiet"])
        #expect(received.withLock { $0.count } == 2)
    }
}
