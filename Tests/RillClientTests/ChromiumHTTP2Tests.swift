import Foundation
import Rill
import RillTestSupport
import Testing

/// The browser limit HTTP/2 lifts: headless Chromium (trusting nothing, told to ignore the
/// throwaway certificate) opens a page with 20 `EventSource`s to one HTTPS origin
/// (Tests/browser/many_eventsources.py). Over HTTP/2 all 20 share one connection and receive the
/// published event; over HTTP/1.1 (the control: the same server with `h2` not offered) Chromium
/// opens at most six connections per origin, so only six streams open. Screenshots go to
/// `<scratch>/screenshots/http2-eventsources.png` and `http1-eventsources.png`.
@Suite(.timeLimit(.minutes(2)))
struct ChromiumHTTP2Tests {
    @Test func `twenty EventSources on one origin all receive the event over HTTP 2, six over HTTP 1 1`() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }

        let overHTTP2 = try await openMany(certificates: certificates, offeringHTTP2: true, screenshot: "http2-eventsources.png")
        #expect(overHTTP2.protocol == "h2")
        #expect(overHTTP2.opened == 20)
        #expect(overHTTP2.received == 20)

        let overHTTP1 = try await openMany(certificates: certificates, offeringHTTP2: false, screenshot: "http1-eventsources.png")
        #expect(overHTTP1.protocol == "http/1.1")
        #expect(overHTTP1.opened == 6, "Chromium's six connections per origin")
        #expect(overHTTP1.received == overHTTP1.opened)
    }
}

/// What the page recorded.
private struct ManyRecord: Decodable {
    var opened: Int
    var received: Int
    var `protocol`: String
}

/// Serves the page over TLS (with or without `h2` in ALPN) and runs the browser against it.
private func openMany(certificates: TestCertificates, offeringHTTP2: Bool, screenshot: String) async throws -> ManyRecord {
    let router = Router()
    router.get("/") { _, _ in Response(headerFields: [.contentType: "text/html; charset=utf-8"], body: .text(manyPage)) }
    router.get("/events") { request, context in try await context.eventStream(for: request, channels: ["many"]) }
    router.post("/publish") { request, context in
        let receipt = try await context.publish(ServerSentEvent(data: request.bodyText), channel: "many")
        return Response(body: .text("\(receipt.subscriberCount)"))
    }
    var configuration = ServerConfiguration(eventLoopCount: 1, host: "127.0.0.1", port: 0)
    configuration.tls = TLSConfiguration(certificateChainPath: certificates.certificatePath, privateKeyPath: certificates.keyPath)
    configuration.http2.isEnabledOverTLS = offeringHTTP2
    let app = try Application(router: router, configuration: configuration)
    let address = try await app.start()
    let base = "https://127.0.0.1:\(address.port)"
    let path = Paths.scratchDirectory().appendingPathComponent("screenshots/\(screenshot)")
    try? FileManager.default.removeItem(at: path)
    let output = try await runProcess(
        Paths.python + [Paths.browserScript("many_eventsources.py").path, "\(base)/?n=20", "\(base)/publish", path.path],
        timeout: .seconds(60))
    await app.shutdown()
    try #require(output.status == 0 && !output.timedOut, "many_eventsources.py: \(output.summary)")
    let line = try #require(output.standardOutput.split(separator: "\n").last)
    return try JSONDecoder().decode(ManyRecord.self, from: Data(line.utf8))
}

/// `?n=` EventSources to `/events` (each with its own query, so none is shared), and the record
/// the script reads.
private let manyPage = """
    <!doctype html>
    <meta charset="utf-8">
    <title>Many EventSources</title>
    <h1>Many EventSources on one origin</h1>
    <p id="summary">opening…</p>
    <ol id="streams"></ol>
    <script>
    const n = Number(new URLSearchParams(location.search).get("n") || 20);
    const navigation = performance.getEntriesByType("navigation")[0];
    window.many = { opened: 0, received: 0, protocol: navigation ? navigation.nextHopProtocol : "" };
    const rows = [];
    function render() {
      document.getElementById("summary").textContent =
        `${window.many.opened} of ${n} open, ${window.many.received} received the event, page over ${window.many.protocol}`;
    }
    for (let i = 0; i < n; i++) {
      const row = document.createElement("li");
      row.textContent = `stream ${i + 1}: waiting`;
      document.getElementById("streams").appendChild(row);
      const source = new EventSource(`/events?stream=${i}`);
      let opened = false, received = false;
      source.onopen = () => {
        if (!opened) { opened = true; window.many.opened++; row.textContent = `stream ${i + 1}: open`; render(); }
      };
      source.onmessage = (event) => {
        if (!received) { received = true; window.many.received++; row.textContent = `stream ${i + 1}: ${event.data}`; render(); }
      };
    }
    render();
    </script>
    """
