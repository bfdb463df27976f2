public import RillCore

/// Makes the application's broker once its event loop exists.
///
/// ```swift
/// let app = try Application(router: router, broker: .inMemory(.init(historyCount: 100)))
/// ```
public struct BrokerFactory: Sendable {
    package let make: @Sendable (EventLoop) throws -> any Broker

    /// A factory from a closure (used by other broker modules, such as RillRedis).
    public init(_ make: @escaping @Sendable (EventLoop) throws -> any Broker) {
        self.make = make
    }

    /// The embedded in-memory broker: this process only. The default.
    public static func inMemory(_ configuration: BrokerConfiguration = .init()) -> BrokerFactory {
        BrokerFactory { loop in InMemoryBroker(eventLoop: loop, configuration: configuration) }
    }
}
