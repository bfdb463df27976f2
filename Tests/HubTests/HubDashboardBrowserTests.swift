import Foundation
import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's `chromium` and
/// `chromium-driver`, driven by Selenium through Tests/HubTests/browser/hub_dashboard.py) opens
/// `GET /` on a hub holding over 1,000 channels while events are published; the page must show
/// the numbers and draw both lines, find a channel made after it opened through its search box,
/// follow it in the live tail, publish `<b>x</b>` through its form and show it as text. The
/// screenshot is kept in `.build/screenshots/hub-dashboard.png`.
@Suite(.timeLimit(.minutes(3)))
struct HubDashboardBrowserTests {
    static var browserInstalled: Bool {
        ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Where browser tests leave their screenshots: `.build/screenshots/` of the package.
    static var screenshots: URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent(".build/screenshots")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    // `make test` installs what this needs; it never skips (a missing tool is a failure).
    @Test func `the dashboard shows the numbers, the channels, a live tail and publishes`() async throws {
        let screenshot = Self.screenshots.appendingPathComponent("hub-dashboard.png")
        try? FileManager.default.removeItem(at: screenshot)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/hub_dashboard.py")
        let app = try hub(statsInterval: .milliseconds(250))
        let made = "made-during-the-test-\(getpid())"
        let record = try await app.test(.live) { client in
            let port = try #require(client.port)
            // 1,000 channels with history before the page opens.
            for n in 0..<1000 { _ = try await app.publish("seed \(n)", channel: "load/\(n)") }
            let streams = try await (0..<3).asyncMap { n in try await client.sse("/stream?channel=c\(n)") }
            #expect(await eventually { await subscriptions(app) == 3 })
            // Publish while the browser watches: a delivery rate to draw; after a while, a channel
            // of its own appears (one publish, among 1,000 other channels).
            let publisher = Task {
                var n = 0
                while !Task.isCancelled {
                    n += 1
                    _ = try? await client.post("/publish?channel=c\(n % 3)", text: "event \(n)")
                    if n == 100 { _ = try? await client.post("/publish?channel=\(made)", text: "hello") }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            defer { publisher.cancel() }
            let browser = try ChildProcess(
                [
                    "python3", script.path, "http://127.0.0.1:\(port)/", screenshot.path, "--channel", made, "--timeout", "60",
                    "--samples", "6", "--published", "1110", "--channels", "1004",
                ], logPrefix: "hub-browser")
            let ended = try await withDeadline(.seconds(120), "hub_dashboard.py") { browser.waitForExit(timeout: .seconds(110)) }
            publisher.cancel()
            for stream in streams { stream.close() }
            try #require(ended == "exit status 0", "hub_dashboard.py: \(ended ?? "timed out")\n\(browser.standardError)")
            let line = try #require(browser.standardOutput.split(separator: "\n").last)
            return try JSONDecoder().decode(DashboardRecord.self, from: Data(line.utf8))
        }
        #expect(record.state.hasPrefix("live"), "\(record.state)")
        #expect(record.samples >= 6)
        #expect(number(record.numbers["published"]) >= 1110, "\(record.numbers)")
        #expect(number(record.numbers["subscribers"]) >= 3, "\(record.numbers)")
        #expect(number(record.numbers["channels"]) >= 1004, "\(record.numbers)")
        #expect(number(record.numbers["connections"]) >= 4, "\(record.numbers)")
        // Each loop's connections ("3 / 2"), one figure per loop, adding up to the total.
        let perLoop = (record.numbers["loops"] ?? "").split(separator: " / ").compactMap { Int($0) }
        #expect(perLoop.count == app.eventLoops.count && perLoop.reduce(0, +) == number(record.numbers["connections"]), "\(record.numbers)")
        // The server's latency, as milliseconds.
        #expect(record.numbers["p50"]?.hasSuffix(" ms") == true && record.numbers["p99"]?.hasSuffix(" ms") == true, "\(record.numbers)")
        #expect(record.connectionsPixels > 30, "the connections line")
        #expect(record.ratePixels > 30, "the delivery-rate line")
        // The search found the channel among a thousand; the form published to it (the tail
        // was its subscriber); the tail shows the markup as text, with no element made of it.
        #expect(record.found, "\(record.hint)")
        #expect(record.publishResult.contains("1 subscriber"), "\(record.publishResult)")
        #expect(record.tailTexts.first == "<b>x</b>", "\(record.tailTexts)")
        #expect(record.tailBoldElements == 0)
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 5_000)
    }

    @Test func `a dashboard the hub refuses says so and comes back once a place is free`() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/hub_dashboard_refused.py")
        let signal = FileManager.default.temporaryDirectory.appendingPathComponent("rill-dashboard-refused-\(getpid())")
        try? FileManager.default.removeItem(at: signal)
        defer { try? FileManager.default.removeItem(at: signal) }
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, statsInterval: .milliseconds(250), maxStatsStreams: 1))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // The hub's only place is taken until the page has shown its refusal.
            let held = try await client.sse("/stats")
            #expect(held.status == .ok)
            let browser = try ChildProcess(
                ["python3", script.path, "http://127.0.0.1:\(port)/", signal.path, "--timeout", "45"], logPrefix: "hub-browser")
            #expect(await eventually(within: .seconds(45)) { FileManager.default.fileExists(atPath: signal.path) })
            held.close()
            let ended = try await withDeadline(.seconds(60), "hub_dashboard_refused.py") { browser.waitForExit(timeout: .seconds(55)) }
            try #require(ended == "exit status 0", "hub_dashboard_refused.py: \(ended ?? "timed out")\n\(browser.standardError)")
            #expect(browser.standardOutput.contains("too many dashboards"), "\(browser.standardOutput)")
        }
    }

    /// A number the page shows with thousands separators ("1,004"); -1 if none.
    private func number(_ text: String?) -> Int { Int((text ?? "").replacingOccurrences(of: ",", with: "")) ?? -1 }
}

/// What hub_dashboard.py prints.
struct DashboardRecord: Decodable {
    var state: String
    var numbers: [String: String]
    var samples: Int
    var connectionsPixels: Int
    var ratePixels: Int
    var rows: Int
    var hint: String
    var found: Bool
    var publishResult: String
    var tailTexts: [String]
    var tailBoldElements: Int
    var tailState: String
}

extension Range where Bound == Int {
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for value in self { result.append(try await transform(value)) }
        return result
    }
}
