public import RillCore

/// Makes the application's broker once its event loops exist.
///
/// ```swift
/// let app = try Application(router: router, broker: .inMemory(.init(historyCount: 100)))
/// ```
public struct BrokerFactory: Sendable {
    /// Makes the broker for the application's loops (the first is the application's
    /// `eventLoop`).
    package let make: @Sendable ([EventLoop]) throws -> any Broker

    /// A factory for a broker that lives on one loop, the application's first (used by other
    /// broker modules, such as RillRedis). Subscriptions made on the application's other loops
    /// are relayed from it.
    public init(_ make: @escaping @Sendable (EventLoop) throws -> any Broker) {
        self.make = { loops in try make(loops[0]) }
    }

    private init(loops make: @escaping @Sendable ([EventLoop]) throws -> any Broker) {
        self.make = make
    }

    /// A factory for a broker that serves every one of the application's loops: a subscription
    /// made on a loop lives on it.
    public static func spanningLoops(_ make: @escaping @Sendable ([EventLoop]) throws -> any Broker) -> BrokerFactory {
        BrokerFactory(loops: make)
    }

    /// The embedded in-memory broker: this process only, fan-out on every loop. The default.
    public static func inMemory(_ configuration: BrokerConfiguration = .init()) -> BrokerFactory {
        .spanningLoops { loops in InMemoryBroker(eventLoops: loops, configuration: configuration) }
    }
}
