public import RillPubSub

extension BrokerFactory {
    /// A ``RedisBroker`` on the application's first loop, feeding every loop's subscriptions,
    /// configured by URL
    /// (`redis://[[user]:password@]host[:port][/db]`): events and history are shared by every
    /// process that uses the same Redis.
    ///
    /// ```swift
    /// let app = try Application(router: router, broker: .redis(url: "redis://127.0.0.1:6379/0"))
    /// ```
    ///
    /// - Throws: ``BrokerError`` for a malformed URL; the application's initializer throws
    ///   ``BrokerError/backend(_:)`` within the connect timeout when Redis is unreachable.
    public static func redis(url: String, broker: BrokerConfiguration = .init(), keyPrefix: String = "rill:") throws -> BrokerFactory {
        let configuration = try RedisBroker.Configuration(url: url, broker: broker, keyPrefix: keyPrefix)
        return .redis(configuration)
    }

    /// A ``RedisBroker`` on the application's first loop, feeding every loop's subscriptions,
    /// with a full configuration.
    public static func redis(_ configuration: RedisBroker.Configuration) -> BrokerFactory {
        .spanningLoops { loops in try RedisBroker.connectBlocking(eventLoops: loops, configuration: configuration) }
    }
}
