import Foundation
import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

/// A browser with a JWT cookie: headless Chromium (Tests/HubTests/browser/hub_jwt_cookie.py)
/// sets `rill_token` for the hub's origin and opens `EventSource(url, {withCredentials: true})`
/// on an allowed channel (it receives the event) and on a forbidden one (403: an error, and the
/// `EventSource` closes).
@Suite(.timeLimit(.minutes(2)))
struct HubJWTBrowserTests {
    // `make test` installs what this needs; it never skips (a missing tool is a failure).
    @Test func `an EventSource with a JWT cookie receives an allowed channel and fails on a forbidden one`() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/hub_jwt_cookie.py")
        let app = try await HubJWTTests.jwtHub()
        let token = try await hubToken(subscribe: ["news/*"])
        let record = try await app.test(.live) { client in
            let port = try #require(client.port)
            let browser = try ChildProcess(
                ["python3", script.path, "http://127.0.0.1:\(port)", token, "news/today", "admin", "--timeout", "30"],
                logPrefix: "hub-jwt-browser")
            #expect(await eventually(within: .seconds(30)) { await subscriptions(app) == 1 })
            let publish: HTTPFields = [.authorization: "Bearer static-publisher"]
            _ = try await client.post("/publish?channel=admin", text: "not for the browser", headerFields: publish)
            _ = try await client.post("/publish?channel=news/today", text: "hello browser", headerFields: publish)
            let ended = try await withDeadline(.seconds(60), "hub_jwt_cookie.py") { browser.waitForExit(timeout: .seconds(50)) }
            try #require(ended == "exit status 0", "hub_jwt_cookie.py: \(ended ?? "timed out")\n\(browser.standardError)")
            let line = try #require(browser.standardOutput.split(separator: "\n").last)
            return try JSONDecoder().decode(CookieRecord.self, from: Data(line.utf8))
        }
        #expect(record.allowed == ["hello browser"])
        #expect(record.allowedState == 1, "the allowed EventSource stays open")
        #expect(record.forbiddenErrors >= 1)
        #expect(record.forbiddenState == 2, "a 403 closes the EventSource: it does not retry")
    }
}

/// What hub_jwt_cookie.py prints last.
struct CookieRecord: Decodable {
    var allowed: [String]
    var allowedState: Int
    var forbiddenErrors: Int
    var forbiddenState: Int
}
