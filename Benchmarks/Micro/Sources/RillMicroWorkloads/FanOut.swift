import Rill

/// `InMemoryBroker` fan-out of one published event to 10,000 subscriptions of one channel.
///
/// Everything runs on the broker's loop thread: a publish batch starts with one hop onto the
/// loop (a `Task` with the loop's executor preference) and ends with one hop back, so a
/// measured publish includes at most one round trip between threads (see the round-trip
/// benchmark for its cost), never one per subscriber.
///
/// Push mode (`Subscription.attach(_:maxHeldBytes:)` with a `SubscriptionSink`: the server's
/// relay of an `EventStream(subscription)`, which writes each event's chunk from the publish
/// call) is `package` in RillPubSub, so it cannot be driven from here. The two public consumers are measured instead:
/// - ``Mode/consumerTasks``: one task per subscription doing `for try await event in
///   subscription` on the loop (a handler's way). A publish resumes 10,000 waiting
///   continuations; the publish counts as done when every consumer has received the event.
/// - ``Mode/brokerOnly``: nobody consumes; each subscription has a one-event buffer with the
///   `dropOldest` policy, so a delivery replaces the buffered event. This is the broker's side
///   alone (id, encoding once, history, the loop over 10,000 subscriptions) with the least a
///   consumer can cost, the closest public stand-in for push mode's per-subscriber call.
public final class FanOutWorkload: @unchecked Sendable {
    public enum Mode: Sendable {
        case consumerTasks
        case brokerOnly
    }

    public static let subscriberCount = 10_000
    public static let channel = "bench"
    /// What is published: broker-assigned id, an event type and a small JSON payload.
    public static let event = ServerSentEvent(data: #"{"message":"hello","from":"ada"}"#, event: "notify")

    public let mode: Mode
    public let eventLoop: EventLoop
    public let broker: InMemoryBroker
    // Loop-confined after `start`.
    private var subscriptions: [Subscription] = []
    private var consumers: [Task<Void, Never>] = []
    private var remaining = 0
    private var allReceived: UnsafeContinuation<Void, any Error>?
    private var lastSequence: UInt64 = 0

    private init(mode: Mode, eventLoop: EventLoop, broker: InMemoryBroker) {
        self.mode = mode
        self.eventLoop = eventLoop
        self.broker = broker
    }

    /// Creates a loop, a broker (default history: 1,000 events), 10,000 subscriptions and, in
    /// ``Mode/consumerTasks``, their consuming tasks; then publishes one event to warm up.
    public static func start(_ mode: Mode) async throws -> FanOutWorkload {
        let loop = try EventLoop(name: "rill-micro-fanout")
        let configuration: BrokerConfiguration =
            switch mode {
            case .consumerTasks: .init()
            case .brokerOnly: .init(subscriberBufferCount: 1, overflowPolicy: .dropOldest)
            }
        let workload = FanOutWorkload(mode: mode, eventLoop: loop, broker: InMemoryBroker(eventLoop: loop, configuration: configuration))
        try await Task(executorPreference: loop.executor) {
            try workload.subscribeAll()
        }.value
        _ = try await workload.publish(count: 1)
        return workload
    }

    private func subscribeAll() throws {
        subscriptions.reserveCapacity(Self.subscriberCount)
        for _ in 0..<Self.subscriberCount {
            let subscription = try broker.subscribeOnLoop(to: [Self.channel], lastEventID: nil)
            subscriptions.append(subscription)
            guard mode == .consumerTasks else { continue }
            consumers.append(
                Task(executorPreference: eventLoop.executor) { [self] in
                    do {
                        for try await event in subscription { received(event) }
                    } catch {
                        fatalError("subscription ended with \(error)")
                    }
                })
        }
    }

    private func received(_ event: BrokerEvent) {
        lastSequence = event.sequence
        remaining -= 1
        if remaining == 0, let allReceived {
            self.allReceived = nil
            allReceived.resume()
        }
    }

    /// Publishes `count` events one after another, each delivered to all 10,000 subscriptions
    /// (and, with consumer tasks, received by all of them) before the next; returns the total
    /// number of deliveries.
    public func publish(count: Int) async throws -> Int {
        try await Task(executorPreference: eventLoop.executor) { [self] in
            var delivered = 0
            for _ in 0..<count {
                switch mode {
                case .brokerOnly:
                    delivered += try publishOne()
                case .consumerTasks:
                    try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                        // Resumed by the last consumer; the consumers run once this task
                        // has suspended, on the same thread.
                        remaining = Self.subscriberCount
                        allReceived = continuation
                        do {
                            delivered += try publishOne()
                        } catch {
                            allReceived = nil
                            continuation.resume(throwing: error)
                        }
                    }
                }
            }
            return delivered
        }.value
    }

    private func publishOne() throws -> Int {
        let receipt = try broker.publishOnLoop(Self.event, to: Self.channel)
        precondition(receipt.subscriberCount == Self.subscriberCount, "reached \(receipt.subscriberCount) subscribers")
        return receipt.subscriberCount
    }

    /// Cancels every subscription, waits for the consumers to finish and stops the loop.
    public func shutdown() async {
        await Task(executorPreference: eventLoop.executor) { [self] in
            for subscription in subscriptions { subscription.cancel() }
            for consumer in consumers { await consumer.value }
            subscriptions = []
            consumers = []
        }.value
        await eventLoop.shutdown()
    }
}

/// One round trip from the caller onto an event loop and back: the hop that starts and ends
/// every measured batch of the fan-out and routing benchmarks.
public final class LoopRoundTripWorkload: Sendable {
    public let eventLoop: EventLoop

    public init() throws {
        eventLoop = try EventLoop(name: "rill-micro-hop")
    }

    public func roundTrip() async -> Int {
        await Task(executorPreference: eventLoop.executor) { 1 }.value
    }

    public func shutdown() async {
        await eventLoop.shutdown()
    }
}
