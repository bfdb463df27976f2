import Foundation
import HTTPTypes
import HubCore
import JWTKit
import Rill
import RillJWT
import RillTestSupport
import RillTesting
import Testing

/// rill-hub with `--jwt-secret` / `--jwt-key`: subscribing and publishing need a token whose
/// claims allow the channel; `--token` still publishes; a stream ends at its token's `exp` and
/// the reconnect loses nothing.
@Suite(.timeLimit(.minutes(1)))
struct HubJWTTests {
    /// A hub that requires JWTs signed with ``hubJWTSecret``, and a static publish token.
    static func jwtHub(token: String? = "static-publisher") async throws -> Application {
        let jwt = try await JWTAuthorizer(keys: [.hmac(secret: hubJWTSecret)])
        return try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, token: token, jwt: jwt))
    }

    @Test func `subscribing needs a token, and its claims decide the channels`() async throws {
        let app = try await Self.jwtHub()
        let token = try await hubToken(subscribe: ["chat/*", "users/42/**"])
        try await app.test(.live) { client in
            let missing = try await client.get("/stream?channel=chat/lobby")
            #expect(missing.status == .unauthorized)
            #expect(missing.bodyText.contains(#""message":"missing token"#))
            // The static publish token is not a subscriber's token.
            let staticToken = try await client.get("/stream?channel=chat/lobby", headerFields: [.authorization: "Bearer static-publisher"])
            #expect(staticToken.status == .unauthorized)
            let forbidden = try await client.get("/stream?channel=users/43/inbox", headerFields: [.authorization: "Bearer \(token)"])
            #expect(forbidden.status == .forbidden)
            #expect(
                forbidden.bodyText
                    == #"{"error":{"status":403,"reason":"Forbidden","message":"subscribing to channel 'users/43/inbox' is not allowed"}}"#)
            #expect(await subscriptions(app) == 0)

            let stream = try await client.sse(
                "/stream?channel=chat/lobby&channel=users/42/inbox/unread", headerFields: [.cookie: "rill_token=\(token)"])
            #expect(stream.status == .ok)
            #expect(await eventually { await subscriptions(app) == 1 })
            _ = try await client.post("/publish?channel=users/42/inbox/unread&token=static-publisher", text: "for 42")
            #expect(try await stream.events(1).map(\.data) == ["for 42"])
            stream.close()
        }
    }

    @Test func `the stats stream names the channels a JWT may subscribe to, until it expires`() async throws {
        let app = try await Self.jwtHub()
        try await app.test(.live) { client in
            for channel in ["public/news", "public/sport", "private/42"] {
                _ = try await client.post("/publish?channel=\(channel)&token=static-publisher", text: "x")
            }
            func channels(_ path: String, headerFields: HTTPFields = [:]) async throws -> [String]? {
                let stats = try await client.sse(path, headerFields: headerFields)
                defer { stats.close() }
                let event = try #require(try await stats.events(1).first)
                return try JSONDecoder().decode(HubStats.self, from: Data(event.data.utf8)).channels?.map(\.name).sorted()
            }
            #expect(try await channels("/stats") == nil)
            #expect(try await channels("/stats?token=static-publisher") == ["private/42", "public/news", "public/sport"])
            let reader = try await hubToken(subscribe: ["public/**"])
            #expect(try await channels("/stats", headerFields: [.authorization: "Bearer \(reader)"]) == ["public/news", "public/sport"])
            #expect(try await channels("/stats?token=\(reader)") == ["public/news", "public/sport"])
            #expect(try await channels("/stats", headerFields: [.cookie: "rill_token=\(reader)"]) == ["public/news", "public/sport"])
            // A token that has expired by the time of a sample sees no names from then on.
            let brief = try await hubToken(subscribe: ["**"], lifetimeSeconds: 1.5)
            let stats = try await client.sse("/stats", headerFields: [.authorization: "Bearer \(brief)"])
            let first = try JSONDecoder().decode(HubStats.self, from: Data(try #require(try await stats.events(1).first).data.utf8))
            #expect(first.channels?.count == 3)
            var hidden = false
            for _ in 0..<40 where !hidden {
                let event = try #require(try await stats.events(1).first)
                hidden = try JSONDecoder().decode(HubStats.self, from: Data(event.data.utf8)).channels == nil
            }
            #expect(hidden, "names still shown after the token's expiry")
            stats.close()
        }
    }

    @Test func `a pattern is allowed when the token's subscribe claim covers it`() async throws {
        let app = try await Self.jwtHub()
        let token = try await hubToken(subscribe: ["chat/**", "users/42/*"])
        let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
        try await app.test(.live) { client in
            for wider in ["**", "chat*/**", "users/*/inbox", "users/42/**"] {
                let forbidden = try await client.get("/stream?pattern=\(wider)", headerFields: bearer)
                #expect(forbidden.status == .forbidden, "\(wider)")
                #expect(forbidden.bodyText.contains("subscribing to pattern '\(wider)' is not allowed"))
            }
            #expect(await subscriptions(app) == 0)
            let stream = try await client.sse("/stream?pattern=chat/*&pattern=users/42/*", headerFields: bearer)
            #expect(stream.status == .ok)
            #expect(await eventually { await subscriptions(app) == 1 })
            for channel in ["chat/lobby", "chat/a/b", "users/42/inbox", "users/43/inbox"] {
                _ = try await client.post("/publish?channel=\(channel)&token=static-publisher", text: channel)
            }
            #expect(try await stream.events(2).map(\.data) == ["chat/lobby", "users/42/inbox"])
            stream.close()
        }
    }

    @Test func `the static token publishes anywhere; a JWT publishes where its claims allow`() async throws {
        let app = try await Self.jwtHub()
        let publisher = try await hubToken(publish: ["news/*"])
        try await app.test(.live) { client in
            #expect(try await client.post("/publish?channel=anything", text: "x").status == .unauthorized)
            let bearer: HTTPFields = [.authorization: "Bearer static-publisher"]
            #expect(try await client.post("/publish?channel=anything", text: "x", headerFields: bearer).status == .ok)
            let jwt: HTTPFields = [.authorization: "Bearer \(publisher)"]
            #expect(try await client.post("/publish?channel=news/today", text: "x", headerFields: jwt).status == .ok)
            let refused = try await client.post("/publish?channel=sports/today", text: "x", headerFields: jwt)
            #expect(refused.status == .forbidden)
            #expect(refused.bodyText.contains("publishing to channel 'sports/today' is not allowed"))
        }
    }

    @Test func `a JWT that may not publish to the channel is refused before the upload, without 100 Continue`() async throws {
        let app = try await Self.jwtHub()
        let subscriber = try await hubToken(subscribe: ["**"])
        let elsewhere = try await hubToken(publish: ["news/*"])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for token in [subscriber, elsewhere] {
                let answer = try await onDedicatedThread { () -> String in
                    let connection = try RawConnection(port: port)
                    defer { connection.close() }
                    try connection.send(
                        "POST /publish?channel=sports/today HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                            + "Content-Length: 900000\r\nExpect: 100-continue\r\n\r\n")
                    return String(decoding: try connection.receiveUntilClose(), as: UTF8.self)
                }
                #expect(answer.hasPrefix("HTTP/1.1 403 "), "\(answer.prefix(60))")
                #expect(answer.contains("publishing to channel 'sports/today' is not allowed"))
            }
        }
    }

    @Test func `at exp the stream ends with rill-token-expired; the reconnect replays what was missed`() async throws {
        let app = try await Self.jwtHub()
        try await app.test(.live) { client in
            let shortLived = try await hubToken(subscribe: ["news"], lifetimeSeconds: 3)
            let stream = try await client.sse("/stream?channel=news&token=\(shortLived)")
            #expect(await eventually { await subscriptions(app) == 1 })
            let publish: HTTPFields = [.authorization: "Bearer static-publisher"]
            _ = try await client.post("/publish?channel=news", text: "one", headerFields: publish)
            #expect(try await stream.events(1).map(\.data) == ["one"])
            let last = try await stream.remainingEvents()
            #expect(last.map(\.type) == ["rill-token-expired"])
            #expect(last.first?.data.hasPrefix(#"{"reason":"token expired""#) == true)
            for text in ["two", "three"] { _ = try await client.post("/publish?channel=news", text: text, headerFields: publish) }

            let fresh = try await hubToken(subscribe: ["news"])
            let resumed = try await client.sse(
                "/stream?channel=news", headerFields: [.authorization: "Bearer \(fresh)", lastEventIDField: stream.lastEventID])
            #expect(resumed.headerFields[replayField] == "complete")
            #expect(try await resumed.events(2).map(\.data) == ["two", "three"])
            resumed.close()
        }
    }

    @Test func `the executable takes --jwt-key with a JWKS file and refuses a short --jwt-secret`() async throws {
        let key = ES256PrivateKey()
        let (x, y) = try #require(key.publicKey.parameters)
        let jwks = FileManager.default.temporaryDirectory.appendingPathComponent("rill-hub-jwks-\(getpid()).json")
        try Data(#"{"keys":[{"kty":"EC","crv":"P-256","kid":"hub-1","x":"\#(x)","y":"\#(y)"}]}"#.utf8).write(to: jwks)
        defer { try? FileManager.default.removeItem(at: jwks) }
        let hub = try await HubProcess(["--jwt-key", jwks.path, "--jwt-cookie", "hub_token"])
        let token = try await hubToken(subscribe: ["a"], signedWith: key, kid: "hub-1")
        #expect(try await hub.client.get("/stream?channel=a").status == .unauthorized)
        let stream = try await hub.client.sse("/stream?channel=a", headerFields: [.cookie: "hub_token=\(token)"])
        #expect(stream.status == .ok)
        stream.close()
        #expect(try await hub.terminate() == "exit status 0")

        let refused = try await runRefusing("rill-hub", arguments: ["--jwt-secret", "too-short"])
        #expect(refused.refused, "\(refused.ended ?? "still running")\n\(refused.standardError)")
    }
}
