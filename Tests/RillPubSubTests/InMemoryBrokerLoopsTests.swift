import RillCore
import RillPubSub
import RillSSE
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One broker over several loops: every subscriber on every loop gets every event, in one id
/// order, whoever publishes from wherever; replay is the same on every loop.
@Suite struct InMemoryBrokerLoopsTests {
    /// Two loops and a broker over them; shuts them down after `body`.
    private func withLoops<T>(
        _ count: Int = 2, configuration: BrokerConfiguration = .init(), _ body: ([EventLoop], InMemoryBroker) async throws -> T
    ) async throws -> T {
        let loops = try (0..<count).map { try EventLoop(name: "test-loop-\($0)") }
        let broker = InMemoryBroker(eventLoops: loops, configuration: configuration)
        do {
            let result = try await body(loops, broker)
            for loop in loops { await loop.shutdown() }
            return result
        } catch {
            for loop in loops { await loop.shutdown() }
            throw error
        }
    }

    /// Blocks `loop` (a handler that never yields) until the returned flag is set.
    private func block(_ loop: EventLoop) async -> Shared<Bool> {
        let blocked = Shared(false)
        let release = Shared(false)
        loop.execute {
            blocked.set(true)
            while !release.current { usleep(1000) }
        }
        #expect(await eventually { blocked.current })
        return release
    }

    /// Takes `count` events from `subscription` on its loop (bounded: the test's time limit).
    private func take(_ count: Int, from subscription: Subscription) async throws -> [BrokerEvent] {
        try await onLoop(subscription.eventLoop) {
            var events: [BrokerEvent] = []
            for try await event in subscription {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `a publish from any loop or thread reaches the subscribers on every loop, once each`() async throws {
        try await withLoops { loops, broker in
            let first = try await onLoop(loops[0]) { try broker.subscribeOnLoop(to: ["news"], lastEventID: nil) }
            let second = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["news"], lastEventID: nil) }
            #expect(first.eventLoop === loops[0])
            #expect(second.eventLoop === loops[1])
            let fromFirst = try await onLoop(loops[0]) { try broker.publishOnLoop(ServerSentEvent(data: "from loop 0"), to: "news") }
            let fromSecond = try await onLoop(loops[1]) { try broker.publishOnLoop(ServerSentEvent(data: "from loop 1"), to: "news") }
            // A plain thread, neither loop's.
            let fromThread = try await Task.detached { try await broker.publish(ServerSentEvent(data: "from a thread"), to: "news") }.value
            #expect([fromFirst.subscriberCount, fromSecond.subscriberCount, fromThread.subscriberCount] == [2, 2, 2])
            let expected = ["from loop 0", "from loop 1", "from a thread"]
            #expect(data(try await take(3, from: first)) == expected)
            #expect(data(try await take(3, from: second)) == expected)
            let statistics = await broker.statistics()
            #expect(statistics.publishedEventCount == 3)
            #expect(statistics.deliveredEventCount == 6)
            #expect(statistics.subscribersPerChannel == ["news": 2])
            first.cancel()
            second.cancel()
            #expect(await eventually { await broker.statistics().subscriptionCount == 0 })
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `a position taken on one loop while the other publishes resumes on either loop with no gap and no duplicate`() async throws {
        try await withLoops(configuration: .init(historyCount: 100_000, subscriberBufferCount: 100_000, firstSequenceNumber: 1)) { loops, broker in
            // Loop 0 publishes without a pause until 500 events after loop 1 subscribed.
            let subscribed = Atomic<Bool>(false)
            let publisher = Task(executorPreference: loops[0].executor) { () -> Int in
                var number = 0
                var after = 0
                while after < 500 && number < 90_000 {
                    number += 1
                    try broker.publishOnLoop(ServerSentEvent(data: String(number)), to: number.isMultiple(of: 2) ? "even" : "odd")
                    if subscribed.load(ordering: .relaxed) { after += 1 }
                    if number.isMultiple(of: 50) { await Task.yield() }  // lets loop 0 run its other work
                }
                return number
            }
            let first = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["even", "odd"], lastEventID: nil) }
            subscribed.store(true, ordering: .relaxed)
            let position = try #require(first.startPosition)
            let head = try await take(1, from: first)
            first.cancel()
            let total = try await publisher.value
            try #require(total < 90_000, "the publisher never saw the subscription")
            let start = Int(head[0].event.data!)!
            // Resumed on the publisher's loop and on the other: all the events after the
            // position, from the first the subscription got, once each, in order.
            for loop in loops {
                let resumed = try await onLoop(loop) { try broker.subscribeOnLoop(to: ["even", "odd"], lastEventID: position) }
                #expect(resumed.replayStatus == .complete)
                let events = try await onLoop(loop) { resumed.takeBuffered() }
                #expect(data(events) == (start...total).map(String.init))
                resumed.cancel()
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `with one loop, a publish from a plain thread counts the subscribers it will reach`() async throws {
        try await withLoops(1) { loops, broker in
            let subscription = try await onLoop(loops[0]) { try broker.subscribeOnLoop(to: ["news"], lastEventID: nil) }
            let receipt = try await Task.detached { try await broker.publish(ServerSentEvent(data: "hi"), to: "news") }.value
            #expect(receipt.subscriberCount == 1)
            #expect(data(try await take(1, from: subscription)) == ["hi"])
            subscription.cancel()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `concurrent publishers on every loop and on threads give every loop the same id order`() async throws {
        let perPublisher = 400
        try await withLoops(configuration: .init(historyCount: 10_000, subscriberBufferCount: 10_000, firstSequenceNumber: 1)) { loops, broker in
            let subscriptions = try await loops.asyncMap { loop in
                try await onLoop(loop) { try broker.subscribeOnLoop(to: ["c"], lastEventID: nil) }
            }
            // Two loops and two threads publish at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for loop in loops {
                    group.addTask {
                        try await onLoop(loop) {
                            for n in 1...perPublisher {
                                try broker.publishOnLoop(ServerSentEvent(data: "\(loop.name) \(n)"), to: "c")
                                if n.isMultiple(of: 32) { try await loop.sleep(for: .zero) }
                            }
                        }
                    }
                }
                for thread in 0..<2 {
                    group.addTask {
                        await Task.detached {
                            for n in 1...perPublisher { broker.post(ServerSentEvent(data: "thread \(thread) \(n)"), to: "c") }
                        }.value
                    }
                }
                try await group.waitForAll()
            }
            let total = perPublisher * 4
            let received = try await subscriptions.asyncMap { try await self.take(total, from: $0) }
            for events in received {
                let sequences = events.map(\.sequence)
                #expect(sequences == Array(1...UInt64(total)), "every id once, in the order they were assigned")
                #expect(events.map(\.id) == sequences.map(String.init))
            }
            #expect(data(received[0]) == data(received[1]), "both loops saw one order")
            for subscription in subscriptions { subscription.cancel() }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `a reconnect with Last-Event-ID resumes on another loop with no gap and no duplicate while publishes race it`() async throws {
        let total = 6_000
        try await withLoops(configuration: .init(historyCount: 100_000, subscriberBufferCount: 100_000, firstSequenceNumber: 1)) { loops, broker in
            // Loop 0 publishes steadily; the client subscribes, takes some, leaves, and comes back
            // with its last id — alternately on loop 1 and loop 0.
            let publisher = Task(executorPreference: loops[0].executor) {
                for n in 1...total {
                    try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "live")
                    if n.isMultiple(of: 8) { try await loops[0].sleep(for: .zero) }
                }
            }
            var seen: [UInt64] = []
            var statuses: [ReplayStatus] = []
            var lastID: String?
            var round = 0
            while seen.last != UInt64(total) {
                let loop = loops[(round + 1) % 2]
                round += 1
                let last = lastID
                let (events, status) = try await onLoop(loop) { () -> ([BrokerEvent], ReplayStatus) in
                    let subscription = try broker.subscribeOnLoop(to: ["live"], lastEventID: last)
                    var events: [BrokerEvent] = []
                    for try await event in subscription {
                        events.append(event)
                        if events.count == 97 || event.sequence == UInt64(total) { break }
                    }
                    subscription.cancel()
                    return (events, subscription.replayStatus)
                }
                seen += events.map(\.sequence)
                statuses.append(status)
                lastID = events.last?.id ?? lastID
            }
            try await publisher.value
            // The first subscription starts live, after whatever the publisher had already sent.
            let first = try #require(seen.first)
            #expect(seen == Array(first...UInt64(total)), "every event from the first on exactly once, in order")
            #expect(statuses.first == .live)
            #expect(statuses.dropFirst().allSatisfy { $0 == .complete })
            #expect(round > 20, "the subscriber moved between loops \(round) times")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `a stalled loop's queue is bounded in bytes too: large events end its subscriptions, small ones still fit`() async throws {
        // 64 KiB per loop; events of 10,000 bytes count about 10,100 each.
        try await withLoops(
            configuration: .init(
                historyCount: 1000, subscriberBufferCount: 1000, maxPendingCrossLoopBytes: 64 * 1024, firstSequenceNumber: 1)
        ) {
            loops, broker in
            let large = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["large"], lastEventID: nil) }
            let small = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["small"], lastEventID: nil) }
            let release = await block(loops[1])
            try await onLoop(loops[0]) {
                for n in 1...5 { try broker.publishOnLoop(ServerSentEvent(data: "s\(n)"), to: "small") }
                // Twenty events of 10,000 bytes: six fit, the rest would grow the queue.
                for _ in 1...20 { try broker.publishOnLoop(ServerSentEvent(data: String(repeating: "x", count: 10_000)), to: "large") }
            }
            release.set(true)
            #expect(data(try await take(5, from: small)) == (1...5).map { "s\($0)" })
            let outcome = try await onLoop(loops[1]) { () -> (Int, SubscriptionError?) in
                var count = 0
                do {
                    for try await _ in large {
                        count += 1
                        if count == 20 { break }  // all of them queued: the bound did not hold
                    }
                } catch {
                    return (count, error as? SubscriptionError)
                }
                return (count, nil)
            }
            #expect(outcome.1 == .slowConsumer)
            #expect(outcome.0 < 20)
            small.cancel()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `a loop that falls too far behind ends its subscriptions as slow consumers and the others carry on`() async throws {
        try await withLoops(
            configuration: .init(historyCount: 1000, subscriberBufferCount: 1000, maxPendingCrossLoopEvents: 50, firstSequenceNumber: 1)
        ) {
            loops, broker in
            let onFirst = try await onLoop(loops[0]) { try broker.subscribeOnLoop(to: ["c"], lastEventID: nil) }
            let onSecond = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["c"], lastEventID: nil) }
            _ = try await onLoop(loops[0]) { try broker.publishOnLoop(ServerSentEvent(data: "0", id: "zero"), to: "c") }
            #expect(data(try await take(1, from: onSecond)) == ["0"])
            // Loop 1 is blocked (a handler that never yields) while loop 0 publishes 200 events.
            let release = await block(loops[1])
            try await onLoop(loops[0]) {
                for n in 1...200 { try broker.publishOnLoop(ServerSentEvent(data: "\(n)"), to: "c") }
            }
            release.set(true)
            #expect(data(try await take(201, from: onFirst)) == ["0"] + (1...200).map(String.init))
            // 50 events fit the queue; the rest did not: the subscription ends.
            let outcome = try await onLoop(loops[1]) { () -> ([BrokerEvent], SubscriptionError?) in
                var events: [BrokerEvent] = []
                do {
                    for try await event in onSecond { events.append(event) }
                } catch {
                    return (events, error as? SubscriptionError)
                }
                return (events, nil)
            }
            #expect(outcome.1 == .slowConsumer)
            // The client reconnects with the last id it got and replays the rest from the history.
            let lastID = outcome.0.last?.id ?? "zero"
            let resumed = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["c"], lastEventID: lastID) }
            #expect(resumed.replayStatus == .complete)
            let rest = try await take(200 - outcome.0.count, from: resumed)
            #expect(data(outcome.0 + rest) == (1...200).map(String.init))
            #expect(await broker.statistics().slowConsumerDisconnectCount == 1)
            onFirst.cancel()
            resumed.cancel()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func `a stopping loop ends its subscriptions and the broker forgets them`() async throws {
        let loops = try (0..<2).map { try EventLoop(name: "test-loop-\($0)") }
        let broker = InMemoryBroker(eventLoops: loops, configuration: .init(firstSequenceNumber: 1))
        _ = try await onLoop(loops[1]) { try broker.subscribeOnLoop(to: ["c"], lastEventID: nil) }
        let kept = try await onLoop(loops[0]) { try broker.subscribeOnLoop(to: ["c"], lastEventID: nil) }
        #expect(await broker.statistics().subscriptionCount == 2)
        await loops[1].shutdown()
        #expect(await broker.statistics().subscriptionCount == 1)
        // Publishing goes on for the loop that runs.
        let receipt = try await onLoop(loops[0]) { try broker.publishOnLoop(ServerSentEvent(data: "still here"), to: "c") }
        #expect(receipt.subscriberCount == 1)
        #expect(data(try await take(1, from: kept)) == ["still here"])
        kept.cancel()
        await loops[0].shutdown()
    }
}

/// A value shared between the test and a loop thread.
private final class Shared<Value: Sendable>: Sendable {
    private let value: SanitizerVisibleMutex<Value>
    init(_ value: Value) { self.value = SanitizerVisibleMutex(value) }
    var current: Value { value.withLock { $0 } }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
}

/// Polls `condition` every 5 ms for up to 3 s.
func eventually(_ condition: () async -> Bool) async -> Bool {
    for _ in 0..<600 {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

extension Array {
    /// `map` with an async transform, one element after the other.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
