import Crypto
import Foundation
import Rill
import RillTesting
import Testing
import WebhookRelayCore

/// Examples/WebhookRelay's application (the same routes the executable installs) on 127.0.0.1
/// and a free port, driven over real sockets by RillTesting's live client.
@Suite(.timeLimit(.minutes(1)))
struct WebhookRelayTests {
    static let secret = "It's a Secret to Everybody"
    static let push = #"{"ref":"refs/heads/main","before":"0","pusher":{"name":"octocat","email":"o@example.com"},"commits":[]}"#

    @Test func `a signed push reaches a subscriber as a notify event`() async throws {
        try await withRelay { client in
            let stream = try await client.sse("/stream")
            defer { stream.close() }
            #expect(stream.status == .ok)

            // A forged push first: it must be refused and publish nothing.
            let forged = try await client.post(
                "/webhook/github", body: Array(Self.push.utf8),
                headerFields: headers(event: "push", signature: signature(Self.push, secret: "wrong")))
            #expect(forged.status == .unauthorized)

            let response = try await client.post(
                "/webhook/github", body: Array(Self.push.utf8),
                headerFields: headers(event: "push", signature: signature(Self.push)))
            #expect(response.status == .ok, "\(response)")
            let reply = try response.decode(ReplyBody.self)
            #expect(reply.status == "published")
            #expect(reply.message == "octocat pushed to main")

            let events = try await stream.events(1)
            let event = try #require(events.first)
            #expect(event.type == "notify")
            #expect(event.lastEventID == reply.id)
            let data = try JSONDecoder().decode([String: String].self, from: Data(event.data.utf8))
            #expect(data == ["message": "octocat pushed to main"])
        }
    }

    @Test func `a push to a branch with slashes names the whole branch`() async throws {
        let body = #"{"ref":"refs/heads/feature/sse","pusher":{"name":"ada"}}"#
        try await withRelay { client in
            let stream = try await client.sse("/stream")
            defer { stream.close() }
            let response = try await client.post(
                "/webhook/github", body: Array(body.utf8), headerFields: headers(event: "push", signature: signature(body)))
            #expect(response.status == .ok, "\(response)")
            let event = try #require(try await stream.events(1).first)
            let data = try JSONDecoder().decode([String: String].self, from: Data(event.data.utf8))
            #expect(data == ["message": "ada pushed to feature/sse"])
        }
    }

    @Test(arguments: [
        ("wrong secret", Optional(signature(WebhookRelayTests.push, secret: "not the secret"))),
        ("missing", nil),
        ("not hex", "sha256=" + String(repeating: "z", count: 64)),
        ("truncated", String(signature(WebhookRelayTests.push).dropLast(2))),
        ("sha1 prefix", "sha1=" + String(signature(WebhookRelayTests.push).dropFirst("sha256=".count))),
        ("empty", ""),
    ])
    func `a missing or wrong signature is 401 with a JSON body`(label: String, signature: String?) async throws {
        try await withRelay { client in
            let response = try await client.post(
                "/webhook/github", body: Array(Self.push.utf8), headerFields: headers(event: "push", signature: signature))
            #expect(response.status == .unauthorized, "\(label): \(response)")
            #expect(response.headerFields[.contentType]?.hasPrefix("application/json") == true)
            let reply = try response.decode(ReplyBody.self)
            #expect(reply.status == "error")
        }
    }

    @Test func `a signature over another body is 401`() async throws {
        try await withRelay { client in
            let tampered = Self.push.replacingOccurrences(of: "octocat", with: "mallory")
            let response = try await client.post(
                "/webhook/github", body: Array(tampered.utf8), headerFields: headers(event: "push", signature: signature(Self.push)))
            #expect(response.status == .unauthorized)
        }
    }

    @Test func `ping is 200 pong`() async throws {
        let body = #"{"zen":"Keep it logically awesome.","hook_id":1}"#
        try await withRelay { client in
            let response = try await client.post(
                "/webhook/github", body: Array(body.utf8), headerFields: headers(event: "ping", signature: signature(body)))
            #expect(response.status == .ok)
            #expect(try response.decode(ReplyBody.self).status == "pong")
        }
    }

    @Test(arguments: ["issues", "pull_request", ""])
    func `any other event is 202 ignored`(event: String) async throws {
        let body = #"{"action":"opened"}"#
        try await withRelay { client in
            let response = try await client.post(
                "/webhook/github", body: Array(body.utf8),
                headerFields: headers(event: event.isEmpty ? nil : event, signature: signature(body)))
            #expect(response.status == .accepted)
            #expect(try response.decode(ReplyBody.self).status == "ignored")
        }
    }

    @Test(arguments: [#"{"ref":"refs/heads/main","pusher":"#, "not json", #"{"ref":"refs/heads/main"}"#, "[]"])
    func `a malformed push payload is 400`(body: String) async throws {
        try await withRelay { client in
            let response = try await client.post(
                "/webhook/github", body: Array(body.utf8), headerFields: headers(event: "push", signature: signature(body)))
            #expect(response.status == .badRequest, "\(body): \(response)")
            #expect(try response.decode(ReplyBody.self).status == "error")
        }
    }

    /// GitHub's documented test vector for X-Hub-Signature-256.
    @Test func `the signature matches GitHub's documented example`() {
        #expect(
            WebhookSignature.header(for: Array("Hello, World!".utf8), secret: "It's a Secret to Everybody")
                == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        #expect(
            WebhookSignature.isValid(
                header: "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
                body: Array("Hello, World!".utf8), secret: Array("It's a Secret to Everybody".utf8)))
    }
}

/// What every `POST /webhook/github` answer holds.
private struct ReplyBody: Decodable {
    var status: String
    var message: String?
    var id: String?
}

/// `X-Hub-Signature-256` for `body`, computed here with swift-crypto (independently of the
/// relay's own helper).
private func signature(_ body: String, secret: String = WebhookRelayTests.secret) -> String {
    let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
    return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
}

private func headers(event: String?, signature: String?) -> HTTPFields {
    var fields: HTTPFields = [.contentType: "application/json"]
    if let event { fields[HTTPField.Name("X-GitHub-Event")!] = event }
    if let signature { fields[HTTPField.Name("X-Hub-Signature-256")!] = signature }
    return fields
}

/// A fresh relay on 127.0.0.1 and a free port for `body`, shut down afterwards.
private func withRelay(_ body: (TestClient) async throws -> Void) async throws {
    var logger = Logger(label: "webhook-relay-tests")
    logger.logLevel = .critical
    let app = try Application(router: Router(), configuration: .init(host: "127.0.0.1", port: 0), logger: logger)
    WebhookRelayRoutes.install(on: app, secret: WebhookRelayTests.secret)
    try await app.test(.live) { client in try await body(client) }
}

/// Replays and oversized bodies (issue 12).
@Suite(.timeLimit(.minutes(1)))
struct WebhookRelayReplayTests {
    static let deliveryField = HTTPField.Name("X-GitHub-Delivery")!

    private func signedPush(_ body: String, delivery: String?) -> HTTPFields {
        var fields = headers(event: "push", signature: signature(body))
        if let delivery { fields[Self.deliveryField] = delivery }
        return fields
    }

    @Test func `a replayed delivery is answered 200 duplicate and published once`() async throws {
        try await withRelay { client in
            let stream = try await client.sse("/stream")
            defer { stream.close() }
            let body = Array(WebhookRelayTests.push.utf8)
            let first = try await client.post(
                "/webhook/github", body: body, headerFields: signedPush(WebhookRelayTests.push, delivery: "d-1"))
            #expect(try first.decode(ReplyBody.self).status == "published")
            // The same delivery again, and the same signed body under a fresh id (the id is not signed).
            for delivery in ["d-1", "d-2", nil] {
                let again = try await client.post(
                    "/webhook/github", body: body, headerFields: signedPush(WebhookRelayTests.push, delivery: delivery))
                #expect(again.status == .ok)
                #expect(try again.decode(ReplyBody.self).status == "duplicate", "\(delivery ?? "no id")")
            }
            // A different push under the first id is a replay of that id too.
            let other = #"{"ref":"refs/heads/dev","pusher":{"name":"ada"}}"#
            let reused = try await client.post("/webhook/github", body: Array(other.utf8), headerFields: signedPush(other, delivery: "d-1"))
            #expect(try reused.decode(ReplyBody.self).status == "duplicate")
            // A new delivery goes through: the stream gets exactly two events.
            let fresh = try await client.post("/webhook/github", body: Array(other.utf8), headerFields: signedPush(other, delivery: "d-3"))
            #expect(try fresh.decode(ReplyBody.self).status == "published")
            let events = try await stream.events(2)
            let messages = try events.map { try JSONDecoder().decode([String: String].self, from: Data($0.data.utf8))["message"] }
            #expect(messages == ["octocat pushed to main", "ada pushed to dev"])
        }
    }

    @Test func `an unsigned request with a delivery id does not block the real delivery`() async throws {
        try await withRelay { client in
            var forged = headers(event: "push", signature: signature(WebhookRelayTests.push, secret: "wrong"))
            forged[Self.deliveryField] = "d-9"
            let refused = try await client.post("/webhook/github", body: Array(WebhookRelayTests.push.utf8), headerFields: forged)
            #expect(refused.status == .unauthorized)
            let real = try await client.post(
                "/webhook/github", body: Array(WebhookRelayTests.push.utf8), headerFields: signedPush(WebhookRelayTests.push, delivery: "d-9"))
            #expect(try real.decode(ReplyBody.self).status == "published")
        }
    }

    @Test func `remembered deliveries are bounded by count and age`() {
        let deliveries = RecentDeliveries(maxRememberedDeliveries: 3, retention: .seconds(60))
        let start = ContinuousClock.now
        for index in 0..<5 { #expect(deliveries.admit(deliveryID: "d\(index)", body: [UInt8(index)], now: start)) }
        #expect(deliveries.count == 3)
        // The two oldest were forgotten, the three newest are known.
        #expect(deliveries.admit(deliveryID: "d0", body: [0], now: start))
        #expect(!deliveries.admit(deliveryID: "d4", body: [99], now: start))
        #expect(!deliveries.admit(deliveryID: "other", body: [4], now: start))
        // Past the retention everything is forgotten.
        #expect(deliveries.admit(deliveryID: "d4", body: [4], now: start + .seconds(61)))
        #expect(deliveries.count == 1)
        // A delivery that failed is forgotten at once, so GitHub's retry goes through.
        #expect(deliveries.admit(deliveryID: "retry", body: [7], now: start + .seconds(61)))
        deliveries.forget(deliveryID: "retry", body: [7])
        #expect(deliveries.admit(deliveryID: "retry", body: [7], now: start + .seconds(62)))
    }

    @Test func `a body over maxBodyBytes is 413 and publishes nothing`() async throws {
        try await withRelay { client in
            let big =
                "{\"ref\":\"refs/heads/main\",\"pusher\":{\"name\":\"x\"},\"pad\":\""
                + String(repeating: "a", count: WebhookRelayRoutes.maxBodyBytes) + "\"}"
            let response = try await client.post("/webhook/github", body: Array(big.utf8), headerFields: signedPush(big, delivery: "big"))
            #expect(response.status == .contentTooLarge)
            #expect(WebhookRelayRoutes.maxBodyBytes == 1024 * 1024)
        }
    }
}
