import Foundation
import HTTPTypes
import Rill
import Synchronization
import Testing

/// A real browser across origins: headless Chromium loads a page from `http://127.0.0.1:PORT`
/// that calls the same server as `http://localhost:PORT` — another origin — through
/// `CORSMiddleware` (Tests/browser/page_record.py). An `EventSource` with credentials receives
/// an event that a `fetch` with a JSON body and `Authorization` published (a preflight first,
/// answered before the authentication behind the middleware); a 401 is readable by the page; a
/// request with a field the middleware does not allow fails at its preflight and never reaches
/// the handler. The screenshot goes to `<scratch>/screenshots/cross-origin.png`.
@Suite(.timeLimit(.minutes(2)))
struct ChromiumCORSTests {
    @Test func `a page of another origin streams and publishes through CORSMiddleware, with credentials`() async throws {
        let counts = Counts()
        let router = Router()
        // Outermost: counts what the browser sends, preflights included.
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                if request.method == .options { counts.preflights.withLock { $0 += 1 } }
                return try await next(request, context)
            })
        router.add(
            middleware: CORSMiddleware(
                allowedOrigins: .matching { $0.hasPrefix("http://127.0.0.1:") }, exposedHeaders: [HTTPField.Name("X-Request-Id")!],
                allowsCredentials: true))
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                if request.method == .options { counts.preflightsBehind.withLock { $0 += 1 } }
                guard request.path != "/publish" || request.headerFields[.authorization] == "Bearer t" else {
                    throw HTTPError(.unauthorized, message: "publishing needs the token")
                }
                return try await next(request, context)
            })
        router.get("/") { _, _ in Response(headerFields: [.contentType: "text/html; charset=utf-8"], body: .text(crossOriginPage)) }
        router.get("/events") { request, context in try await context.eventStream(for: request, channels: ["across"]) }
        router.post("/publish", maxBodyBytes: 64 * 1024) { request, context in
            counts.publishes.withLock { $0 += 1 }
            struct Message: Decodable { var text: String }
            let message = try request.decode(Message.self)
            let receipt = try await context.publish(ServerSentEvent(data: message.text), channel: "across")
            return "\(receipt.subscriberCount)"
        }
        let record = try await pageRecord(
            of: router, at: { "http://127.0.0.1:\($0)/?api=http://localhost:\($0)" }, screenshot: "cross-origin.png",
            as: CrossOriginRecord.self)

        #expect(record.error == nil)
        #expect(record.streamOpened == true)
        #expect(record.publishStatus == 200)
        #expect(record.publishBody == "1", "the one EventSource was subscribed")
        #expect(record.received == "across origins")
        #expect(record.requestID?.isEmpty == false, "an exposed field is readable by the page")
        #expect(record.deniedStatus == 401, "an error's status is readable by the page")
        #expect(record.refused == true, "a field the middleware does not allow fails the preflight")
        #expect(record.tooLargeStatus == 413, "a body over the route's limit: the 413 is readable by the page")
        #expect(counts.preflights.withLock { $0 } >= 2, "the JSON publish and the refused request were preflighted")
        #expect(counts.preflightsBehind.withLock { $0 } == 0, "no preflight reached the authentication")
        #expect(counts.publishes.withLock { $0 } == 1, "the refused request never reached the handler")
    }
}

private final class Counts: Sendable {
    let preflights = Mutex(0)
    let preflightsBehind = Mutex(0)
    let publishes = Mutex(0)
}

/// What the page recorded.
private struct CrossOriginRecord: Decodable {
    var done: Bool?
    var error: String?
    var streamOpened: Bool?
    var publishStatus: Int?
    var publishBody: String?
    var requestID: String?
    var received: String?
    var deniedStatus: Int?
    var refused: Bool?
    var tooLargeStatus: Int?
}

/// Runs its steps against `?api=` (another origin) and keeps `window.record`.
private let crossOriginPage = """
    <!doctype html>
    <meta charset="utf-8">
    <title>Across origins</title>
    <h1>An API on another origin</h1>
    <pre id="log"></pre>
    <script>
    const api = new URLSearchParams(location.search).get("api");
    window.record = { done: false };
    function log(line) { document.getElementById("log").textContent += line + "\\n"; }
    function within(milliseconds, promise, what) {
      return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(what + " timed out")), milliseconds))]);
    }
    async function run() {
      const source = new EventSource(api + "/events", { withCredentials: true });
      await within(5000, new Promise((resolve, reject) => {
        source.onopen = resolve;
        source.onerror = () => reject(new Error("the EventSource failed (readyState " + source.readyState + ")"));
      }), "opening the EventSource");
      window.record.streamOpened = true;
      log("stream open");
      const message = new Promise((resolve) => source.addEventListener("message", (event) => resolve(event.data)));

      const response = await fetch(api + "/publish", {
        method: "POST", credentials: "include",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer t" },
        body: JSON.stringify({ text: "across origins" }),
      });
      window.record.publishStatus = response.status;
      window.record.publishBody = await response.text();
      window.record.requestID = response.headers.get("X-Request-Id");
      log("published: " + response.status);
      window.record.received = await within(5000, message, "the event");
      log("received: " + window.record.received);

      const denied = await fetch(api + "/publish", {
        method: "POST", credentials: "include", headers: { "Content-Type": "application/json" }, body: "{}",
      });
      window.record.deniedStatus = denied.status;
      log("without the token: " + denied.status);

      try {
        await fetch(api + "/publish", {
          method: "POST", headers: { "Content-Type": "application/json", "Authorization": "Bearer t", "X-Secret": "1" },
          body: JSON.stringify({ text: "must not arrive" }),
        });
        window.record.refused = false;
      } catch (error) {
        window.record.refused = true;
      }
      log("with X-Secret refused: " + window.record.refused);

      const tooLarge = await fetch(api + "/publish", {
        method: "POST", headers: { "Content-Type": "application/json", "Authorization": "Bearer t" },
        body: JSON.stringify({ text: "x".repeat(256 * 1024) }),
      });
      window.record.tooLargeStatus = tooLarge.status;
      log("over the limit: " + tooLarge.status);
      source.close();
      window.record.done = true;
    }
    run().catch((error) => { window.record.error = String(error); log("error: " + error); });
    </script>
    """
