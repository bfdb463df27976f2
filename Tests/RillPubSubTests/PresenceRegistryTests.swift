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
    func `changes are announced once per window, coalesced, with the channels their last watcher left`() async throws {
        let loop = try EventLoop(name: "presence-announcer")
        defer { loop.shutdownAndWait() }
        let registry = PresenceRegistry(
            configuration: PresenceConfiguration(coalescingWindow: .milliseconds(50)), announcesUnwatchedChannels: true)
        let received = Mutex<[PresenceWindow]>([])
        registry.announce(on: loop) { window in received.withLock { $0.append(window) } }
        registry.onUnheardChange { _, _ in Issue.record("a registry that announces every channel hears every change") }
        let alice = registry.join("alice", channels: ["chat"])
        let bob = registry.join("bob", channels: ["chat"])
        bob.release()  // cancels bob's join
        for _ in 0..<500 {
            if received.withLock({ !$0.isEmpty }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.withLock { $0 } == [PresenceWindow(announcements: [.join(channel: "chat", sub: "alice")])])
        alice.release()
        let watcher = registry.join("watcher", channels: ["chat", "news"], watching: true)
        watcher.release()  // its join and leave cancel; the channels lost their last watcher here
        for _ in 0..<500 {
            if received.withLock({ $0.count == 2 }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let last = received.withLock { $0.last }
        #expect(last?.announcements == [.leave(channel: "chat", sub: "alice")])
        #expect(last?.abandonedChannels.sorted() == ["chat", "news"])
        #expect(last?.unheardChannels == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func `in memory, only watched channels are announced, and an unheard change is reported at once`() async throws {
        let loop = try EventLoop(name: "presence-watchers")
        defer { loop.shutdownAndWait() }
        let registry = PresenceRegistry(configuration: PresenceConfiguration(coalescingWindow: .milliseconds(300)))
        let received = Mutex<[PresenceWindow]>([])
        let reports = Mutex<[String]>([])
        registry.announce(on: loop) { window in received.withLock { $0.append(window) } }
        registry.onUnheardChange { channels, watcherLeft in reports.withLock { $0.append("\(channels) \(watcherLeft)") } }
        let unwatched = registry.join("alice", channels: ["quiet"])
        // Reported before join returns: a watcher resuming in this window already sees the loss.
        #expect(reports.withLock { $0 } == [#"["quiet"] false"#])
        let watcher = registry.join("watcher", channels: ["busy"], watching: true)
        let bob = registry.join("bob", channels: ["busy", "quiet"])  // a second unheard change of `quiet`
        watcher.release()  // `busy` loses its watcher: reported at once
        #expect(reports.withLock { $0 } == [#"["quiet"] false"#, #"["busy"] true"#])
        for _ in 0..<500 {
            if received.withLock({ !$0.isEmpty }) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // The window: the watched channel's joins, and `quiet`'s later unheard change.
        #expect(
            received.withLock { $0.first }
                == PresenceWindow(
                    announcements: [.join(channel: "busy", sub: "watcher"), .join(channel: "busy", sub: "bob")], unheardChannels: ["quiet"]))
        // A new window: the first unheard change of each channel is reported at once again.
        bob.release()
        #expect(reports.withLock { Array($0.dropFirst(2)) } == [#"["busy", "quiet"] false"#])
        unwatched.release()
        #expect(reports.withLock { $0.count } == 3)
    }
}
