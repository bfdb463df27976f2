import Rill
import RillCore
import RillTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An app with `/stream` (``Application/eventStream(for:context:channels:configuration:)``).
private func streamApp(broker: BrokerFactory = .inMemory(.init(firstSequenceNumber: 1)), eventStream: EventStreamConfiguration = .init()) throws
    -> Application
{
    let router = Router()
    let app = try Application(
        router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventStream: eventStream), broker: broker)
    router.get("/stream") { request, context in try await app.eventStream(for: request, context: context) }
    return app
}

private func subscriptionCount(_ app: Application) async -> Int { await app.broker.statistics().subscriptionCount }

/// Reads events from a raw socket (head and chunk framing lines are lines the SSE parser
/// ignores: whole events never straddle a chunk) until `count` arrived or the server closed.
private func readEvents(_ connection: RawConnection, count: Int) -> [MessageEvent] {
    var parser = ServerSentEventParser()
    var events: [MessageEvent] = []
    while events.count < count, let bytes = try? connection.receive(atLeast: 1), !bytes.isEmpty {
        events.append(contentsOf: parser.parse(bytes))
    }
    return events
}

@Suite struct ChannelListTests {
    @Test func `repeated channels are authorized and subscribed once`() async throws {
        let app = try streamApp()
        let asked = SanitizerVisibleMutex<[String]>([])
        app.authorizeChannels { _, _, channel, _ in
            asked.withLock { $0.append(channel) }
            return true
        }
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=a&channel=b&channel=a&channel=b&channel=a")
            #expect(stream.headerFields[.contentType]?.hasPrefix("text/event-stream") == true)
            #expect(asked.withLock { $0 } == ["a", "b"])
            #expect(await eventually { await app.broker.statistics().subscribersPerChannel == ["a": 1, "b": 1] })
            stream.close()
        }
    }

    @Test func `more distinct channels than the limit get 400 before authorizing`() async throws {
        let app = try streamApp(eventStream: .init(maxChannelsPerStream: 32))
        let asked = Atomic(0)
        app.authorizeChannels { _, _, _, _ in
            asked.add(1, ordering: .relaxed)
            return true
        }
        try await app.test(.live) { client in
            let tooMany = (1...33).map { "channel=c\($0)" }.joined(separator: "&")
            let refused = try await client.get("/stream?\(tooMany)")
            #expect(refused.status == .badRequest)
            #expect(refused.bodyText.contains("at most 32 distinct channels"))
            #expect(asked.load(ordering: .relaxed) == 0)
            // 200 names, 10 distinct: within the limit once repeats are folded.
            let repeated = (0..<200).map { "channel=c\($0 % 10)" }.joined(separator: "&")
            let stream = try await client.sse("/stream?\(repeated)")
            #expect(await eventually { await app.broker.statistics().subscribersPerChannel.count == 10 })
            #expect(asked.load(ordering: .relaxed) == 10)
            stream.close()
        }
    }
}

@Suite struct LazyReplayTests {
    /// 2,000 events of 4 KB (8 MB, more than the kernel's socket buffers hold) in history.
    /// Heartbeats every 50 ms check the bytes queued for a stalled reader against the limit.
    private func appWithLongHistory(maxQueuedBytes: Int) async throws -> Application {
        let app = try streamApp(
            broker: .inMemory(.init(historyCount: 2000, firstSequenceNumber: 1)),
            eventStream: .init(heartbeatInterval: .milliseconds(50), maxQueuedBytes: maxQueuedBytes))
        return app
    }

    /// Publishes the history, then opens a stream of it, replaying after `lastEventID`, on a
    /// socket with a small receive buffer that reads nothing until the test says so.
    private func slowReplayingReader(_ app: Application, _ client: TestClient, lastEventID: String) async throws -> RawConnection {
        let filler = String(repeating: "h", count: 4000)
        for n in 1...2000 { app.post(ServerSentEvent(data: "n\(n) \(filler)"), channel: "big") }
        #expect(await eventually { await app.broker.statistics().publishedEventCount == 2000 })
        let port = try #require(client.port)
        let reader = try RawConnection(port: port, timeout: .seconds(10), receiveBufferBytes: 4096)
        try reader.send("GET /stream?channel=big HTTP/1.1\r\nHost: x\r\nLast-Event-ID: \(lastEventID)\r\n\r\n")
        #expect(await eventually { await subscriptionCount(app) == 1 })
        return reader
    }

    @Test func `a slow reader gets a long replay as it reads, then the live events held meanwhile`() async throws {
        let app = try await appWithLongHistory(maxQueuedBytes: 64 * 1024)
        try await app.test(.live) { client in
            let reader = try await slowReplayingReader(app, client, lastEventID: "nope")
            // The reader has not read anything: the replay waits in the history, not in memory
            // (a replay queued whole would be over the limit at the next heartbeat).
            try await Task.sleep(for: .milliseconds(200))
            for n in 1...3 { app.post(ServerSentEvent(data: "live \(n)"), channel: "big") }
            #expect(await eventually { await app.broker.statistics().publishedEventCount == 2003 })
            #expect(await subscriptionCount(app) == 1)
            #expect(await app.serverStatistics().slowClientDisconnectCount == 0)
            let events = readEvents(reader, count: 2004)
            #expect(events.count == 2004)
            #expect(events.first?.type == "rill-history-gap")
            let data = events.dropFirst().map { $0.data.prefix(while: { $0 != " " }) }
            let replayThenLive = data == (1...2000).map { "n\($0)"[...] } + ["live", "live", "live"]
            #expect(replayThenLive)
            #expect(events.suffix(3).map(\.data) == ["live 1", "live 2", "live 3"])
            let idsInOrder = events.dropFirst().map(\.lastEventID) == (1...2003).map(String.init)
            #expect(idsInOrder)
            reader.close()
        }
    }

    @Test func `live events beyond what the stream may hold during a replay disconnect the reader`() async throws {
        let app = try await appWithLongHistory(maxQueuedBytes: 64 * 1024)
        try await app.test(.live) { client in
            let reader = try await slowReplayingReader(app, client, lastEventID: "1")
            let filler = String(repeating: "l", count: 4000)
            for n in 1...20 { app.post(ServerSentEvent(data: "live \(n) \(filler)"), channel: "big") }
            #expect(await eventually { await subscriptionCount(app) == 0 })
            #expect(await app.broker.statistics().slowConsumerDisconnectCount == 1)
            _ = try? reader.receiveUntilClose()
            reader.close()
        }
    }
}

/// A broker whose subscribe takes a while, cancelled or not (as a remote one may): the client
/// can leave meanwhile.
private final class SlowSubscribingBroker: Broker, @unchecked Sendable {
    let inner: InMemoryBroker
    let subscribed = Atomic(0)

    init(_ inner: InMemoryBroker) { self.inner = inner }

    func publish(_ event: ServerSentEvent, to channel: String) async throws -> PublishReceipt {
        try await inner.publish(event, to: channel)
    }

    func subscribe(to channels: [String], matching patterns: [ChannelPattern], lastEventID: String?) async throws -> Subscription {
        let loop = inner.eventLoop
        await withCheckedContinuation { continuation in
            loop.execute { _ = loop.schedule(after: .milliseconds(150)) { continuation.resume() } }
        }
        let subscription = try await inner.subscribe(to: channels, matching: patterns, lastEventID: lastEventID)
        subscribed.add(1, ordering: .relaxed)
        return subscription
    }

    func statistics() async -> BrokerStatistics { await inner.statistics() }
}

@Suite struct LeavingDuringSubscribeTests {
    private func appWithSlowBroker() throws -> (Application, SlowSubscribingBroker) {
        let slow = SanitizerVisibleMutex<SlowSubscribingBroker?>(nil)
        let factory = BrokerFactory { loop in
            let broker = SlowSubscribingBroker(InMemoryBroker(eventLoop: loop))
            slow.withLock { $0 = broker }
            return broker
        }
        let app = try streamApp(broker: factory)
        return (app, try #require(slow.withLock { $0 }))
    }

    @Test func `a client that leaves while the broker subscribes leaves no subscription`() async throws {
        let (app, broker) = try appWithSlowBroker()
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for _ in 0..<3 {
                let leaving = try RawConnection(port: port)
                try leaving.send("GET /stream?channel=s HTTP/1.1\r\nHost: x\r\n\r\n")
                leaving.reset()
            }
            #expect(await eventually { broker.subscribed.load(ordering: .relaxed) == 3 })
            #expect(await eventually { await broker.statistics().subscriptionCount == 0 })
        }
    }

    @Test func `a stream a middleware drops leaves no subscription`() async throws {
        let app = try streamApp()
        app.router.add(
            middleware: ClosureMiddleware { request, context, next in
                let response = try await next(request, context)
                if request.query["refuse"] != nil { throw HTTPError(.conflict, message: "dropped after the handler") }
                return response
            })
        try await app.test(.live) { client in
            for _ in 0..<3 {
                let refused = try await client.get("/stream?channel=d&refuse=1")
                #expect(refused.status == .conflict)
            }
            #expect(await eventually { await subscriptionCount(app) == 0 })
        }
    }

    @Test func `a half-close while the broker subscribes leaves no zombie stream`() async throws {
        let (app, broker) = try appWithSlowBroker()
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let halfClosed = try RawConnection(port: port)
            try halfClosed.send("GET /stream?channel=h HTTP/1.1\r\nHost: x\r\n\r\n")
            halfClosed.shutdownWrite()
            #expect(await eventually { broker.subscribed.load(ordering: .relaxed) == 1 })
            // The server ends the exchange and closes; nothing stays subscribed.
            _ = try halfClosed.receiveUntilClose()
            #expect(await eventually { await subscriptionCount(app) == 0 })
            halfClosed.close()
        }
    }
}
