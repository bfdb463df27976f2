import Foundation
import HubCore
import Rill
import RillJWT
import RillTesting
import Testing

/// `GET /presence` and `presence=1` streams in one hub process (across processes on Redis:
/// HubPresenceProcessTests).
@Suite(.timeLimit(.minutes(1)))
struct HubPresenceTests {
    @Test func `presence counts streams and lists their subs, authorized by the subscribe claim`() async throws {
        let app = try await HubJWTTests.jwtHub()
        let alice = try await hubToken(subscribe: ["chat/*"], sub: "alice")
        let bob = try await hubToken(subscribe: ["chat/lobby"], sub: "bob")
        try await app.test(.live) { client in
            let missing = try await client.get("/presence?channel=chat/lobby")
            #expect(missing.status == .unauthorized)
            #expect(missing.bodyText.contains(#""message":"missing token"#))
            let forbidden = try await client.get("/presence?channel=chat/other", headerFields: [.authorization: "Bearer \(bob)"])
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.bodyText.contains("subscribing to channel 'chat/other' is not allowed"))

            let streams = [
                try await client.sse("/stream?channel=chat/lobby", headerFields: [.authorization: "Bearer \(alice)"]),
                try await client.sse("/stream?channel=chat/lobby", headerFields: [.authorization: "Bearer \(alice)"]),
                try await client.sse("/stream?channel=chat/lobby", headerFields: [.authorization: "Bearer \(bob)"]),
            ]
            #expect(streams.allSatisfy { $0.status == .ok })
            #expect(await eventually { await subscriptions(app) == 3 })
            let answer = try await client.get("/presence?channel=chat/lobby", headerFields: [.authorization: "Bearer \(bob)"])
            #expect(answer.status == .ok)
            #expect(answer.headerFields[.contentType]?.hasPrefix("application/json") == true)
            let presence = try answer.decode(Presence.self)
            #expect(presence.channel == "chat/lobby")
            #expect(presence.count == 3)
            #expect(presence.memberCount == 2)
            #expect(Set(presence.members.map(\.sub)) == ["alice", "bob"])
            #expect(presence.members.first { $0.sub == "alice" }?.connections == 2)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            #expect(presence.members.allSatisfy { abs($0.sinceUnixMilliseconds - now) < 60_000 })
            let limited = try await client.get("/presence?channel=chat/lobby&limit=1", headerFields: [.authorization: "Bearer \(bob)"])
            let one = try limited.decode(Presence.self)
            #expect(one.members.count == 1 && one.memberCount == 2 && one.count == 3)

            for stream in streams { stream.close() }
            #expect(
                await eventually {
                    let after = try? await client.get("/presence?channel=chat/lobby", headerFields: [.authorization: "Bearer \(bob)"])
                    return (try? after?.decode(Presence.self).count) == 0
                })
        }
    }

    @Test(arguments: [
        ("/presence", "name the channel"), ("/presence?channel=", "name the channel"),
        ("/presence?channel=c&limit=1001", "from 0 to 1000"), ("/presence?channel=c&limit=-1", "from 0 to 1000"),
        ("/presence?channel=c&limit=ten", "from 0 to 1000"), ("/presence?channel=rill-presence/c", "is reserved"),
        ("/stream?channel=rill-presence/c", "is reserved"), ("/stream?channel=c&presence=yes", "'presence' must be 1 or 0"),
        ("/stream?presence=1&channel=" + String(repeating: "x", count: 243), "channels of at most 242 bytes"),
    ])
    func `bad presence requests are 400 with a JSON reason`(path: String, reason: String) async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.get(path)
            #expect(response.status == .badRequest, "\(path)")
            #expect(response.bodyText.hasPrefix(#"{"error":{"status":400"#), "\(path)")
            #expect(response.bodyText.contains(reason), "\(path): \(response.bodyText)")
        }
    }

    @Test func `nobody publishes to a reserved presence channel, not even with the static token`() async throws {
        let app = try hub(token: "s3cret")
        try await app.test(.live) { client in
            let response = try await client.post("/publish?channel=rill-presence/c", text: "fake", headerFields: [.authorization: "Bearer s3cret"])
            #expect(response.status == .badRequest)
            #expect(response.bodyText.contains("is reserved"))
        }
    }

    @Test func `a presence=1 stream receives rill-join and rill-leave with JSON data`() async throws {
        let app = try await HubJWTTests.jwtHub()
        let watcher = try await hubToken(subscribe: ["room"], sub: "watcher")
        let carol = try await hubToken(subscribe: ["room"], sub: "carol")
        try await app.test(.live) { client in
            let watching = try await client.sse("/stream?channel=room&presence=1", headerFields: [.authorization: "Bearer \(watcher)"])
            #expect(watching.status == .ok)
            let own = try await watching.events(1)
            #expect(own.map(\.type) == ["rill-join"])
            #expect(own.map(\.data) == [#"{"channel":"room","sub":"watcher"}"#])
            let joining = try await client.sse("/stream?channel=room", headerFields: [.authorization: "Bearer \(carol)"])
            let joined = try await watching.events(1)
            #expect(joined.map(\.type) == ["rill-join"])
            #expect(joined.map(\.data) == [#"{"channel":"room","sub":"carol"}"#])
            joining.close()
            let left = try await watching.events(1)
            #expect(left.map(\.type) == ["rill-leave"])
            #expect(left.map(\.data) == [#"{"channel":"room","sub":"carol"}"#])
            // A published event still arrives, between the notices.
            _ = try await client.post("/publish?channel=room&token=static-publisher", text: "hello")
            #expect(try await watching.events(1).map(\.data) == ["hello"])
            watching.close()
        }
    }

    @Test func `a watcher back after nobody watched is told gap; back while another watched, it replays what it missed`() async throws {
        let app = try await HubJWTTests.jwtHub()
        func token(_ sub: String) async throws -> HTTPFields {
            [.authorization: "Bearer \(try await hubToken(subscribe: ["room", "tick"], sub: sub))"]
        }
        try await app.test(.live) { client in
            // Another watcher stays: what happens meanwhile is announced, and replayed.
            let staying = try await client.sse("/stream?channel=room&presence=1", headerFields: try await token("v"))
            #expect(try await staying.events(1).map(\.data) == [#"{"channel":"room","sub":"v"}"#])
            var watcher = try await client.sse("/stream?channel=room&presence=1", headerFields: try await token("w"))
            #expect(try await watcher.events(1).map(\.data) == [#"{"channel":"room","sub":"w"}"#])
            #expect(try await staying.events(1).map(\.data) == [#"{"channel":"room","sub":"w"}"#])
            var position = watcher.lastEventID
            watcher.close()
            #expect(await eventually { await subscriptions(app) == 1 })  // w's leave first, then carol's join
            let carol = try await client.sse("/stream?channel=room", headerFields: try await token("carol"))
            var seen: [String] = []
            while seen.count < 2, let event = try await staying.events(1).first { seen.append("\(event.type) \(event.data)") }
            #expect(seen == [#"rill-leave {"channel":"room","sub":"w"}"#, #"rill-join {"channel":"room","sub":"carol"}"#])
            let resumed = try await client.sse(
                "/stream?channel=room&presence=1", headerFields: try await token("w") + [lastEventIDField: position])
            #expect(resumed.headerFields[replayField] == "complete")
            #expect(try await resumed.events(2).map(\.type) == ["rill-leave", "rill-join"])
            #expect(try await resumed.events(1).map(\.data) == [#"{"channel":"room","sub":"w"}"#])  // back, live
            position = resumed.lastEventID

            // Both watchers go: from then on nothing is announced, so the history of notices
            // must say that it missed something.
            staying.close()
            resumed.close()
            #expect(await eventually { await subscriptions(app) == 1 })
            // A watcher of another channel hears of a join once a window ends, and the window
            // that announces it has ended the ones with every change recorded before.
            let clock = try await client.sse("/stream?channel=tick&presence=1", headerFields: try await token("x"))
            #expect(try await clock.events(1).map(\.type) == ["rill-join"])
            // A position after the watchers left: their own leaves are not what it missed.
            let published = try await client.post("/publish?channel=room&token=static-publisher", text: "after")
            struct Receipt: Decodable { let id: String }
            position = try published.decode(Receipt.self).id
            carol.close()  // a leave nobody hears of
            let dave = try await client.sse("/stream?channel=tick", headerFields: try await token("dave"))
            #expect(try await clock.events(1).map(\.data) == [#"{"channel":"tick","sub":"dave"}"#])
            watcher = try await client.sse(
                "/stream?channel=room&presence=1", headerFields: try await token("w") + [lastEventIDField: position])
            #expect(watcher.headerFields[replayField] == "gap")
            #expect(try await watcher.events(1).map(\.type) == ["rill-history-gap"])
            for stream in [watcher, clock, dave] { stream.close() }
        }
    }

    /// Audit 10 M1 and M2: a watcher back within the coalescing window (before the window's end
    /// could mark anything), and one whose stream ended before its channel's first notice was
    /// published, were told `complete` after a change nobody heard.
    @Test func `a watcher back at once, or after a stream that published no notice, is told gap after an unheard change`() async throws {
        let app = try await HubJWTTests.jwtHub()
        func token(_ sub: String) async throws -> HTTPFields {
            [.authorization: "Bearer \(try await hubToken(subscribe: ["room", "fresh", "tick"], sub: sub))"]
        }
        try await app.test(.live) { client in
            var watcher = try await client.sse("/stream?channel=room&presence=1", headerFields: try await token("w"))
            #expect(try await watcher.events(1).map(\.data) == [#"{"channel":"room","sub":"w"}"#])
            var position = watcher.lastEventID
            watcher.close()
            let bob = try await client.sse("/stream?channel=room", headerFields: try await token("bob"))
            #expect(await eventually { await subscriptions(app) == 1 })  // w gone, bob in: well within the window
            watcher = try await client.sse(
                "/stream?channel=room&presence=1", headerFields: try await token("w") + [lastEventIDField: position])
            #expect(watcher.headerFields[replayField] == "gap")
            watcher.close()

            // A watcher whose stream ends before the window publishes its own join.
            let fresh = try await client.sse("/stream?channel=fresh&presence=1", headerFields: try await token("w"))
            try await fresh.waitForBody(containing: "id: ~")
            position = fresh.lastEventID
            fresh.close()
            let carol = try await client.sse("/stream?channel=fresh", headerFields: try await token("carol"))
            // Once a window announces dave's join, w's own join on `fresh` was published too.
            let clock = try await client.sse("/stream?channel=tick&presence=1", headerFields: try await token("x"))
            #expect(try await clock.events(1).map(\.type) == ["rill-join"])
            let dave = try await client.sse("/stream?channel=tick", headerFields: try await token("dave"))
            #expect(try await clock.events(1).map(\.data) == [#"{"channel":"tick","sub":"dave"}"#])
            watcher = try await client.sse(
                "/stream?channel=fresh&presence=1", headerFields: try await token("w") + [lastEventIDField: position])
            #expect(watcher.headerFields[replayField] == "gap")
            for stream in [watcher, bob, carol, clock, dave] { stream.close() }
        }
    }

    @Test func `many joins in one window reach a watcher as a few events, with a summary past the limit`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let watching = try await client.sse("/stream?channel=crowd&presence=1")
            #expect(
                try await watching.events(1) == [
                    MessageEvent(type: "rill-join", data: #"{"channel":"crowd","sub":null}"#, lastEventID: watching.lastEventID)
                ])
            let crowdSize = 100
            var crowd: [SSETestStream] = []
            for _ in 0..<crowdSize { crowd.append(try await client.sse("/stream?channel=crowd")) }
            // However the joins fall into windows, they add up to the crowd, and at least one
            // window held more than 32 of them (one summary instead of each).
            var joined = 0
            var events = 0
            var summaries = 0
            while joined < crowdSize, events < crowdSize {
                guard let event = try await watching.events(1).first else { break }
                events += 1
                if event.type == "rill-join" { joined += 1 }
                if event.type == "rill-presence" {
                    summaries += 1
                    let summary = try JSONDecoder().decode([String: JSONValue].self, from: Data(event.data.utf8))
                    #expect(summary["channel"] == .string("crowd"))
                    #expect(summary["left"] == .number(0))
                    if case .number(let count) = summary["joined"] { joined += Int(count) }
                }
            }
            #expect(joined == crowdSize)
            #expect(summaries >= 1)
            #expect(events < crowdSize)
            for stream in crowd { stream.close() }
            watching.close()
        }
    }
}

/// The values of a flat JSON object.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case number(Double)
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }
}
