import Foundation
import Testing

/// Examples/Notifications in a real browser, the way the README says to try it: the page open
/// in two tabs of headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
/// Selenium through Tests/browser/notifications_two_tabs.py); a message sent from one tab must
/// appear in both. With three tabs (notifications_three_tabs.py), rill.js shares one stream.
@Suite(.timeLimit(.minutes(2)))
struct NotificationsBrowserTests {
    @Test func `a message sent from one tab appears in both tabs`() async throws {
        let screenshot = Paths.scratchDirectory().appendingPathComponent("screenshots/notifications.png")
        let senderScreenshot = Paths.scratchDirectory().appendingPathComponent("screenshots/notifications-tab1.png")
        try? FileManager.default.removeItem(at: screenshot)
        try? FileManager.default.removeItem(at: senderScreenshot)
        let message = "Deploy finished \(UUID().uuidString.prefix(8))"

        let record = try await runPageScript(
            "notifications_two_tabs.py", screenshot: screenshot, arguments: ["--timeout", "15", "--message", message], as: TwoTabsRecord.self)

        // The script checked both tabs; check the essentials again from its record.
        #expect(record.message == message)
        try #require(record.tabs.count == 2)
        for (index, tab) in record.tabs.enumerated() {
            #expect(tab.state == "connected to channel sse", "tab \(index + 1): \(tab.state)")
            #expect(tab.items.filter { $0 == message }.count == 1, "tab \(index + 1) lists \(tab.items)")
            #expect(tab.error.isEmpty, "tab \(index + 1) shows the error \(tab.error)")
        }

        for file in [screenshot, senderScreenshot] {
            let png = try Data(contentsOf: file)
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(file.path) is not a PNG")
            #expect(png.count > 5_000, "\(file.path) is suspiciously small")
        }
    }
}

extension NotificationsBrowserTests {
    /// The page runs on rill.js (Clients/js): the tabs elect a leader that holds the only stream.
    @Test func `three tabs share one stream, and the next message survives closing the leader tab`() async throws {
        let screenshot = Paths.scratchDirectory().appendingPathComponent("screenshots/notifications-three-tabs.png")
        try? FileManager.default.removeItem(at: screenshot)
        let record = try await runPageScript(
            "notifications_three_tabs.py", screenshot: screenshot, arguments: ["--timeout", "20"], as: ThreeTabsRecord.self)
        #expect(record.streamsWithThreeTabs == 1, "the server counts one stream for three tabs")
        #expect(record.streamsAfterHandover == 1)
        try #require(record.tabs.count == 2)
        for tab in record.tabs {
            #expect(tab.items.filter { $0 == record.first }.count == 1, "\(tab.items)")
            #expect(tab.items.filter { $0 == record.second }.count == 1, "\(tab.items)")
            #expect(tab.state == "connected to channel sse")
        }
        #expect(record.tabs.filter(\.leader).count == 1)
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(screenshot.path) is not a PNG")
    }
}

/// What notifications_three_tabs.py prints.
struct ThreeTabsRecord: Decodable, Sendable {
    struct Tab: Decodable, Sendable {
        var state: String
        var items: [String]
        var leader: Bool
    }

    var first: String
    var second: String
    var tabs: [Tab]
    var streamsWithThreeTabs: Int
    var streamsAfterHandover: Int
}

/// Starts Examples/Notifications, runs the browser script `name` on its page (`URL SCREENSHOT
/// arguments…`) and decodes the JSON record it prints last.
private func runPageScript<Record: Decodable & Sendable>(
    _ name: String, screenshot: URL, arguments: [String], as type: Record.Type
) async throws -> Record {
    try await withExampleServer("Notifications") { server in
        let output = try await runProcess(
            Paths.python + [Paths.browserScript(name).path, "\(server.baseURL)/", screenshot.path] + arguments, timeout: .seconds(100))
        try #require(
            output.status == 0 && output.reason == .exit && !output.timedOut,
            "\(name): \(output.summary)\n--- server log ---\n\(server.standardError)")
        let lastLine = try #require(output.standardOutput.split(separator: "\n").last)
        return try JSONDecoder().decode(Record.self, from: Data(lastLine.utf8))
    }
}

/// What notifications_two_tabs.py prints: the message and what each tab showed.
struct TwoTabsRecord: Decodable, Sendable {
    struct Tab: Decodable, Sendable {
        var state: String
        var error: String
        var items: [String]
    }

    var message: String
    var tabs: [Tab]
}
