import Foundation
import Rill
import RillTestSupport
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two `Notifications` processes sharing one real `redis-server`, driven over loopback sockets:
/// fan-out across processes, `Last-Event-ID` replay on the other process, and a Redis outage
/// that an open stream survives.
@Suite struct NotificationsClusterTests {
    @Test func `a post on one process reaches a stream on the other`() async throws {
        try await withCluster { cluster in
            let stream = try await cluster.subscribe(on: cluster.b)
            #expect(stream.status == .ok)
            #expect(stream.headerFields[.contentType]?.hasPrefix("text/event-stream") == true)

            let outcome = try await cluster.post("hello from A", to: cluster.a)
            try #require(outcome.isSuccess, "\(outcome)")
            let id = try #require(outcome.id)
            #expect(isRedisStreamID(id), "\(id)")

            let events = try await readEvents(stream, 1)
            #expect(events.map(\.type) == ["notify"])
            #expect(events.map(\.lastEventID) == [id])
            #expect(try events.map { try message(inData: $0.data) } == ["hello from A"])
            stream.close()
        }
    }

    @Test func `a client resumes on the other process with Last-Event-ID`() async throws {
        try await withCluster { cluster in
            let first = try await cluster.subscribe(on: cluster.a)
            var ids: [String] = []
            for index in 1...2 { ids.append(try await cluster.postSuccessfully("event \(index)", to: cluster.a)) }
            let seen = try await readEvents(first, 2)
            #expect(seen.map(\.lastEventID) == ids)
            let lastSeen = first.lastEventID
            #expect(lastSeen == ids[1])
            first.close()

            var missed: [String] = []
            for index in 3...5 { missed.append(try await cluster.postSuccessfully("event \(index)", to: cluster.a)) }

            let resumed = try await cluster.subscribe(on: cluster.b, lastEventID: lastSeen)
            #expect(resumed.status == .ok)
            #expect(resumed.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            let replayed = try await readEvents(resumed, 3)
            #expect(replayed.map(\.lastEventID) == missed)
            #expect(replayed.map(\.type) == ["notify", "notify", "notify"])
            #expect(try replayed.map { try message(inData: $0.data) } == ["event 3", "event 4", "event 5"])

            // Exactly those three: the next event on the stream is the next one published.
            let live = try await cluster.postSuccessfully("event 6", to: cluster.a)
            let next = try await readEvents(resumed, 1)
            #expect(next.map(\.lastEventID) == [live])
            #expect(try next.map { try message(inData: $0.data) } == ["event 6"])
            resumed.close()
        }
    }

    @Test func `an open stream survives a Redis restart`() async throws {
        try await withCluster { cluster in
            let stream = try await cluster.subscribe(on: cluster.b)
            var succeeded: [(id: String, message: String)] = []
            let before = try await cluster.postSuccessfully("before the outage", to: cluster.a)
            succeeded.append((before, "before the outage"))
            #expect(try await readEvents(stream, 1).map(\.lastEventID) == [before])

            let redis = cluster.redis
            try await withDeadline(.seconds(15), "killing redis-server") { redis.kill() }

            // During the outage a POST fails fast with a 5xx JSON error, on both processes.
            for (index, node) in [cluster.a, cluster.b, cluster.a].enumerated() {
                let started = ContinuousClock.now
                let outcome = try await cluster.post("during the outage \(index)", to: node)
                let elapsed = ContinuousClock.now - started
                #expect((500..<600).contains(outcome.status), "\(outcome)")
                #expect(outcome.json != nil, "not JSON: \(outcome)")
                #expect(elapsed < .seconds(8), "a POST during the outage took \(elapsed)")
                if outcome.isSuccess { succeeded.append((try #require(outcome.id), "during the outage \(index)")) }
                try await Task.sleep(for: .milliseconds(300))
            }

            try await withDeadline(.seconds(15), "restarting redis-server") { try redis.start() }

            // Publishing works again within a bounded time.
            let deadline = ContinuousClock.now + .seconds(15)
            var attempt = 0
            while true {
                attempt += 1
                let text = "after the restart, attempt \(attempt)"
                let outcome = try await cluster.post(text, to: cluster.a)
                if outcome.isSuccess {
                    succeeded.append((try #require(outcome.id), text))
                    break
                }
                #expect((500..<600).contains(outcome.status), "\(outcome)")
                try #require(ContinuousClock.now < deadline, "publishing did not work again within 15 s: \(outcome)")
                try await Task.sleep(for: .milliseconds(100))
            }
            for (index, node) in [cluster.a, cluster.b, cluster.a].enumerated() {
                let text = "after the restart \(index)"
                succeeded.append((try await cluster.postSuccessfully(text, to: node), text))
            }

            // The same stream on B, never reconnected, receives everything a POST reported as
            // success after the restart, in publishing order.
            let wanted = Set(succeeded.dropFirst().map(\.id))
            let received = try await withDeadline(.seconds(20), "the events published after the restart") {
                var events: [MessageEvent] = []
                var missing = wanted
                while !missing.isEmpty {
                    guard let event = try stream.nextEvent() else {
                        throw HarnessError("stream on B ended; still missing \(missing); got \(events)")
                    }
                    events.append(event)
                    missing.remove(event.lastEventID)
                }
                return events
            }
            let receivedSucceeded = received.filter { wanted.contains($0.lastEventID) }
            #expect(receivedSucceeded.map(\.lastEventID) == succeeded.dropFirst().map(\.id))
            #expect(try receivedSucceeded.map { try message(inData: $0.data) } == succeeded.dropFirst().map(\.message))
            #expect(received.allSatisfy { $0.type == "notify" }, "\(received)")
            #expect(stream.status == .ok && !stream.isEnded)
            stream.close()
        }
    }
}

// MARK: - The cluster

/// One redis-server and two Notifications processes (A and B) using it.
struct Cluster: Sendable {
    let redis: RedisServer
    let a: NotificationsProcess
    let b: NotificationsProcess

    /// `GET /stream` on `node` (with `Last-Event-ID` when given); the head is read.
    func subscribe(on node: NotificationsProcess, lastEventID: String? = nil) async throws -> SSETestStream {
        var client = TestClient(port: node.port)
        client.timeout = .seconds(60)  // reads are bounded by `withDeadline`; heartbeats may be rare
        var fields = HTTPFields()
        if let lastEventID { fields[HTTPField.Name("Last-Event-ID")!] = lastEventID }
        let request = fields
        let clientWithTimeout = client
        return try await withAsyncDeadline(.seconds(15), "GET /stream on port \(node.port)") {
            try await clientWithTimeout.sse("/stream", headerFields: request)
        }
    }

    /// `POST /send_notification` with `{"message": text}` on `node`.
    func post(_ text: String, to node: NotificationsProcess) async throws -> PostOutcome {
        var client = TestClient(port: node.port)
        client.timeout = .seconds(12)
        let body = try JSONSerialization.data(withJSONObject: ["message": text])
        let response = try await client.post(
            "/send_notification", body: Array(body), headerFields: [.contentType: "application/json"])
        let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return PostOutcome(
            status: response.status.code, body: String(decoding: response.body, as: UTF8.self),
            jsonStatus: json?["status"] as? String, id: json?["id"] as? String, isJSON: json != nil)
    }

    /// A POST that must succeed; returns the event id.
    func postSuccessfully(_ text: String, to node: NotificationsProcess) async throws -> String {
        let outcome = try await post(text, to: node)
        try #require(outcome.isSuccess, "POST on port \(node.port): \(outcome)")
        return try #require(outcome.id)
    }
}

/// What `POST /send_notification` answered.
struct PostOutcome: Sendable, CustomStringConvertible {
    var status: Int
    var body: String
    var jsonStatus: String?
    var id: String?
    var isJSON: Bool

    var isSuccess: Bool { status == 200 && jsonStatus == "success" && id != nil }
    var json: String? { isJSON ? body : nil }
    var description: String { "\(status) \(body)" }
}

/// Starts redis-server and two Notifications processes on it, runs `body`, then SIGTERMs both
/// processes (expecting exit status 0) and kills redis-server. Everything is torn down whatever
/// happens to `body`.
func withCluster(sourceLocation: SourceLocation = #_sourceLocation, _ body: (Cluster) async throws -> Void) async throws {
    let redis = try await withDeadline(.seconds(60), "starting redis-server") { try RedisServer() }
    defer { redis.kill() }
    let a = try await NotificationsProcess(redisURL: redis.url)
    let b = try await NotificationsProcess(redisURL: redis.url)
    let cluster = Cluster(redis: redis, a: a, b: b)
    do {
        try await body(cluster)
    } catch {
        _ = try? await a.terminate()
        _ = try? await b.terminate()
        throw error
    }
    for (name, node) in [("A", a), ("B", b)] {
        let exit = try await node.terminate()
        #expect(
            exit == "exit status 0",
            "Notifications \(name)'s end after SIGTERM: \(exit)\n--- its log ---\n\(node.process.standardError)",
            sourceLocation: sourceLocation)
    }
}

/// Reads the next `count` events, at most `timeout` long.
func readEvents(_ stream: SSETestStream, _ count: Int, timeout: Duration = .seconds(15)) async throws -> [MessageEvent] {
    try await withDeadline(timeout, "\(count) event(s)") {
        var events: [MessageEvent] = []
        while events.count < count {
            guard let event = try stream.nextEvent() else {
                throw HarnessError("the stream ended after \(events.count) of \(count) events: \(events)")
            }
            events.append(event)
        }
        return events
    }
}

/// The `message` of a notification's `{"message":"…"}` data.
func message(inData data: String) throws -> String {
    let object = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
    return try #require(object?["message"] as? String, "data: \(data)")
}

/// `<milliseconds>-<sequence>`, as Redis streams number entries.
func isRedisStreamID(_ id: String) -> Bool {
    let parts = id.split(separator: "-", omittingEmptySubsequences: false)
    return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && UInt64($0) != nil }
}
