import Foundation
import HTTPTypes
import Rill
import RillTestSupport
import RillTesting
import Testing

@testable import RillJWT

/// Requests over loopback: where the token is read from, 401 and 403 with their JSON bodies,
/// publishing by the claims, and a token in the query never logged.
@Suite(.timeLimit(.minutes(1)))
struct JWTRequestTests {
    @Test(arguments: ["header", "cookie", "query"])
    func `a token in the header, a cookie or the query opens an allowed stream`(source: String) async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)], cookieName: "hub_jwt")
        let app = try jwtApplication(authorizer)
        let token = try await TestKeys.hs256(.expiring(subscribe: ["chat/*"]))
        try await app.test(.live) { client in
            var path = "/stream?channel=chat/lobby"
            var fields: HTTPFields = [:]
            switch source {
            case "header": fields[.authorization] = "Bearer \(token)"
            case "cookie": fields[.cookie] = "theme=dark; hub_jwt=\(token); other=1"
            default: path += "&token=\(token)"
            }
            let stream = try await client.sse(path, headerFields: fields)
            #expect(stream.status == .ok)
            #expect(await eventually { await app.broker.statistics().subscriptionCount == 1 })
            _ = try await app.publish("hello", channel: "chat/lobby")
            #expect(try await stream.events(1).map(\.data) == ["hello"])
            stream.close()
        }
    }

    @Test func `a planted cookie of the same name before the user's does not lock the user out`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let token = try await TestKeys.hs256(.expiring(subscribe: ["chat/*"]))
        let forged = try await TestKeys.hs256(.expiring(subscribe: ["**"]), secret: String(repeating: "f", count: 32))
        try await app.test(.live) { client in
            // A browser sends the cookie with the longer path first: the planted one.
            let planted = try await client.sse(
                "/stream?channel=chat/lobby", headerFields: [.cookie: "rill_token=garbage; rill_token=\(forged); rill_token=\(token)"])
            #expect(planted.status == .ok)
            planted.close()
            let onlyBad = try await client.get("/stream?channel=chat/lobby", headerFields: [.cookie: "rill_token=garbage; rill_token=\(forged)"])
            #expect(onlyBad.status == .unauthorized)
            #expect(onlyBad.bodyText.contains("malformed"), "the first cookie's reason: \(onlyBad.bodyText)")
            // At most four are verified (each costs a signature check): a fifth is not tried.
            let garbage = Array(repeating: "rill_token=garbage", count: 4).joined(separator: "; ")
            let fifth = try await client.get("/stream?channel=chat/lobby", headerFields: [.cookie: "\(garbage); rill_token=\(token)"])
            #expect(fifth.status == .unauthorized)
            let fourth = try await client.sse(
                "/stream?channel=chat/lobby",
                headerFields: [.cookie: Array(repeating: "rill_token=garbage", count: 3).joined(separator: "; ") + "; rill_token=\(token)"])
            #expect(fourth.status == .ok)
            fourth.close()
        }
    }

    @Test func `no token or an invalid one gets 401 with a JSON body; a channel off the claims gets 403`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let token = try await TestKeys.hs256(.expiring(subscribe: ["chat/*"], publish: ["chat/lobby"]))
        let forged = try await TestKeys.hs256(.expiring(subscribe: ["**"]), secret: String(repeating: "f", count: 32))
        let expired = try await TestKeys.hs256(.expiring(in: .seconds(-60), subscribe: ["**"]))
        try await app.test(.live) { client in
            let missing = try await client.get("/stream?channel=chat/lobby")
            #expect(missing.status == .unauthorized)
            #expect(missing.headerFields[.contentType]?.hasPrefix("application/json") == true)
            #expect(missing.headerFields[.wwwAuthenticate] == #"Bearer realm="rill""#)
            #expect(
                missing.bodyText
                    == #"{"error":{"status":401,"reason":"Unauthorized","message":"missing token: send 'Authorization: Bearer <JWT>', the 'rill_token' cookie or '?token=<JWT>'"}}"#
            )
            // A POST reads no cookie (a cross-site form could send it): the message does not offer it.
            let unsigned = try await client.post("/publish?channel=chat/lobby", text: "x", headerFields: [.cookie: "rill_token=\(token)"])
            #expect(unsigned.status == .unauthorized)
            #expect(unsigned.bodyText.contains("send 'Authorization: Bearer <JWT>' or '?token=<JWT>' (a cookie is read for GET and HEAD only)"))

            let bad = try await client.get("/stream?channel=chat/lobby", headerFields: [.authorization: "Bearer \(forged)"])
            #expect(bad.status == .unauthorized)
            #expect(bad.headerFields[.wwwAuthenticate] == #"Bearer realm="rill", error="invalid_token""#)
            #expect(bad.bodyText == #"{"error":{"status":401,"reason":"Unauthorized","message":"invalid token signature"}}"#)
            #expect(!bad.bodyText.contains(forged))

            let late = try await client.get("/stream?channel=x&token=\(expired)")
            #expect(late.status == .unauthorized)
            #expect(late.bodyText == #"{"error":{"status":401,"reason":"Unauthorized","message":"token expired"}}"#)

            let forbidden = try await client.get("/stream?channel=chat/lobby&channel=admin", headerFields: [.authorization: "Bearer \(token)"])
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.headerFields[.contentType]?.hasPrefix("application/json") == true)
            #expect(
                forbidden.bodyText == #"{"error":{"status":403,"reason":"Forbidden","message":"subscribing to channel 'admin' is not allowed"}}"#)
            // Nothing was subscribed: authorization runs before the broker is asked.
            #expect(await app.broker.statistics().subscriptionCount == 0)

            let published = try await client.post("/publish?channel=chat/lobby", text: "hi", headerFields: [.authorization: "Bearer \(token)"])
            #expect(published.status == .ok)
            // The cookie alone does not publish: a cross-site form could send it (CSRF).
            let bycookie = try await client.post(
                "/publish?channel=chat/lobby", text: "forged",
                headerFields: [.cookie: "rill_token=\(token)", HTTPField.Name("Origin")!: "https://evil.example"])
            #expect(bycookie.status == .unauthorized)
            let refused = try await client.post("/publish?channel=chat/other", text: "hi", headerFields: [.authorization: "Bearer \(token)"])
            #expect(refused.status == .forbidden)
            #expect(
                refused.bodyText
                    == #"{"error":{"status":403,"reason":"Forbidden","message":"publishing to channel 'chat/other' is not allowed"}}"#)
        }
    }

    @Test func `a token in the query is logged as REDACTED`() async throws {
        let token = try await TestKeys.hs256(.expiring(subscribe: ["a"]))
        let logged = LogRequestsMiddleware().redacting("/stream?channel=a&token=\(token)&lastEventId=7")
        #expect(logged == "/stream?channel=a&token=REDACTED&lastEventId=7")
        #expect(!logged.contains(token))
    }
}
