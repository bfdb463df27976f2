import Foundation
import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Presence across `rill-hub` processes on one real `redis-server`: counts and members span
/// the processes, join notices cross them, a hub killed with SIGKILL drops out once its entries
/// expire, and a hub that shuts down cleanly drops out at once.
@Suite(.timeLimit(.minutes(2)))
struct HubPresenceProcessTests {
    /// `rill-hub` on `redis` with JWTs signed with ``hubJWTSecret``.
    private func presenceHub(_ redis: RedisServer, refreshSeconds: Double) async throws -> HubProcess {
        try await HubProcess([
            "--redis", redis.url, "--jwt-secret", hubJWTSecret, "--presence-refresh-seconds", "\(refreshSeconds)", "--drain-seconds", "0",
        ])
    }

    private func presence(on hub: HubProcess, token: String) async throws -> Presence? {
        let response = try await hub.client.get("/presence?channel=lobby", headerFields: [.authorization: "Bearer \(token)"])
        return response.status == .ok ? try response.decode(Presence.self) : nil
    }

    // `make test` installs what this needs; it never skips (a missing tool is a failure).
    @Test func `presence counts span two hubs on one Redis, and a SIGKILLed hub's entries expire`() async throws {
        let redis = try RedisServer()
        defer { redis.kill() }
        // Entries of a hub live 3 × 0.2 s past its last refresh.
        let a = try await presenceHub(redis, refreshSeconds: 0.2)
        let b = try await presenceHub(redis, refreshSeconds: 0.2)
        let alice = try await hubToken(subscribe: ["lobby"], sub: "alice")
        let bob = try await hubToken(subscribe: ["lobby"], sub: "bob")

        let watching = try await b.client.sse("/stream?channel=lobby&presence=1", headerFields: [.authorization: "Bearer \(bob)"])
        #expect(watching.status == .ok)
        #expect(try await watching.events(1).map(\.data) == [#"{"channel":"lobby","sub":"bob"}"#])
        let onA = [
            try await a.client.sse("/stream?channel=lobby", headerFields: [.authorization: "Bearer \(alice)"]),
            try await a.client.sse("/stream?channel=lobby", headerFields: [.authorization: "Bearer \(alice)"]),
        ]
        #expect(onA.allSatisfy { $0.status == .ok })
        // A's coalesced notice reaches B's watcher through Redis: one join for alice's two streams.
        let fromA = try await watching.events(1)
        #expect(fromA.map(\.type) == ["rill-join"])
        #expect(fromA.map(\.data) == [#"{"channel":"lobby","sub":"alice"}"#])

        for hub in [a, b] {
            #expect(
                await eventually(within: .seconds(10)) {
                    guard let presence = try? await self.presence(on: hub, token: bob) else { return false }
                    return presence.count == 3 && presence.memberCount == 2
                        && presence.members.first { $0.sub == "alice" }?.connections == 2
                        && presence.members.first { $0.sub == "bob" }?.connections == 1
                }, "hub on port \(hub.port) sees both hubs' streams")
        }

        a.process.kill(SIGKILL)
        _ = a.process.waitForExit(timeout: .seconds(5))
        #expect(
            await eventually(within: .seconds(10)) {
                let presence = try? await self.presence(on: b, token: bob)
                return presence?.count == 1 && presence?.members.map(\.sub) == ["bob"]
            }, "the killed hub's entries expired")
        watching.close()
        #expect(try await b.terminate() == "exit status 0")
    }

    @Test func `a channel no stream watches gets no presence notices in Redis, one watched on another hub does`() async throws {
        let redis = try RedisServer()
        defer { redis.kill() }
        let a = try await presenceHub(redis, refreshSeconds: 0.2)
        let b = try await presenceHub(redis, refreshSeconds: 0.2)
        let dave = try await hubToken(subscribe: ["quiet", "watched"], sub: "dave")
        let watcher = try await b.client.sse("/stream?channel=watched&presence=1", headerFields: [.authorization: "Bearer \(dave)"])
        #expect(try await watcher.events(1).map(\.type) == ["rill-join"])  // its own join
        // Streams on A: one on a channel nobody watches, one on the channel B's stream watches.
        let quiet = try await a.client.sse("/stream?channel=quiet", headerFields: [.authorization: "Bearer \(dave)"])
        let watched = try await a.client.sse("/stream?channel=watched", headerFields: [.authorization: "Bearer \(dave)"])
        #expect(quiet.status == .ok && watched.status == .ok)
        // A's join on `watched` crosses to B (dave is already there: the count changes, the
        // member does not, so it may come as nothing; a leave of a second identity would).
        try await Task.sleep(for: .milliseconds(2500))  // past the 1 s coalescing window, twice
        func exists(_ key: String) -> Bool? {
            redis.exchange("*2\r\n$6\r\nEXISTS\r\n$\(key.utf8.count)\r\n\(key)\r\n", expecting: 4).map { $0.hasPrefix(":1") }
        }
        #expect(exists("rill:stream:rill-presence/quiet") == false, "notices of a channel nobody watches were written")
        #expect(exists("rill:meta:rill-presence/quiet") == false, "a channel never watched was marked as having lost notices")
        #expect(exists("rill:stream:rill-presence/watched") == true)
        quiet.close()
        watched.close()
        watcher.close()
        #expect(try await a.terminate() == "exit status 0")
        #expect(try await b.terminate() == "exit status 0")
    }

    @Test func `a watcher back after a change on another hub that nobody watched is told gap`() async throws {
        let redis = try RedisServer()
        defer { redis.kill() }
        let a = try await presenceHub(redis, refreshSeconds: 0.2)
        let b = try await presenceHub(redis, refreshSeconds: 0.2)
        func token(_ sub: String) async throws -> HTTPFields {
            [.authorization: "Bearer \(try await hubToken(subscribe: ["room", "tick"], publish: ["room"], sub: sub))"]
        }
        // X watches `tick`: once it hears of a join on `tick`, the hub that made the join has
        // ended the window of everything it recorded before (and marked what nobody watched).
        let clock = try await a.client.sse("/stream?channel=tick&presence=1", headerFields: try await token("x"))
        #expect(try await clock.events(1).map(\.data) == [#"{"channel":"tick","sub":"x"}"#])
        var watcher = try await a.client.sse("/stream?channel=room&presence=1", headerFields: try await token("w"))
        #expect(try await watcher.events(1).map(\.data) == [#"{"channel":"room","sub":"w"}"#])
        watcher.close()
        let dave = try await a.client.sse("/stream?channel=tick", headerFields: try await token("dave"))
        #expect(try await clock.events(1).map(\.data) == [#"{"channel":"tick","sub":"dave"}"#])
        // A position after the watcher left (and after A marked its own leave, unheard).
        let published = try await a.client.post("/publish?channel=room", text: "after", headerFields: try await token("publisher"))
        #expect(published.status == .ok)
        struct Receipt: Decodable { let id: String }
        let position = try published.decode(Receipt.self).id
        // Carol joins on B, where nobody watches `room` (nor on A); then erin on `tick`.
        let carol = try await b.client.sse("/stream?channel=room", headerFields: try await token("carol"))
        let erin = try await b.client.sse("/stream?channel=tick", headerFields: try await token("erin"))
        #expect(try await clock.events(1).map(\.data) == [#"{"channel":"tick","sub":"erin"}"#])

        watcher = try await a.client.sse(
            "/stream?channel=room&presence=1", headerFields: try await token("w") + [HTTPField.Name("Last-Event-ID")!: position])
        #expect(watcher.headerFields[HTTPField.Name("Rill-Replay")!] == "gap")
        #expect(try await watcher.events(1).map(\.type) == ["rill-history-gap"])
        for stream in [watcher, carol, erin, dave, clock] { stream.close() }
        #expect(try await a.terminate() == "exit status 0")
        #expect(try await b.terminate() == "exit status 0")
    }

    /// Audit 10 M2 on Redis: a watcher whose join and leave fell in one window published no
    /// notice, so a mark needing one skipped the channel and the watcher was told `complete`.
    @Test func `a watcher gone before its channel's first notice is told gap after a change on another hub`() async throws {
        let redis = try RedisServer()
        defer { redis.kill() }
        let a = try await presenceHub(redis, refreshSeconds: 0.2)
        let b = try await presenceHub(redis, refreshSeconds: 0.2)
        func token(_ sub: String) async throws -> HTTPFields {
            [.authorization: "Bearer \(try await hubToken(subscribe: ["fresh", "tick"], sub: sub))"]
        }
        let clock = try await a.client.sse("/stream?channel=tick&presence=1", headerFields: try await token("x"))
        #expect(try await clock.events(1).map(\.type) == ["rill-join"])
        let watcher = try await a.client.sse("/stream?channel=fresh&presence=1", headerFields: try await token("w"))
        try await watcher.waitForBody(containing: "id: ~")
        let position = watcher.lastEventID
        watcher.close()
        let carol = try await b.client.sse("/stream?channel=fresh", headerFields: try await token("carol"))
        // Both hubs ended a window after those changes once X hears of dave (A) and erin (B).
        let dave = try await a.client.sse("/stream?channel=tick", headerFields: try await token("dave"))
        let erin = try await b.client.sse("/stream?channel=tick", headerFields: try await token("erin"))
        var heard = Set<String>()
        while heard.count < 2, let event = try await clock.events(1).first { heard.insert(event.data) }
        #expect(heard == [#"{"channel":"tick","sub":"dave"}"#, #"{"channel":"tick","sub":"erin"}"#])
        let resumed = try await a.client.sse(
            "/stream?channel=fresh&presence=1", headerFields: try await token("w") + [HTTPField.Name("Last-Event-ID")!: position])
        #expect(resumed.headerFields[HTTPField.Name("Rill-Replay")!] == "gap")
        for stream in [resumed, carol, dave, erin, clock] { stream.close() }
        #expect(try await a.terminate() == "exit status 0")
        #expect(try await b.terminate() == "exit status 0")
    }

    @Test func `a hub that shuts down cleanly removes its entries at once`() async throws {
        let redis = try RedisServer()
        defer { redis.kill() }
        // Refreshed every 5 s, entries would outlive a silent death by 15 s.
        let leaving = try await presenceHub(redis, refreshSeconds: 5)
        let staying = try await presenceHub(redis, refreshSeconds: 5)
        let carol = try await hubToken(subscribe: ["lobby"], sub: "carol")
        let stream = try await leaving.client.sse("/stream?channel=lobby", headerFields: [.authorization: "Bearer \(carol)"])
        #expect(stream.status == .ok)
        // The first refresh runs at start; the next writes carol within a refresh interval.
        #expect(
            await eventually(within: .seconds(15)) {
                (try? await self.presence(on: staying, token: carol))?.count == 1
            })
        let stopped = ContinuousClock.now
        #expect(try await leaving.terminate() == "exit status 0")
        #expect(try await presence(on: staying, token: carol)?.count == 0)
        #expect(ContinuousClock.now - stopped < .seconds(15), "gone before its entries could have expired")
        stream.close()
        #expect(try await staying.terminate() == "exit status 0")
    }
}
