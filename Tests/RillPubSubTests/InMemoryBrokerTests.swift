import RillCore
import RillPubSub
import RillSSE
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` on the loop thread as a task that prefers the loop (like a handler).
func onLoop<T: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task(executorPreference: loop.executor) { try await body() }.value
}

func data(_ events: [BrokerEvent]) -> [String] { events.map { $0.event.data ?? "" } }

@Suite struct InMemoryBrokerTests {
    @Test(.timeLimit(.minutes(1)))
    func `after its loop stopped, every call from another thread returns instead of waiting forever`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let subscription = try await broker.subscribe(to: ["news"], lastEventID: nil)
        await loop.shutdown()
        // The loop refuses work now: a call waiting for a closure that never runs would hang.
        await #expect(throws: BrokerError.self) { try await broker.publish(ServerSentEvent(data: "late"), to: "news") }
        await #expect(throws: BrokerError.self) { _ = try await broker.subscribe(to: ["news"], lastEventID: nil) }
        #expect(await broker.statistics().subscriptionCount == 0)
        let reported = SanitizerVisibleMutex<(any Error)?>(nil)
        broker.post(ServerSentEvent(data: "late"), to: "news") { error in reported.withLock { $0 = error } }
        #expect(reported.withLock { $0 } != nil)
        await #expect(throws: SubscriptionError.brokerClosed) {
            for try await _ in subscription {}
        }
        subscription.cancel()
    }

    @Test func `publish fans out to every subscriber with the same encoded bytes`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (first, second, receipt) = try await onLoop(loop) {
            let a = try broker.subscribeOnLoop(to: ["news"], lastEventID: nil)
            let b = try broker.subscribeOnLoop(to: ["news", "other"], lastEventID: nil)
            let receipt = try broker.publishOnLoop(ServerSentEvent(data: "hello", event: "notify"), to: "news")
            return (a.takeBuffered(), b.takeBuffered(), receipt)
        }
        #expect(receipt == PublishReceipt(id: "1", subscriberCount: 2))
        #expect(data(first) == ["hello"] && data(second) == ["hello"])
        #expect(first[0].encodedBytes == Array("event: notify\nid: 1\ndata: hello\n\n".utf8))
        // One encoding shared by both subscribers: the same storage.
        first[0].encodedBytes.withUnsafeBufferPointer { a in
            second[0].encodedBytes.withUnsafeBufferPointer { b in #expect(a.baseAddress == b.baseAddress) }
        }
        await loop.shutdown()
    }

    @Test func `a channel named twice is subscribed once and delivers once`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        // A short list (scanned) and a long one (hashed) with repeats.
        let long = (0..<40).map { "c\($0 % 20)" }
        let (short, longChannels, delivered) = try await onLoop(loop) {
            let a = try broker.subscribeOnLoop(to: ["x", "y", "x", "x"], lastEventID: nil)
            let b = try broker.subscribeOnLoop(to: long, lastEventID: nil)
            let receipt = try broker.publishOnLoop(ServerSentEvent(data: "once"), to: "x")
            return (a.channels, b.channels, (receipt.subscriberCount, a.takeBuffered().count))
        }
        #expect(short == ["x", "y"])
        #expect(longChannels == (0..<20).map { "c\($0)" })
        #expect(delivered == (1, 1))
        #expect(await broker.statistics().subscribersPerChannel["c7"] == 1)
        await loop.shutdown()
    }

    @Test func `ids are assigned monotonically across channels and publisher ids are kept`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let ids = try await onLoop(loop) {
            [
                try broker.publishOnLoop(ServerSentEvent(data: "a"), to: "x").id,
                try broker.publishOnLoop(ServerSentEvent(data: "b"), to: "y").id,
                try broker.publishOnLoop(ServerSentEvent(data: "c", id: "custom-7"), to: "x").id,
                try broker.publishOnLoop(ServerSentEvent(data: "d"), to: "x").id,
            ]
        }
        #expect(ids == ["1", "2", "custom-7", "4"])
        await loop.shutdown()
    }

    @Test func `invalid events and channels are refused`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        await #expect(throws: BrokerError.self) { try await broker.publish(ServerSentEvent(data: "x", event: "a\nb"), to: "c") }
        await #expect(throws: BrokerError.invalidChannel("")) { try await broker.publish(ServerSentEvent(data: "x"), to: "") }
        await #expect(throws: BrokerError.self) { try await broker.subscribe(to: ["bad\u{0}"], lastEventID: nil) }
        await loop.shutdown()
    }

    @Test func `names and patterns outside Unicode NFC are refused, so that memory and Redis agree on what one channel is`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let decomposed = "cafe\u{301}"
        let composed = "caf\u{E9}"
        #expect(decomposed == composed)  // one string to Swift, two byte sequences to Redis
        await #expect(throws: BrokerError.invalidChannel(decomposed)) { try await broker.publish(ServerSentEvent(data: "x"), to: decomposed) }
        await #expect(throws: BrokerError.invalidChannel(decomposed)) { try await broker.subscribe(to: [decomposed], lastEventID: nil) }
        let decomposedPattern = try ChannelPattern("\(decomposed)/*")
        await #expect(throws: BrokerError.invalidChannel(decomposedPattern.description)) {
            try await broker.subscribe(to: [], matching: [decomposedPattern], lastEventID: nil)
        }
        // The composed forms, and marks that have no composed form (q + U+0301), are NFC.
        let pattern = try ChannelPattern("\(composed)/*")
        let received = try await onLoop(loop) { () -> [String] in
            let subscription = try broker.subscribeOnLoop(to: [composed, "q\u{301}"], matching: [pattern], lastEventID: nil)
            try broker.publishOnLoop(ServerSentEvent(data: "in NFC"), to: composed)
            try broker.publishOnLoop(ServerSentEvent(data: "below"), to: "\(composed)/x")
            try broker.publishOnLoop(ServerSentEvent(data: "no composed form"), to: "q\u{301}")
            var received: [String] = []
            for try await event in subscription {
                received.append(event.event.data ?? "")
                if received.count == 3 { break }
            }
            subscription.cancel()
            return received
        }
        #expect(received == ["in NFC", "below", "no composed form"])
        await loop.shutdown()
    }

    @Test func `reconnect with last event ID replays exactly what was missed, in order`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let (status, replayed) = try await onLoop(loop) {
            for n in 1...5 { try broker.publishOnLoop(ServerSentEvent(data: "n\(n)"), to: n.isMultiple(of: 2) ? "b" : "a") }
            let subscription = try broker.subscribeOnLoop(to: ["a", "b"], lastEventID: "2")
            return (subscription.replayStatus, subscription.takeBuffered())
        }
        #expect(status == .complete)
        #expect(data(replayed) == ["n3", "n4", "n5"])
        #expect(replayed.map(\.id) == ["3", "4", "5"])
        await loop.shutdown()
    }

    @Test func `an ID older than the history is reported as a gap`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 3, firstSequenceNumber: 1))
        let results = try await onLoop(loop) { () -> [(ReplayStatus, [String])] in
            for n in 1...10 { try broker.publishOnLoop(ServerSentEvent(data: "n\(n)"), to: "a") }
            let old = try broker.subscribeOnLoop(to: ["a"], lastEventID: "2")
            let recent = try broker.subscribeOnLoop(to: ["a"], lastEventID: "7")
            let unknown = try broker.subscribeOnLoop(to: ["a"], lastEventID: "not-an-id")
            let fresh = try broker.subscribeOnLoop(to: ["a"], lastEventID: nil)
            return [old, recent, unknown, fresh].map { ($0.replayStatus, $0.takeBuffered().map { $0.event.data ?? "" }) }
        }
        #expect(results[0].0 == .gap && results[0].1 == ["n8", "n9", "n10"])
        // "7" left the history, but the broker assigned it: the client's position is known, and
        // nothing after it was lost.
        #expect(results[1].0 == .complete && results[1].1 == ["n8", "n9", "n10"])
        #expect(results[2].0 == .gap)
        #expect(results[3].0 == .live && results[3].1.isEmpty)
        await loop.shutdown()
    }

    @Test func `history expires by age`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyMaxAge: .milliseconds(50), firstSequenceNumber: 1))
        let (status, replayed) = try await onLoop(loop) {
            try broker.publishOnLoop(ServerSentEvent(data: "old"), to: "a")
            try await loop.sleep(for: .milliseconds(80))
            try broker.publishOnLoop(ServerSentEvent(data: "new"), to: "a")
            let subscription = try broker.subscribeOnLoop(to: ["a"], lastEventID: "0")
            return (subscription.replayStatus, subscription.takeBuffered())
        }
        #expect(status == .gap)
        #expect(data(replayed) == ["new"])
        await loop.shutdown()
    }

    @Test func `replay under concurrent publishing has no gap and no duplicate`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(
            eventLoop: loop, configuration: .init(historyCount: 100_000, subscriberBufferCount: 100_000, firstSequenceNumber: 1))
        // A plain thread publishes steadily while the client disconnects and reconnects.
        let publisher = Thread {
            for n in 1...20_000 {
                broker.post(ServerSentEvent(data: "\(n)"), to: "live")
                if n.isMultiple(of: 16) { usleep(100) }
            }
        }
        publisher.start()
        let (received, statuses) = try await onLoop(loop) { () -> ([UInt64], [ReplayStatus]) in
            var seen: [UInt64] = []
            var statuses: [ReplayStatus] = []
            var lastID: String?
            for _ in 0..<20 {
                let subscription = try broker.subscribeOnLoop(to: ["live"], lastEventID: lastID)
                statuses.append(subscription.replayStatus)
                var taken = 0
                for try await event in subscription {
                    seen.append(event.sequence)
                    lastID = event.id
                    taken += 1
                    if taken == 50 { break }
                }
                subscription.cancel()
                // Meanwhile the publisher goes on: these events must come back as replay.
                try await loop.sleep(for: .milliseconds(3))
            }
            return (seen, statuses)
        }
        publisher.join()
        #expect(received.count == 1000)
        #expect(statuses.first == .live)
        #expect(statuses.dropFirst().allSatisfy { $0 == .complete })
        let contiguous = zip(received, received.dropFirst()).allSatisfy { $1 == $0 + 1 }
        #expect(contiguous, "every sequence number exactly once, in order")
        await loop.shutdown()
    }

    @Test func `a slow subscriber is disconnected without delaying others`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(subscriberBufferCount: 4, firstSequenceNumber: 1))
        let outcome = try await onLoop(loop) { () -> (Bool, Int, SubscriptionError?) in
            let slow = try broker.subscribeOnLoop(to: ["c"], lastEventID: nil)
            let fast = try broker.subscribeOnLoop(to: ["c"], lastEventID: nil)
            var fastReceived = 0
            for n in 1...10 {
                try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "c")
                fastReceived += fast.takeBuffered().count
            }
            var caught: SubscriptionError?
            do { for try await _ in slow {} } catch { caught = error as? SubscriptionError }
            return (slow.isActive, fastReceived, caught)
        }
        #expect(outcome.0 == false)
        #expect(outcome.1 == 10)
        #expect(outcome.2 == SubscriptionError.slowConsumer)
        let statistics = await broker.statistics()
        #expect(statistics.slowConsumerDisconnectCount == 1)
        #expect(statistics.subscriptionCount == 1)
        await loop.shutdown()
    }

    @Test func `dropOldest keeps the newest events and counts drops`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(
            eventLoop: loop, configuration: .init(subscriberBufferCount: 3, overflowPolicy: .dropOldest, firstSequenceNumber: 1))
        let kept = try await onLoop(loop) {
            let subscription = try broker.subscribeOnLoop(to: ["c"], lastEventID: nil)
            for n in 1...10 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "c") }
            return subscription.takeBuffered()
        }
        #expect(data(kept) == ["8", "9", "10"])
        #expect(await broker.statistics().droppedEventCount == 7)
        await loop.shutdown()
    }

    @Test func `cancelling the consuming task unsubscribes and forgets quiet channels`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 0, firstSequenceNumber: 1))
        let consumer = Task(executorPreference: loop.executor) { () -> Int in
            let subscription = try await broker.subscribe(to: ["quiet"], lastEventID: nil)
            var count = 0
            for try await _ in subscription { count += 1 }
            return count
        }
        while await broker.statistics().subscriptionCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        consumer.cancel()
        #expect(try await consumer.value == 0)
        let statistics = await broker.statistics()
        #expect(statistics.subscriptionCount == 0)
        #expect(statistics.subscribersPerChannel.isEmpty)
        let channels = try await onLoop(loop) { broker.channelCount }
        #expect(channels == 0)
        await loop.shutdown()
    }

    @Test func `publishing from a plain thread reaches subscribers`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(firstSequenceNumber: 1))
        let consumer = Task(executorPreference: loop.executor) { () -> [String] in
            let subscription = try await broker.subscribe(to: ["t"], lastEventID: nil)
            var received: [String] = []
            for try await event in subscription {
                received.append(event.event.data ?? "")
                if received.count == 100 { break }
            }
            return received
        }
        while await broker.statistics().subscriptionCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let thread = Thread {
            for n in 1...100 { broker.post(ServerSentEvent(data: "\(n)"), to: "t") }
        }
        thread.start()
        thread.join()
        #expect(try await consumer.value == (1...100).map(String.init))
        await loop.shutdown()
    }
}

/// A plain POSIX thread (not a Swift task) for publishing from outside any executor.
final class Thread: @unchecked Sendable {
    private let body: @Sendable () -> Void
    private var handle = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &handle, nil,
            { context in
                let thread = Unmanaged<Thread>.fromOpaque(context!).takeRetainedValue()
                thread.body()
                return nil
            }, context)
    }

    func join() { pthread_join(handle, nil) }
}

@Suite struct ReplayBufferTests {
    @Test func `a replay longer than the live buffer is not cut off as a slow consumer`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 100, subscriberBufferCount: 4, firstSequenceNumber: 1))
        let received = try await Task(executorPreference: loop.executor) { () -> [String] in
            for n in 1...50 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "c") }
            let subscription = try broker.subscribeOnLoop(to: ["c"], lastEventID: "10")
            // Live events arrive before the consumer drained the 40-event replay.
            for n in 51...53 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "c") }
            #expect(subscription.isActive)
            var data: [String] = []
            for try await event in subscription {
                data.append(event.event.data ?? "")
                if data.count == 43 { break }
            }
            return data
        }.value
        #expect(received == (11...53).map(String.init))
        await loop.shutdown()
    }
}

@Suite struct ForgottenChannelTests {
    @Test func `a client back on a forgotten channel still hears of the gap`() async throws {
        let loop = try EventLoop()
        // No history: every event leaves at once, and the idle channel is forgotten.
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 0, firstSequenceNumber: 1))
        let status = try await Task(executorPreference: loop.executor) { () -> ReplayStatus in
            let first = try broker.publishOnLoop(ServerSentEvent(data: "1"), to: "quiet")
            try broker.publishOnLoop(ServerSentEvent(data: "2"), to: "quiet")
            #expect(broker.channelCount == 0)
            let subscription = try broker.subscribeOnLoop(to: ["quiet"], lastEventID: first.id)
            // A subscription is cancelled or consumed (its pending replay holds the channels).
            defer { subscription.cancel() }
            return subscription.replayStatus
        }.value
        #expect(status == .gap)
        await loop.shutdown()
    }
}
