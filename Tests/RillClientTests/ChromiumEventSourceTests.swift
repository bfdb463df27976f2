import Foundation
import Rill
import Testing

/// A real browser's `EventSource` against Rill: headless Chromium (Debian's `chromium` and
/// `chromium-driver`) driven by Selenium through Tests/browser/eventsource_test.py.
///
/// `/events` ends its stream after 3 events, so the browser must reconnect (after the stream's
/// `retry: 500`) and send `Last-Event-ID`; the server records what each connection sent.
@Suite(.timeLimit(.minutes(2)))
struct ChromiumEventSourceTests {
    @Test func `Chromium reconnects with Last-Event-ID and receives named and unnamed events`() async throws {
        let screenshot = Paths.scratchDirectory().appendingPathComponent("screenshots/eventsource.png")
        try? FileManager.default.removeItem(at: screenshot)

        let (page, seen) = try await withTestServer { server in
            let output = try await runProcess(
                Paths.python + [
                    Paths.browserScript("eventsource_test.py").path, "\(server.baseURL)/", screenshot.path,
                    "--timeout", "15", "--min-events", "7", "--min-connections", "3",
                ],
                timeout: .seconds(90))
            try #require(
                output.status == 0 && output.reason == .exit && !output.timedOut,
                "eventsource_test.py: \(output.summary)\n--- server log ---\n\(server.standardError)")
            let lastLine = try #require(output.standardOutput.split(separator: "\n").last)
            let page = try JSONDecoder().decode(PageRecord.self, from: Data(lastLine.utf8))
            return (page, try await seenConnections(port: server.port))
        }

        // The script checked every event; check the essentials again from its record.
        #expect(page.events.count >= 7)
        #expect(page.opens >= 3)
        #expect(page.events.map(\.message) == (1...page.events.count).map(expectedEvent(id:)))
        #expect(Set(page.events.map(\.type)) == ["message", "tick"])

        // One server-side record per browser connection (a late extra one is possible: the
        // browser may have started reconnecting just before the script closed it).
        try #require(seen.count >= page.opens, "server saw \(seen.count) connections, the page \(page.opens)")
        #expect(seen[0].lastEventID == nil, "the first connection sends no Last-Event-ID")
        for connection in 2...page.opens {
            // The id of the last event the browser received on the previous connection.
            let lastSeenBefore = page.events.last { $0.connection == connection - 1 }?.lastEventId
            #expect(
                seen[connection - 1].lastEventID == lastSeenBefore,
                "connection \(connection) sent Last-Event-ID \(seen[connection - 1].lastEventID ?? "nil")")

            // `retry: 500` was honoured: Chromium's own default reconnection time is 3 s.
            if let ended = seen[connection - 2].endedAtMilliseconds {
                let gap = seen[connection - 1].startedAtMilliseconds - ended
                #expect((400..<2500).contains(gap), "reconnected \(gap) ms after the stream ended; retry was 500 ms")
            }
        }

        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(screenshot.path) is not a PNG")
        #expect(png.count > 5_000, "\(screenshot.path) is suspiciously small")
    }
}

/// The page's `window.rill`, as eventsource_test.py prints it.
struct PageRecord: Decodable, Sendable {
    struct Event: Decodable, Sendable {
        var connection: Int
        var type: String
        var data: String
        var lastEventId: String

        var message: MessageEvent { MessageEvent(type: type, data: data, lastEventID: lastEventId) }
    }

    var events: [Event]
    var opens: Int
    var errors: Int
}
