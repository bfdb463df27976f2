import Foundation
import HubCore
import Rill
import RillJWT
import RillTestSupport
import RillTesting
import Synchronization
import Testing

/// Clients/js/rill.js in headless Chromium (Tests/HubTests/browser/rill_js_client.py): the
/// watchdog reopens a stalled stream, a gap is reported once, a token that expires every 2 s is
/// refreshed without losing an event, the EventSource transport resumes, the parser is exact.
/// The three-tab sharing check is in RillClientTests/NotificationsBrowserTests (the
/// Notifications example's page).
@Suite(.timeLimit(.minutes(2)))
struct RillJSBrowserTests {
    @Test func `the watchdog reopens a stream that went silent and receives what was published meanwhile`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient("watchdog", port: try #require(client.port), as: WatchdogRecord.self)
        }
        #expect(record.events == ["before the stall", "during the stall 1", "during the stall 2"])
        let connections = server.connections
        // 1: the first stream; 2: the stalled one (after reconnect()); 3: the watchdog's.
        try #require(connections.count == 3, "\(connections)")
        #expect(connections[1].stalled && !connections[2].stalled)
        #expect(connections[2].lastEventID == record.ids.first, "the watchdog's stream resumes after the last id")
        // Heartbeats every 500 ms: the watchdog fires after 1 s of silence (loose upper bound:
        // a loaded machine; the lower bound shows it was the watchdog, not an error retry).
        let silence = connections[2].openedAfterStartMilliseconds - connections[1].openedAfterStartMilliseconds
        #expect((900...4000).contains(silence), "reopened \(silence) ms after the stalled stream opened")
    }

    @Test func `a client resuming from an id older than the history gets onGap once`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 3)
        let record = try await app.test(.live) { client in
            try await runClient("gap", port: try #require(client.port), as: GapRecord.self)
        }
        #expect(record.gaps.count == 1, "\(record.gaps)")
        #expect(record.gaps.first?.lastEventId == "1")
        #expect(record.events == ["event 4", "event 5", "event 6", "event 7"])
        #expect(server.connections.count == 3, "subscribe and two reconnects")
        // The reconnects resume after the last id with no new gap; a stream with nothing to replay
        // opens with its position (~6: after event 6), which the next reconnect sends.
        #expect(server.connections.last?.lastEventID == "~6", "the reconnects resume after the last id, with no new gap")
    }

    @Test func `a token that expires every 2 s is refreshed and every event arrives in order`() async throws {
        let jwt = try await JWTAuthorizer(keys: [.hmac(secret: hubJWTSecret)])
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, heartbeat: .seconds(1), token: "static-publisher", jwt: jwt))
        let record = try await app.test(.live) { client in
            try await runClient("token", port: try #require(client.port), as: TokenRecord.self, secret: hubJWTSecret)
        }
        #expect(record.events == record.sent)
        #expect(record.sent.count == 24)
        #expect(record.tokens >= 3, "24 events over 6 s with 2 s tokens: the callback ran \(record.tokens) times")
    }

    @Test func `a token refresh before any event arrived loses nothing published while the new stream opens`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient("refresh-gap", port: try #require(client.port), as: RefreshRecord.self, secret: hubJWTSecret)
        }
        #expect(record.events == ["during the refresh", "after the refresh"])
        let connections = server.connections
        try #require(connections.count >= 2, "\(connections)")
        // No event had arrived: the refresh resumes from the first stream's position (the old
        // stream, still open, carries the event too; it is delivered once).
        #expect(connections[1].lastEventID == "~0")
    }

    @Test(arguments: ["tabs", "tabs-without-locks"])
    func `two tabs on different channels share one stream of both, and the other tab takes over`(scenario: String) async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient(scenario, port: try #require(client.port), as: TabsRecord.self)
        }
        // The server's events do not name their channel: every tab gets the union.
        for events in record.tabs { #expect(events.sorted() == ["news 1", "sports 1"], "\(record.tabs)") }
        #expect(record.remaining.sorted() == ["news 1", "sports 1", "sports 2"])
    }

    @Test func `a reloaded page resumes after the last id it received`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient("reload", port: try #require(client.port), as: ReloadRecord.self)
        }
        #expect(record.before == ["event 1", "event 2"])
        #expect(record.after == ["event 3"], "published while the page reloaded: replayed, and nothing before it")
        try #require(server.connections.count == 2, "\(server.connections)")
        #expect(server.connections[1].lastEventID == "2")
    }

    @Test func `the EventSource transport resumes with the lastEventId query`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient("eventsource", port: try #require(client.port), as: WatchdogRecord.self)
        }
        #expect(record.events == ["event 1", "event 2", "event 3"])
        try #require(server.connections.count == 2, "\(server.connections)")
        #expect(server.connections[0].lastEventID == nil)
        #expect(server.connections[1].lastEventID == record.ids[1], "a new EventSource sends the last id as ?lastEventId=")
    }

    @Test func `Chromium's own EventSource keeps a stream's opening position and resumes from it before any event`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient("native-position", port: try #require(client.port), as: PositionRecord.self)
        }
        #expect(record.events == ["while away"])
        #expect(record.ids == [record.published], "the replayed event carries its id")
        let connections = server.connections
        try #require(connections.count >= 2, "\(connections)")
        #expect(connections[0].lastEventID == nil)
        // Nothing was published before the first stream: its position was ~0, and the browser
        // sent it back although no event had been dispatched (an id with no data sets it).
        #expect(connections[1].lastEventID == "~0")
    }

    @Test func `rill.js keeps the opening position, so a reconnect before the first event misses nothing`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient("fetch-position", port: try #require(client.port), as: PositionRecord.self)
        }
        #expect(record.position == "~3")
        #expect(
            record.events == ["while reconnecting", "after"], "published while the new stream waited to subscribe: replayed from the position")
        #expect(record.ids == ["1", "2"] && record.published == "1", "the publisher's own ids, below the position, are not taken for repeats")
        try #require(server.connections.count == 2, "\(server.connections)")
        #expect(server.connections[1].lastEventID == "~3")
    }

    @Test func `publishers' own ids are never taken for repeats, and a server notice that carries an id is only data`() async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            // The server refuses its own event names from publishers.
            let refused = try await client.post("/publish?channel=news&event=rill-reconnect", text: "{}")
            #expect(refused.status == .badRequest)
            #expect(refused.bodyText.contains("reserved"))
            return try await runClient("publisher-ids", port: try #require(client.port), as: PublisherIDsRecord.self)
        }
        #expect(record.events == ["big id", "after the big id", "seven", "after seven", "{}", "last"])
        #expect(record.types[4] == "rill-reconnect")
        #expect(record.connections == 1, "the stream was not reopened")
    }

    @Test(arguments: ["notices", "notices-eventsource"])
    func `the server's own events are obeyed after a block that set an id, which they inherit`(scenario: String) async throws {
        let server = ClientTestServer()
        let app = try server.application(historyCount: 100)
        let record = try await app.test(.live) { client in
            try await runClient(scenario, port: try #require(client.port), as: NoticesRecord.self)
        }
        // `rill-history-gap` after the opening position: onGap, not an event for the app.
        #expect(record.gaps.map(\.lastEventId) == ["from-an-earlier-process"])
        #expect(record.events == ["first", "second"])
        #expect(record.types.allSatisfy { !$0.hasPrefix("rill-") }, "\(record.types)")
        // `rill-reconnect` after an event: a new stream, resuming after that event.
        #expect(record.connections == 2)
        #expect(record.resumedFrom == record.first)
    }

    @Test func `the fetch transport's parser follows the event-stream spec, in whole and split input`() async throws {
        let app = try ClientTestServer().application(historyCount: 1)
        let record = try await app.test(.live) { client in
            try await runClient("parser", port: try #require(client.port), as: ParserRecord.self)
        }
        #expect(record.whole == record.characters)
        #expect(record.whole.events.map(\.data) == ["a\nb", "", "c\n two spaces"])
    }
}

/// Runs rill_js_client.py `scenario` against 127.0.0.1:`port` and decodes its record.
private func runClient<Record: Decodable & Sendable>(
    _ scenario: String, port: Int, as type: Record.Type, secret: String? = nil
) async throws -> Record {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/rill_js_client.py")
    let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("rill-screenshots/rill-js-\(scenario).png")
    var arguments = ["python3", script.path, scenario, "http://127.0.0.1:\(port)", screenshot.path, "--timeout", "20"]
    if let secret { arguments += ["--secret", secret] }
    let browser = try ChildProcess(arguments, logPrefix: "rill-js-\(scenario)")
    let ended = try await withDeadline(.seconds(100), "rill_js_client.py") { browser.waitForExit(timeout: .seconds(90)) }
    try #require(ended == "exit status 0", "rill_js_client.py \(scenario): \(ended ?? "timed out")\n\(browser.standardError)")
    let line = try #require(browser.standardOutput.split(separator: "\n").last)
    return try JSONDecoder().decode(Record.self, from: Data(line.utf8))
}

/// The server of the watchdog and gap checks: `/stream` is the framework's
/// `context.eventStream` with 500 ms heartbeats, except that after `POST /stall` the next
/// stream sends its headers and a comment and then nothing, without closing (no heartbeats);
/// `POST /publish?channel=` publishes the body; `GET /presence?channel=` counts its streams;
/// `/rill.js` and `/ping` for the page.
private final class ClientTestServer: Sendable {
    struct Connection: Codable, Sendable {
        var lastEventID: String?
        var stalled: Bool
        var openedAfterStartMilliseconds: Int
    }

    private let start = ContinuousClock.now
    private let state = Mutex<(stallNext: Bool, slowOpens: Bool, connections: [Connection])>((false, false, []))

    var connections: [Connection] { state.withLock { $0.connections } }

    func application(historyCount: Int) throws -> Application {
        let router = Router()
        try router.browserClient()
        router.get("/ping") { _, _ in "pong" }
        router.post("/stall") { _, _ in
            self.state.withLock { $0.stallNext = true }
            return HTTPResponse.Status.noContent
        }
        // Every stream after the first waits 1.5 s before it subscribes (a slow reconnect).
        router.post("/slow-opens") { _, _ in
            self.state.withLock { $0.slowOpens = true }
            return HTTPResponse.Status.noContent
        }
        router.get("/connections") { _, _ in
            self.state.withLock { state in
                ConnectionsAnswer(
                    stalled: state.connections.filter(\.stalled).count, count: state.connections.count,
                    lastEventIDs: state.connections.map { $0.lastEventID ?? "" })
            }
        }
        router.post("/publish") { request, context in
            let receipt = try await context.publish(
                ServerSentEvent(data: request.bodyText, event: request.query["event"], id: request.query["id"]),
                channel: request.query["channel"] ?? "news")
            return receipt.id
        }
        router.get("/stream") { request, context in
            let elapsed = (ContinuousClock.now - self.start) / .milliseconds(1)
            let (stalled, slow, first) = self.state.withLock { state in
                let stalled = state.stallNext
                state.stallNext = false
                state.connections.append(
                    Connection(lastEventID: request.lastEventID, stalled: stalled, openedAfterStartMilliseconds: Int(elapsed)))
                return (stalled, state.slowOpens && state.connections.count > 1, state.connections.count == 1)
            }
            if slow { try await context.eventLoop.sleep(for: .milliseconds(1500)) }
            if stalled {
                return EventStream(configuration: EventStreamConfiguration(heartbeatInterval: .zero)) { stream in
                    try await stream.send(ServerSentEvent(comment: "stalled"))
                    try await context.eventLoop.sleep(for: .seconds(60))  // cancelled when the client leaves
                }
            }
            // `?farewellAfterMs=`: the first stream ends after that long with the server's
            // `rill-reconnect` (as MaxStreamAgeMiddleware ends one), which rill.js obeys at once.
            if first, let milliseconds = request.query["farewellAfterMs"].flatMap(Int.init) {
                var context = context
                let farewell = ServerSentEvent(data: #"{"reason":"max connection age"}"#, event: "rill-reconnect")
                context.limitEventStreams(to: EventStreamDeadline(.now + .milliseconds(milliseconds), finalEvent: farewell))
                return try await context.eventStream(for: request, configuration: EventStreamConfiguration(heartbeatInterval: .milliseconds(500)))
            }
            // `?endAfterMs=`: the stream ends by itself after that long, and the client reconnects
            // after `retry: 1000`.
            if let milliseconds = request.query["endAfterMs"].flatMap(Int.init) {
                var context = context
                context.limitEventStreams(to: EventStreamDeadline(.now + .milliseconds(milliseconds), finalEvent: ServerSentEvent(comment: "ends")))
                return try await context.eventStream(
                    for: request, configuration: EventStreamConfiguration(heartbeatInterval: .milliseconds(500), retry: .seconds(1), retryJitter: 0))
            }
            return try await context.eventStream(for: request, configuration: EventStreamConfiguration(heartbeatInterval: .milliseconds(500)))
        }
        let app = try Application(
            router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
            broker: .inMemory(BrokerConfiguration(historyCount: historyCount, firstSequenceNumber: 1)))
        router.get("/presence") { request, _ in try await app.presence(of: request.query["channel"] ?? "news") }
        // Straight to the broker, past the server's refusal of its own event names (what an
        // older server or another publisher on a shared broker could store).
        router.post("/publish-unchecked") { request, _ in
            let event = ServerSentEvent(data: request.bodyText, event: request.query["event"])
            return try await app.broker.publish(event, to: request.query["channel"] ?? "news").id
        }
        return app
    }
}

private struct ConnectionsAnswer: Codable, Sendable {
    var stalled: Int
    var count: Int
    var lastEventIDs: [String]
}

private struct NoticesRecord: Decodable, Sendable {
    struct Gap: Decodable, Sendable { var lastEventId: String }
    var events: [String]
    var types: [String]
    var gaps: [Gap]
    var first: String
    var resumedFrom: String
    var connections: Int
}

private struct PublisherIDsRecord: Decodable, Sendable {
    var events: [String]
    var types: [String]
    var connections: Int
}

private struct WatchdogRecord: Decodable, Sendable {
    var events: [String]
    var ids: [String]
}

private struct PositionRecord: Decodable, Sendable {
    var events: [String]
    var ids: [String]
    var published: String
    var position: String?
}

private struct GapRecord: Decodable, Sendable {
    struct Gap: Decodable, Sendable { var lastEventId: String }
    var events: [String]
    var gaps: [Gap]
}

private struct ParserRecord: Decodable, Sendable {
    struct Parsed: Decodable, Sendable, Equatable {
        struct Event: Decodable, Sendable, Equatable {
            var type: String
            var data: String
            var id: String
        }

        var events: [Event]
        var retries: [Int]
    }

    var whole: Parsed
    var characters: Parsed
}

private struct TabsRecord: Decodable, Sendable {
    var tabs: [[String]]
    var remaining: [String]
}

private struct ReloadRecord: Decodable, Sendable {
    var before: [String]
    var after: [String]
}

private struct RefreshRecord: Decodable, Sendable {
    var events: [String]
    var statuses: [String]
}

private struct TokenRecord: Decodable, Sendable {
    var events: [String]
    var sent: [String]
    var tokens: Int
}
