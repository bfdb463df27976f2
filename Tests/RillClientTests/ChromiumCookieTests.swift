import Foundation
import HTTPTypes
import Rill
import Testing

/// An `EventSource` authenticated by a cookie, in a real browser: headless Chromium
/// (Tests/browser/page_record.py) loads a page whose stream is refused (401, and the browser
/// stops retrying) until a `fetch` signs in, which sets `session` with `Cookie`'s defaults
/// (`HttpOnly`: the page's script cannot read it); the next `EventSource` sends it and receives
/// an event; signing out deletes it, and the stream is refused again. The screenshot goes to
/// `<scratch>/screenshots/cookie-eventsource.png`.
@Suite(.timeLimit(.minutes(2)))
struct ChromiumCookieTests {
    @Test func `an EventSource authenticates with the cookie a sign-in set, and not after the sign-out`() async throws {
        let router = Router()
        router.get("/") { _, _ in Response(headerFields: [.contentType: "text/html; charset=utf-8"], body: .text(cookiePage)) }
        router.post("/sign-in") { _, _ in
            var response = Response(body: .text("signed in"))
            response.setCookie(Cookie(name: "session", value: "s3cr3t.token", maxAge: .seconds(600)))
            return response
        }
        router.post("/sign-out") { _, _ in
            var response = Response(body: .text("signed out"))
            response.setCookie(.expired(name: "session"))
            return response
        }
        router.get("/private") { request, context in
            guard request.cookies["session"] == "s3cr3t.token" else { throw HTTPError(.unauthorized, message: "sign in first") }
            return try await context.eventStream(for: request, channels: ["private"])
        }
        router.post("/publish") { request, context in
            let receipt = try await context.publish(ServerSentEvent(data: request.bodyText), channel: "private")
            return "\(receipt.subscriberCount)"
        }
        let record = try await pageRecord(
            of: router, at: { "http://127.0.0.1:\($0)/" }, screenshot: "cookie-eventsource.png", as: CookieRecord.self)

        #expect(record.error == nil)
        #expect(record.beforeSignIn == "closed", "refused with 401: the EventSource gave up")
        #expect(record.scriptSeesCookie == false, "HttpOnly")
        #expect(record.received == "for the signed-in")
        #expect(record.afterSignOut == "closed")
    }
}

/// What the page recorded.
private struct CookieRecord: Decodable {
    var error: String?
    var beforeSignIn: String?
    var scriptSeesCookie: Bool?
    var received: String?
    var afterSignOut: String?
}

/// Signs in and out around three `EventSource`s to `/private`, keeping `window.record`.
private let cookiePage = """
    <!doctype html>
    <meta charset="utf-8">
    <title>Cookie EventSource</title>
    <h1>An EventSource signed in by a cookie</h1>
    <pre id="log"></pre>
    <script>
    window.record = { done: false };
    function log(line) { document.getElementById("log").textContent += line + "\\n"; }
    // Opens an EventSource and resolves "open" once it is, or "closed" when the browser gives up.
    function attempt(onOpen) {
      return new Promise((resolve) => {
        const source = new EventSource("/private");
        const timer = setTimeout(() => { source.close(); resolve("timeout"); }, 5000);
        source.onopen = () => { clearTimeout(timer); onOpen ? onOpen(source, resolve) : (source.close(), resolve("open")); };
        source.onerror = () => {
          if (source.readyState === EventSource.CLOSED) { clearTimeout(timer); resolve("closed"); }
        };
      });
    }
    async function run() {
      window.record.beforeSignIn = await attempt();
      log("before signing in: " + window.record.beforeSignIn);
      await fetch("/sign-in", { method: "POST" });
      window.record.scriptSeesCookie = document.cookie.includes("session");
      window.record.received = await attempt((source, resolve) => {
        source.onmessage = (event) => { source.close(); resolve(event.data); };
        fetch("/publish", { method: "POST", body: "for the signed-in" });
      });
      log("signed in, received: " + window.record.received);
      await fetch("/sign-out", { method: "POST" });
      window.record.afterSignOut = await attempt();
      log("after signing out: " + window.record.afterSignOut);
      window.record.done = true;
    }
    run().catch((error) => { window.record.error = String(error); log("error: " + error); });
    </script>
    """
