import Foundation
import HTTPTypes
import Rill
import RillTestSupport
import RillTesting
import Testing

@testable import RillJWT

/// A stream opened with a token ends at the token's `exp` with `rill-token-expired`, on HTTP/1.1
/// and HTTP/2, relayed or written by a task; the client reconnects with a fresh token and its
/// `Last-Event-ID`, and loses nothing.
@Suite(.timeLimit(.minutes(1)))
struct JWTExpiryTests {
    static let lastEventIDField = HTTPField.Name("Last-Event-ID")!

    @Test func `at exp a relayed stream ends with rill-token-expired; a new token and Last-Event-ID lose nothing`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let shortLived = try await TestKeys.hs256(.expiring(in: .seconds(3), subscribe: ["news"]))
        try await app.test(.live) { client in
            let opened = ContinuousClock.now
            let stream = try await client.sse("/stream?channel=news", headerFields: [.authorization: "Bearer \(shortLived)"])
            #expect(stream.status == .ok)
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 1 })
            for n in 1...2 { _ = try await app.publish("before \(n)", channel: "news") }
            #expect(try await stream.events(2).map(\.data) == ["before 1", "before 2"])

            // The server ends the stream by itself at exp, with a final event that has data.
            let last = try await stream.remainingEvents()
            let ended = ContinuousClock.now - opened
            #expect(last.map(\.type) == ["rill-token-expired"])
            #expect(last.first?.data.hasPrefix(#"{"reason":"token expired","exp":"#) == true)
            #expect(stream.isEnded)
            #expect(ended < .seconds(5), "ended \(ended) after opening, with a 3 s token")
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 0 })

            // Published while the client fetches a new token.
            for n in 1...2 { _ = try await app.publish("missed \(n)", channel: "news") }
            let stale = try await client.get("/stream?channel=news", headerFields: [.authorization: "Bearer \(shortLived)"])
            #expect(stale.status == .unauthorized)

            let fresh = try await TestKeys.hs256(.expiring(subscribe: ["news"]))
            let resumed = try await client.sse(
                "/stream?channel=news", headerFields: [.authorization: "Bearer \(fresh)", Self.lastEventIDField: stream.lastEventID])
            #expect(try await resumed.events(2).map(\.data) == ["missed 1", "missed 2"])
            _ = try await app.publish("after", channel: "news")
            #expect(try await resumed.events(1).map(\.data) == ["after"])
            resumed.close()
        }
    }

    @Test func `a stream a task writes ends at exp with rill-token-expired too`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let token = try await TestKeys.hs256(.expiring(in: .seconds(2)))
        try await app.test(.live) { client in
            let stream = try await client.sse("/ticks", headerFields: [.authorization: "Bearer \(token)"])
            let events = try await stream.remainingEvents()
            #expect(events.count > 3)
            #expect(events.dropLast().allSatisfy { $0.data.hasPrefix("tick ") })
            #expect(events.last?.type == "rill-token-expired")
            #expect(events.last?.data.hasPrefix(#"{"reason":"token expired""#) == true)
        }
    }

    @Test func `in process, a subscription iterated by a task ends at exp too`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let token = try await TestKeys.hs256(.expiring(in: .seconds(3), subscribe: ["news"]))
        try await app.test(.router) { client in
            let stream = try await client.sse("/stream?channel=news", headerFields: [.authorization: "Bearer \(token)"])
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 1 })
            _ = try await app.publish("in process", channel: "news")
            let events = try await stream.remainingEvents()
            #expect(events.map(\.type) == ["message", "rill-token-expired"])
            #expect(events.first?.data == "in process")
        }
    }

    @Test(arguments: ["/stream?channel=h2", "/ticks"])
    func `over HTTP 2 the stream ends at exp with rill-token-expired`(path: String) async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let address = try await app.start()
        let token = try await TestKeys.hs256(.expiring(in: .seconds(2), subscribe: ["h2"]))
        let started = ContinuousClock.now
        async let result = curl([
            "-s", "-N", "--http2-prior-knowledge", "-m", "10", "-H", "Authorization: Bearer \(token)",
            "http://127.0.0.1:\(address.port)\(path)",
        ])
        if path.hasPrefix("/stream") {
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 1 })
            _ = try await app.publish("over h2", channel: "h2")
        }
        let (status, output) = try await result
        await app.shutdown()
        // curl ends by itself (the server ended the stream), well before its 10 s limit.
        #expect(status == 0, "curl exit status \(status): \(output)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(output.hasSuffix("event: rill-token-expired\ndata: {\"reason\":\"token expired\",\"exp\":\(output.expiry)}\n\n"), "\(output)")
        if path.hasPrefix("/stream") { #expect(output.contains("data: over h2\n\n")) }
    }
}

extension String {
    /// The `exp` number of the `rill-token-expired` event in this output ("" if none).
    fileprivate var expiry: String {
        guard let range = range(of: "\"exp\":") else { return "" }
        return String(self[range.upperBound...].prefix { $0.isNumber })
    }
}
