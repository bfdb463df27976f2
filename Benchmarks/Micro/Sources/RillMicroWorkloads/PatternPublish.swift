import Rill

/// `InMemoryBroker` publishes while many pattern subscriptions are registered: what matching a
/// publish against the patterns costs (issue 17: it must not grow with the number of
/// subscribers, and should not with the number of patterns that cannot match).
///
/// One subscription per pattern, each with a one-event buffer and the `dropOldest` policy, so a
/// delivery replaces the buffered event and nobody needs to consume. Every operation publishes
/// one event to `users/42/inbox`, on the broker's loop.
public final class PatternPublishWorkload: @unchecked Sendable {
    /// How the registered patterns are shaped.
    public enum Shape: Sendable {
        /// `users/<i>/**`: distinct literal prefixes; a publish to `users/42/inbox` matches one.
        case distinctPrefixes
        /// `users/*-<i>/**`: wildcards side by side under one literal, every one of them checked
        /// against the channel's second segment (the worst case the index has); none match.
        case wildcardsSideBySide
        /// `**/<i>/inbox`: `**` first, distinct tails under the root; a publish to
        /// `users/42/inbox` matches one (the tails are found from the end of the name).
        case leadingDoubleStars
    }

    public static let channel = "users/42/inbox"
    public static let event = ServerSentEvent(data: #"{"message":"hello","from":"ada"}"#, event: "notify")

    public let eventLoop: EventLoop
    public let broker: InMemoryBroker
    public let expectedSubscribers: Int
    private var subscriptions: [Subscription] = []

    private init(eventLoop: EventLoop, broker: InMemoryBroker, expectedSubscribers: Int) {
        self.eventLoop = eventLoop
        self.broker = broker
        self.expectedSubscribers = expectedSubscribers
    }

    /// A loop, a broker and `patternCount` pattern subscriptions of `shape`.
    public static func start(patternCount: Int, shape: Shape) async throws -> PatternPublishWorkload {
        let loop = try EventLoop(name: "rill-micro-patterns")
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(subscriberBufferCount: 1, overflowPolicy: .dropOldest))
        let matching = shape != .wildcardsSideBySide && patternCount > 42 ? 1 : 0
        let workload = PatternPublishWorkload(eventLoop: loop, broker: broker, expectedSubscribers: matching)
        try await Task(executorPreference: loop.executor) {
            for index in 0..<patternCount {
                let text =
                    switch shape {
                    case .distinctPrefixes: "users/\(index)/**"
                    case .wildcardsSideBySide: "users/*-\(index)/**"
                    case .leadingDoubleStars: "**/\(index)/inbox"
                    }
                workload.subscriptions.append(
                    try broker.subscribeOnLoop(to: [], matching: [try ChannelPattern(text)], lastEventID: nil))
            }
        }.value
        _ = try await workload.publish(count: 1)
        return workload
    }

    /// Publishes `count` events; returns the deliveries.
    public func publish(count: Int) async throws -> Int {
        try await Task(executorPreference: eventLoop.executor) { [self] in
            var delivered = 0
            for _ in 0..<count {
                let receipt = try broker.publishOnLoop(Self.event, to: Self.channel)
                precondition(receipt.subscriberCount == expectedSubscribers, "reached \(receipt.subscriberCount) subscribers")
                delivered += receipt.subscriberCount
            }
            return delivered
        }.value
    }

    /// Cancels the subscriptions and stops the loop.
    public func shutdown() async {
        await Task(executorPreference: eventLoop.executor) { [self] in
            for subscription in subscriptions { subscription.cancel() }
            subscriptions = []
        }.value
        await eventLoop.shutdown()
    }
}
