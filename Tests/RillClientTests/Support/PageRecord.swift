import Foundation
import Rill
import Testing

/// Serves `router` on 127.0.0.1 (one loop), opens `url(port)` in headless Chromium through
/// Tests/browser/page_record.py (which waits for the page's `window.record` to be done), shuts
/// the server down and decodes what the page recorded. The screenshot goes to
/// `<scratch>/screenshots/<screenshot>`.
func pageRecord<Record: Decodable>(
    of router: Router, at url: (Int) -> String, screenshot: String, as _: Record.Type = Record.self
) async throws -> Record {
    let app = try Application(router: router, configuration: ServerConfiguration(eventLoopCount: 1, host: "127.0.0.1", port: 0))
    let address = try await app.start()
    let path = Paths.scratchDirectory().appendingPathComponent("screenshots/\(screenshot)")
    try? FileManager.default.removeItem(at: path)
    let output = try await runProcess(
        Paths.python + [Paths.browserScript("page_record.py").path, url(address.port), path.path], timeout: .seconds(60))
    await app.shutdown()
    try #require(output.status == 0 && !output.timedOut, "page_record.py: \(output.summary)")
    let line = try #require(output.standardOutput.split(separator: "\n").last)
    return try JSONDecoder().decode(Record.self, from: Data(line.utf8))
}
