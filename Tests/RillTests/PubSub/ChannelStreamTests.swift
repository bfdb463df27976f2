import Foundation
import Rill
import RillCore
import RillHTTP
import RillTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The flask-sse pattern: `/stream?channel=…` subscribes, `POST /publish?channel=…` publishes.
/// The routes use their context's channels, so the router is built before the application.
private func pubSubApp(
    broker: BrokerFactory = .inMemory(.init(firstSequenceNumber: 1)), eventStream: EventStreamConfiguration = .init(),
    eventLoopCount: Int = EventLoop.availableCoreCount
) throws -> Application {
    let router = Router()
    router.get("/stream") { request, context in try await context.eventStream(for: request) }
    router.post("/publish") { request, context in
        let receipt = try await context.publish(
            ServerSentEvent(data: request.bodyText, event: request.query["event"]),
            channel: request.query["channel"] ?? Application.defaultChannel, authorizing: request)
        return ["id": receipt.id, "subscribers": "\(receipt.subscriberCount)"]
    }
    return try Application(
        router: router,
        configuration: ServerConfiguration(eventLoopCount: eventLoopCount, host: "127.0.0.1", port: 0, eventStream: eventStream),
        broker: broker)
}

private func subscriptions(_ app: Application) async -> Int { await app.broker.statistics().subscriptionCount }

@Suite struct ChannelStreamTests {
    @Test func `a context made outside an application cannot publish or subscribe`() async throws {
        let loop = try EventLoop(name: "orphan-context")
        defer { loop.shutdownAndWait() }
        let context = RequestContext(logger: Logger(label: "test"), remoteAddress: nil, eventLoop: loop)
        let request = Request(head: HTTPRequestHead(method: .get, target: "/stream", version: .http1_1, headerFields: [:], bodyFraming: .none))
        for attempt in 0..<2 {
            do {
                if attempt == 0 {
                    try await context.publish("lost")
                } else {
                    _ = try await context.eventStream(for: request)
                }
                Issue.record("an orphan context published or subscribed")
            } catch let error as HTTPError {
                #expect(error.status == .internalServerError)
                #expect(error.message?.contains("belongs to no application") == true)
            }
        }
    }

    @Test func `the app and its handlers' contexts share one broker`() async throws {
        // `app.publish` from outside a route reaches a stream a route opened with its context.
        let app = try pubSubApp()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=shared")
            #expect(await eventually { await subscriptions(app) == 1 })
            let receipt = try await app.publish("from the app", channel: "shared")
            #expect(receipt.subscriberCount == 1)
            #expect(try await stream.events(1).map(\.data) == ["from the app"])
            stream.close()
        }
    }

    @Test func `a post reaches every subscriber of its channel only`() async throws {
        let app = try pubSubApp()
        try await app.test(.live) { client in
            let first = try await client.sse("/stream?channel=room")
            let second = try await client.sse("/stream?channel=room")
            let other = try await client.sse("/stream?channel=elsewhere")
            #expect(await eventually { await subscriptions(app) == 3 })
            let response = try await client.post("/publish?channel=room&event=notify", text: "hello\nworld")
            #expect(response.status == .ok)
            #expect(response.bodyText.contains(#""subscribers":"2""#))
            for stream in [first, second] {
                let events = try await stream.events(1)
                #expect(events == [MessageEvent(type: "notify", data: "hello\nworld", lastEventID: "1")])
            }
            _ = try await client.post("/publish?channel=elsewhere", text: "only here")
            #expect(try await other.events(1).map(\.data) == ["only here"])
            for stream in [first, second, other] { stream.close() }
        }
    }

    @Test func `several channels on one connection and the default channel`() async throws {
        let app = try pubSubApp()
        try await app.test(.live) { client in
            let both = try await client.sse("/stream?channel=a&channel=b")
            let plain = try await client.sse("/stream")
            #expect(await eventually { await subscriptions(app) == 2 })
            _ = try await client.post("/publish?channel=a", text: "to a")
            _ = try await client.post("/publish?channel=b", text: "to b")
            _ = try await client.post("/publish", text: "to sse")
            #expect(try await both.events(2).map(\.data) == ["to a", "to b"])
            #expect(try await plain.events(1).map(\.data) == ["to sse"])
        }
    }

    @Test func `reconnecting with Last-Event-ID replays what was missed, then continues live`() async throws {
        let app = try pubSubApp()
        try await app.test(.live) { client in
            let first = try await client.sse("/stream?channel=news")
            #expect(await eventually { await subscriptions(app) == 1 })
            for n in 1...3 { _ = try await client.post("/publish?channel=news", text: "n\(n)") }
            let seen = try await first.events(2)
            #expect(seen.map(\.data) == ["n1", "n2"])
            first.close()
            #expect(await eventually { await subscriptions(app) == 0 })
            for n in 4...5 { _ = try await client.post("/publish?channel=news", text: "n\(n)") }
            let resumed = try await client.sse(
                "/stream?channel=news", headerFields: [HTTPField.Name("Last-Event-ID")!: first.lastEventID])
            #expect(resumed.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            #expect(try await resumed.events(3).map(\.data) == ["n3", "n4", "n5"])
            _ = try await client.post("/publish?channel=news", text: "n6")
            #expect(try await resumed.events(1).map(\.data) == ["n6"])

            // An empty Last-Event-ID names nothing: live, not a gap replaying everything.
            let empty = try await client.sse("/stream?channel=news", headerFields: [HTTPField.Name("Last-Event-ID")!: ""])
            #expect(empty.status == .ok)
            #expect(empty.headerFields[HTTPField.Name("Rill-Replay")!] == "live")
            empty.close()
            // Two Last-Event-ID fields: 400, not the joined "a, b" read as an unknown id.
            var two = HTTPFields()
            two.append(HTTPField(name: HTTPField.Name("Last-Event-ID")!, value: "1"))
            two.append(HTTPField(name: HTTPField.Name("Last-Event-ID")!, value: "2"))
            #expect(try await client.get("/stream?channel=news", headerFields: two).status == .badRequest)
            // A pattern with a control character is refused like such a channel name.
            #expect(try await client.get("/stream?pattern=news%2F%0A*").status == .badRequest)
            // An empty channel names none: 400, not the default channel.
            #expect(try await client.get("/stream?channel=").status == .badRequest)
            #expect(try await client.get("/stream?channel=news&channel=").status == .badRequest)
            // A name or pattern outside Unicode NFC: 400 saying so, on a stream and a publish.
            for target in ["/stream?channel=cafe%CC%81", "/stream?pattern=cafe%CC%81%2F*"] {
                let decomposed = try await client.get(target)
                #expect(decomposed.status == .badRequest, "\(target)")
                #expect(decomposed.bodyText.contains("Normalization Form C"), "\(target)")
            }
            #expect(try await client.post("/publish?channel=cafe%CC%81", text: "x").status == .badRequest)
            #expect(try await client.post("/publish?channel=caf%C3%A9", text: "x").status == .ok)
        }
    }

    @Test func `a stream opens with its position, and a client that leaves before its first event resumes from it`() async throws {
        let app = try pubSubApp()
        try await app.test(.live) { client in
            _ = try await client.post("/publish?channel=news", text: "before")
            let first = try await client.sse("/stream?channel=news")
            #expect(first.headerFields[HTTPField.Name("Rill-Replay")!] == "live")
            // The opening comment and the position in one block: an id and no data, which sets
            // the client's last event id without an event (the one published earlier was id 1).
            try await first.waitForBody(containing: ":ok\nid: ~1\n\n")
            #expect(first.lastEventID == "~1")
            first.close()
            #expect(await eventually { await subscriptions(app) == 0 })
            for n in 1...2 { _ = try await client.post("/publish?channel=news", text: "missed \(n)") }
            _ = try await client.post("/publish?channel=other", text: "not for it")
            let resumed = try await client.sse("/stream?channel=news", headerFields: [HTTPField.Name("Last-Event-ID")!: first.lastEventID])
            #expect(resumed.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            let replayed = try await resumed.events(2)
            #expect(replayed.map(\.data) == ["missed 1", "missed 2"])
            #expect(replayed.map(\.lastEventID) == ["2", "3"])
            // A replay came first: no position opened that stream (it would skip the replay for
            // a client that left during it).
            #expect(!String(decoding: resumed.body, as: UTF8.self).contains("id: ~"))
            _ = try await client.post("/publish?channel=news", text: "live")
            #expect(try await resumed.events(1).map(\.data) == ["live"])
        }
    }

    @Test func `with opensWithPosition off a stream opens with the comment alone`() async throws {
        let app = try pubSubApp(eventStream: EventStreamConfiguration(opensWithPosition: false))
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=news")
            try await stream.waitForBody(containing: ":ok\n\n")
            #expect(await eventually { await subscriptions(app) == 1 })
            _ = try await client.post("/publish?channel=news", text: "hello")
            #expect(try await stream.events(1).map(\.data) == ["hello"])
            #expect(String(decoding: stream.body, as: UTF8.self) == ":ok\n\nid: 1\ndata: hello\n\n")
        }
    }

    @Test func `a gap with nothing to replay opens with the position, so the next reconnect is not a gap again`() async throws {
        let app = try pubSubApp()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=quiet&lastEventId=unknown")
            #expect(stream.headerFields[HTTPField.Name("Rill-Replay")!] == "gap")
            #expect(try await stream.events(1).map(\.type) == ["rill-history-gap"])
            try await stream.waitForBody(containing: "id: ~0\n\n")
            #expect(stream.lastEventID == "~0")
            stream.close()
            let again = try await client.sse("/stream?channel=quiet", headerFields: [HTTPField.Name("Last-Event-ID")!: stream.lastEventID])
            #expect(again.headerFields[HTTPField.Name("Rill-Replay")!] == "complete")
            _ = try await client.post("/publish?channel=quiet", text: "hello")
            #expect(try await again.events(1).map(\.data) == ["hello"])
            // A publisher may not take the position form for its own ids.
            await #expect(throws: HTTPError.self) { try await app.publish(ServerSentEvent(data: "x", id: "~9"), channel: "quiet") }
        }
    }

    @Test func `an ID older than the history is announced as a gap`() async throws {
        let app = try pubSubApp(broker: .inMemory(.init(historyCount: 2, firstSequenceNumber: 1)))
        try await app.test(.live) { client in
            for n in 1...5 { _ = try await client.post("/publish?channel=c", text: "n\(n)") }
            let stream = try await client.sse("/stream?channel=c&lastEventId=1")
            #expect(stream.headerFields[HTTPField.Name("Rill-Replay")!] == "gap")
            let events = try await stream.events(3)
            #expect(events.map(\.type) == ["rill-history-gap", "message", "message"])
            #expect(events.first?.data == #"{"lastEventId":"1"}"#)
            #expect(events.dropFirst().map(\.data) == ["n4", "n5"])
        }
    }

    @Test func `the authorization hook sees cookies, query tokens and Authorization`() async throws {
        let app = try pubSubApp()
        app.authorizeChannels { request, _, channel, access in
            guard channel.hasPrefix("private.") else { return true }
            switch access {
            case .subscribe, .subscribeToPattern:
                return request.headerFields[.cookie] == "session=alice" || request.query["token"] == "t0k3n"
            case .publish:
                return request.headerFields[.authorization] == "Bearer admin"
            }
        }
        try await app.test(.live) { client in
            let denied = try await client.sse("/stream?channel=private.alice")
            #expect(denied.status == .forbidden)
            #expect(String(decoding: denied.body, as: UTF8.self).contains("not allowed"))
            let byCookie = try await client.sse("/stream?channel=private.alice", headerFields: [.cookie: "session=alice"])
            #expect(byCookie.status == .ok)
            let byToken = try await client.sse("/stream?channel=private.alice&token=t0k3n")
            #expect(byToken.status == .ok)
            let publishDenied = try await client.post("/publish?channel=private.alice", text: "x")
            #expect(publishDenied.status == .forbidden)
            let published = try await client.post(
                "/publish?channel=private.alice", text: "secret", headerFields: [.authorization: "Bearer admin"])
            #expect(published.status == .ok)
            #expect(try await byCookie.events(1).map(\.data) == ["secret"])
            #expect(try await byToken.events(1).map(\.data) == ["secret"])
        }
    }

    @Test func `clients leaving a quiet channel leave nothing behind`() async throws {
        let app = try pubSubApp(broker: .inMemory(.init(historyCount: 0, firstSequenceNumber: 1)))
        try await app.test(.live) { client in
            var streams: [SSETestStream] = []
            for n in 0..<100 { streams.append(try await client.sse("/stream?channel=quiet\(n % 10)")) }
            #expect(await eventually { await subscriptions(app) == 100 })
            for stream in streams { stream.close() }
            #expect(await eventually { await subscriptions(app) == 0 })
            #expect(await app.broker.statistics().subscribersPerChannel.isEmpty)
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `publishing from a plain thread reaches HTTP subscribers`() async throws {
        let app = try pubSubApp()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=jobs")
            #expect(await eventually { await subscriptions(app) == 1 })
            let worker = PlainThread { for n in 1...20 { app.post(ServerSentEvent(data: "job \(n)"), channel: "jobs") } }
            worker.start()
            worker.join()
            #expect(try await stream.events(20).map(\.data) == (1...20).map { "job \($0)" })
        }
    }

    @Test func `a subscriber that falls behind is disconnected while others keep up`() async throws {
        let app = try pubSubApp(eventStream: .init(maxQueuedBytes: 32 * 1024))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let stalled = try RawConnection(port: port, timeout: .seconds(5), receiveBufferBytes: 2048)
            try stalled.send("GET /stream?channel=firehose HTTP/1.1\r\nHost: x\r\n\r\n")
            let healthy = try await client.sse("/stream?channel=firehose")
            #expect(await eventually { await subscriptions(app) == 2 })
            // 8 MB: more than the kernel's socket buffers absorb for the stalled reader.
            let payload = String(repeating: "p", count: 8000)
            var received = 0
            for burst in 0..<50 {
                for n in 1...20 { app.post(ServerSentEvent(data: "\(burst * 20 + n) \(payload)"), channel: "firehose") }
                received += try await healthy.events(20).count
            }
            #expect(received == 1000)
            #expect(await eventually { await subscriptions(app) == 1 })
            // Cut off with a reset: the server's socket is gone at once, with the megabytes its
            // send buffer held for the client (a plain close keeps it in FIN-WAIT-1 with that
            // buffer, still delivering stale events, for as long as the client does not read).
            let stalledPort = try #require(stalled.localPort)
            #expect(
                await eventually { serverSocket(port: port, peerPort: stalledPort) == nil },
                "left: \(String(describing: serverSocket(port: port, peerPort: stalledPort)))")
            stalled.close()
        }
    }
}

/// The server's end of a loopback TCP connection in `/proc/net/tcp`: its state (hex, as the
/// kernel writes it: 01 established, 04 FIN-WAIT-1…) and its send queue in bytes; nil when
/// the kernel has no such socket.
func serverSocket(port: Int, peerPort: Int) -> (state: String, sendQueueBytes: Int)? {
    guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return nil }
    let local = String(format: ":%04X", port)
    let remote = String(format: ":%04X", peerPort)
    for line in table.split(separator: "\n").dropFirst() {
        let columns = line.split(separator: " ")
        guard columns.count > 4, columns[1].hasSuffix(local), columns[2].hasSuffix(remote) else { continue }
        let queues = columns[4].split(separator: ":")
        return (String(columns[3]), Int(queues.first ?? "", radix: 16) ?? 0)
    }
    return nil
}

/// A plain POSIX thread, to publish from outside any Swift executor.
final class PlainThread: @unchecked Sendable {
    private let body: @Sendable () -> Void
    private var handle = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        pthread_create(
            &handle, nil,
            { context in
                Unmanaged<PlainThread>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(self).toOpaque())
    }

    func join() { pthread_join(handle, nil) }
}

/// Events that reach a relayed stream faster than the server writes share one socket write.
@Suite struct CoalescedEventWriteTests {
    /// A route that posts `count` events back to back (`post` does not wait for writes), inside
    /// one handler run. One loop: what is measured is how one loop coalesces its writes (a
    /// subscriber on another loop takes the events as that loop runs, concurrently).
    private func burstApp() throws -> Application {
        let app = try pubSubApp(eventLoopCount: 1)
        app.router.post("/burst") { request, context in
            let count = Int(request.query["count"] ?? "") ?? 1
            for n in 1...count { app.post(ServerSentEvent(data: "event \(n)"), channel: "burst") }
            return ["published": "\(count)"]
        }
        return app
    }

    @Test func `events published together leave in one write per stream`() async throws {
        let app = try burstApp()
        try await app.test(.live) { client in
            let streams = [
                try await client.sse("/stream?channel=burst"), try await client.sse("/stream?channel=burst"),
                try await client.sse("/stream?channel=burst"),
            ]
            #expect(await eventually { await subscriptions(app) == 3 })
            let before = await app.serverStatistics()
            #expect(try await client.post("/burst?count=50", text: "").status == .ok)
            for stream in streams {
                #expect(try await stream.events(50).map(\.data) == (1...50).map { "event \($0)" })
            }
            let after = await app.serverStatistics()
            #expect(after.relayedEventCount - before.relayedEventCount == 150)
            #expect(after.relayedWriteCount - before.relayedWriteCount == 3)
            for stream in streams { stream.close() }
        }
    }

    @Test func `a lone event is written at once`() async throws {
        let app = try burstApp()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=burst")
            #expect(await eventually { await subscriptions(app) == 1 })
            let before = await app.serverStatistics()
            for round in 1...3 {
                #expect(try await client.post("/burst?count=1", text: "").status == .ok)
                #expect(try await stream.events(1).map(\.data) == ["event 1"], "round \(round)")
            }
            let after = await app.serverStatistics()
            #expect(after.relayedWriteCount - before.relayedWriteCount == 3)
            stream.close()
        }
    }

    @Test func `an awaiting publisher stays within two passes of the writes`() async throws {
        // One loop: the publisher waits for its own loop's writes.
        let app = try pubSubApp(eventLoopCount: 1)
        // Three publishes in a row: the third returns only once everything queued before the
        // second was written — the first event's write to every stream. 40 streams take
        // several drains (16 per drain), so without the wait no write would have happened yet.
        app.router.post("/three") { _, _ in
            let before = await app.serverStatistics().relayedWriteCount
            for n in 1...3 { _ = try await app.publish(ServerSentEvent(data: "event \(n)"), channel: "burst") }
            let after = await app.serverStatistics().relayedWriteCount
            return ["writesBeforeReturn": after - before]
        }
        try await app.test(.live) { client in
            var streams: [SSETestStream] = []
            for _ in 0..<40 { streams.append(try await client.sse("/stream?channel=burst")) }
            #expect(await eventually { await subscriptions(app) == 40 })
            let answer = try await client.post("/three", text: "").decode([String: Int].self)
            #expect(try #require(answer["writesBeforeReturn"]) >= 40)
            for stream in streams {
                #expect(try await stream.events(3).map(\.data) == ["event 1", "event 2", "event 3"])
                stream.close()
            }
        }
    }

    @Test func `a burst larger than the queue limit is written, not disconnected`() async throws {
        let app = try pubSubApp(eventStream: .init(maxQueuedBytes: 32 * 1024))
        let payload = String(repeating: "x", count: 4000)
        app.router.post("/big-burst") { _, _ in
            for n in 1...40 { app.post(ServerSentEvent(data: "\(n) \(payload)"), channel: "big") }
            return ["published": "40"]
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=big")
            #expect(await eventually { await subscriptions(app) == 1 })
            #expect(try await client.post("/big-burst", text: "").status == .ok)
            // 160 KB in one handler run: written in ≥ 16 KiB pieces as it accumulates, while the
            // client reads, so the stream is never more than 32 KiB behind.
            let events = try await stream.events(40)
            #expect(events.map { $0.data.prefix(while: { $0 != " " }) } == (1...40).map { "\($0)"[...] })
            #expect(await app.serverStatistics().slowClientDisconnectCount == 0)
            stream.close()
        }
    }
}
