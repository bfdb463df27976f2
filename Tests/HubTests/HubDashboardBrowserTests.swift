import Foundation
import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's `chromium` and
/// `chromium-driver`, driven by Selenium through Tests/HubTests/browser/hub_dashboard.py) opens
/// `GET /` while events are published; the page must show the numbers and draw both lines.
@Suite(.timeLimit(.minutes(2)))
struct HubDashboardBrowserTests {
    static var browserInstalled: Bool {
        ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    // `make test` installs what this needs; it never skips (a missing tool is a failure).
    @Test func `the dashboard draws connections and delivery rate`() async throws {
        let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("rill-hub-dashboard-\(getpid()).png")
        try? FileManager.default.removeItem(at: screenshot)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/hub_dashboard.py")
        let app = try hub(statsInterval: .milliseconds(250))
        let record = try await app.test(.live) { client in
            let port = try #require(client.port)
            let streams = try await (0..<3).asyncMap { n in try await client.sse("/stream?channel=c\(n)") }
            #expect(await eventually { await subscriptions(app) == 3 })
            // Publish while the browser watches: a delivery rate to draw.
            let publisher = Task {
                var n = 0
                while !Task.isCancelled {
                    n += 1
                    _ = try? await client.post("/publish?channel=c\(n % 3)", text: "event \(n)")
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            defer { publisher.cancel() }
            let browser = try ChildProcess(
                [
                    "python3", script.path, "http://127.0.0.1:\(port)/", screenshot.path, "--timeout", "30", "--samples", "6",
                    "--published", "20",
                ], logPrefix: "hub-browser")
            let ended = try await withDeadline(.seconds(90), "hub_dashboard.py") { browser.waitForExit(timeout: .seconds(80)) }
            publisher.cancel()
            for stream in streams { stream.close() }
            try #require(ended == "exit status 0", "hub_dashboard.py: \(ended ?? "timed out")\n\(browser.standardError)")
            let line = try #require(browser.standardOutput.split(separator: "\n").last)
            return try JSONDecoder().decode(DashboardRecord.self, from: Data(line.utf8))
        }
        #expect(record.state.hasPrefix("live"), "\(record.state)")
        #expect(record.samples >= 6)
        #expect((Int(record.numbers["published"] ?? "") ?? 0) >= 20, "\(record.numbers)")
        #expect((Int(record.numbers["subscribers"] ?? "") ?? 0) == 3, "\(record.numbers)")
        #expect((Int(record.numbers["connections"] ?? "") ?? 0) >= 4, "\(record.numbers)")
        // Each loop's connections ("3 / 2"), one figure per loop, adding up to the total.
        let perLoop = (record.numbers["loops"] ?? "").split(separator: " / ").compactMap { Int($0) }
        #expect(perLoop.count == app.eventLoops.count && perLoop.reduce(0, +) == Int(record.numbers["connections"] ?? ""), "\(record.numbers)")
        #expect(record.connectionsPixels > 30, "the connections line")
        #expect(record.ratePixels > 30, "the delivery-rate line")
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 5_000)
    }
}

/// What hub_dashboard.py prints.
struct DashboardRecord: Decodable {
    var state: String
    var numbers: [String: String]
    var samples: Int
    var connectionsPixels: Int
    var ratePixels: Int
}

extension Range where Bound == Int {
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for value in self { result.append(try await transform(value)) }
        return result
    }
}
