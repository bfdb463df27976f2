// SSETestServer — the server that Rill's third-party client tests (Tests/RillClientTests) start
// as a subprocess: a browser page, a reconnecting event stream and a fixed fixture stream.
//
//   swift run SSETestServer --port 8080
//   open http://127.0.0.1:8080/            # the page: an EventSource log
//   curl -N localhost:8080/events          # 3 events, then the stream ends (clients reconnect)
//   curl -N localhost:8080/events -H 'Last-Event-ID: 3'   # continues with ids 4, 5, 6
//   curl -s localhost:8080/seen-last-event-ids            # every /events connection, as JSON
//   curl -N localhost:8080/fixture         # a finite stream exercising the encoder's edge cases
import ArgumentParser
import Rill
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to `/events`, as the server saw it.
struct EventsConnection: Codable, Sendable {
    /// The `Last-Event-ID` the client sent (header or `lastEventId` query), nil when absent.
    var lastEventID: String?
    /// When the connection's stream started, in milliseconds since the server started.
    var startedAtMilliseconds: Int
    /// When its stream ended (the handler returned), nil while it is open.
    var endedAtMilliseconds: Int?
}

/// Every `/events` connection, in arrival order; shared by all handlers.
final class ConnectionLog: Sendable {
    private let start = ContinuousClock.now
    private let connections = Mutex<[EventsConnection]>([])

    var all: [EventsConnection] { connections.withLock { $0 } }

    func opened(lastEventID: String?) -> Int {
        let now = milliseconds()
        return connections.withLock {
            $0.append(EventsConnection(lastEventID: lastEventID, startedAtMilliseconds: now))
            return $0.count - 1
        }
    }

    func ended(_ index: Int) {
        let now = milliseconds()
        connections.withLock { $0[index].endedAtMilliseconds = now }
    }

    private func milliseconds() -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// The events of `/fixture`, in order. Tests hold the expected decoding of exactly these.
let fixtureEvents: [ServerSentEvent] = [
    ServerSentEvent(comment: "fixture start"),
    ServerSentEvent(data: "a\rb\nc\r\nd", event: "multi", id: "1"),  // CR, LF, CRLF: 4 data lines
    ServerSentEvent(data: "before\u{2028}after", id: "2"),  // U+2028 is data, not a line break
    ServerSentEvent(data: "", event: "empty", id: "3"),  // `data:` dispatches an empty message
    ServerSentEvent(data: " leading space", id: "4"),  // written `data:  leading space`
    ServerSentEvent(data: "after empty id", id: ""),  // explicit `id:` resets the last event id
    ServerSentEvent(data: "zero", id: "0"),  // "0" is a real id
    ServerSentEvent(id: "7", retry: .milliseconds(1234)),  // no data: sets id and retry, no dispatch
    ServerSentEvent(data: "after id-only", comment: "a comment inside an event"),  // keeps id 7
    ServerSentEvent(data: "€豆腐 🎉 naïve", event: "unicode-ü", id: "ü-9"),
    ServerSentEvent(data: "trailing newline\n", id: "10"),  // the trailing LF survives
    ServerSentEvent(data: "end", event: "done", id: "11"),
]

@main
struct SSETestServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An SSE server for testing Rill against browsers and third-party clients.")

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "Events per /events connection before the stream ends.") var eventsPerConnection = 3

    func run() async throws {
        let log = ConnectionLog()
        let eventsPerConnection = self.eventsPerConnection
        let router = Router()

        router.get("/") { _, _ in
            Response(headerFields: [.contentType: "text/html; charset=utf-8"], body: .text(pageHTML))
        }

        router.get("/events") { request, context in
            // Continues after the client's Last-Event-ID; ends after a few events so that an
            // EventSource reconnects (after the `retry: 500` hint) and must send Last-Event-ID.
            let lastEventID = request.lastEventID
            let index = log.opened(lastEventID: lastEventID)
            // An id this server never sent (not a number, negative, beyond UInt32) starts over.
            let start = UInt32(lastEventID ?? "").map(Int.init) ?? 0
            return EventStream(configuration: .init(retry: .milliseconds(500), retryJitter: 0)) { stream in
                defer { log.ended(index) }
                for number in (start + 1)...(start + eventsPerConnection) {
                    let event =
                        number.isMultiple(of: 2)
                        ? ServerSentEvent(data: "tick \(number)", event: "tick", id: "\(number)")
                        : ServerSentEvent(data: "line1\nline2", id: "\(number)")
                    try await stream.send(event)
                    try await context.eventLoop.sleep(for: .milliseconds(50))
                }
            }
        }

        router.get("/seen-last-event-ids") { _, _ in log.all }

        router.get("/fixture") { _, _ in
            EventStream { stream in
                for event in fixtureEvents { try await stream.send(event) }
            }
        }

        let app = try Application(router: router, configuration: .init(host: host, port: port))
        let address = try await app.start()
        print("listening on http://\(address)")
        fflush(nil)  // stdout is a pipe when a test starts us: make the line visible now
        try await app.run()
    }
}

/// The browser page: an EventSource on /events whose every event, open and error is logged.
/// `window.rill` holds the same record for test drivers.
let pageHTML = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>Rill EventSource test</title>
    <style>
      body { font: 14px system-ui, sans-serif; margin: 1.5em; }
      pre { background: #f4f4f4; padding: 0.8em; border: 1px solid #ccc; }
      #counts span { font-weight: bold; }
    </style>
    </head>
    <body>
    <h1>Rill EventSource test</h1>
    <p id="counts">readyState <span id="state">0</span> ·
      open <span id="opens">0</span> · error <span id="errors">0</span> ·
      events <span id="count">0</span></p>
    <pre id="log"></pre>
    <script>
    const rill = { events: [], opens: 0, errors: 0 };
    window.rill = rill;
    const source = new EventSource('/events');
    window.rillSource = source;
    const log = document.getElementById('log');
    function render() {
      document.getElementById('state').textContent = source.readyState;
      document.getElementById('opens').textContent = rill.opens;
      document.getElementById('errors').textContent = rill.errors;
      document.getElementById('count').textContent = rill.events.length;
    }
    function record(event) {
      const entry = { connection: rill.opens, type: event.type, data: event.data, lastEventId: event.lastEventId };
      rill.events.push(entry);
      log.textContent += JSON.stringify(entry) + '\n';
      render();
    }
    source.addEventListener('open', () => { rill.opens += 1; log.textContent += '-- open #' + rill.opens + '\n'; render(); });
    source.addEventListener('error', () => { rill.errors += 1; log.textContent += '-- error (reconnecting)\n'; render(); });
    source.addEventListener('message', record);
    source.addEventListener('tick', record);
    render();
    </script>
    </body>
    </html>
    """#
