import Foundation
import Testing

/// Examples/Notifications in a real browser, the way the README says to try it: the page open
/// in two tabs of headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
/// Selenium through Tests/browser/notifications_two_tabs.py); a message sent from one tab must
/// appear in both.
@Suite(.timeLimit(.minutes(2)))
struct NotificationsBrowserTests {
    @Test func `a message sent from one tab appears in both tabs`() async throws {
        let screenshot = Paths.scratchDirectory().appendingPathComponent("screenshots/notifications.png")
        let senderScreenshot = Paths.scratchDirectory().appendingPathComponent("screenshots/notifications-tab1.png")
        try? FileManager.default.removeItem(at: screenshot)
        try? FileManager.default.removeItem(at: senderScreenshot)
        let message = "Deploy finished \(UUID().uuidString.prefix(8))"

        let record = try await withExampleServer("Notifications") { server in
            let output = try await runProcess(
                Paths.python + [
                    Paths.browserScript("notifications_two_tabs.py").path, "\(server.baseURL)/", screenshot.path,
                    "--timeout", "15", "--message", message,
                ],
                timeout: .seconds(90))
            try #require(
                output.status == 0 && output.reason == .exit && !output.timedOut,
                "notifications_two_tabs.py: \(output.summary)\n--- server log ---\n\(server.standardError)")
            let lastLine = try #require(output.standardOutput.split(separator: "\n").last)
            return try JSONDecoder().decode(TwoTabsRecord.self, from: Data(lastLine.utf8))
        }

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
