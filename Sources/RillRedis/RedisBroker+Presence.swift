public import RillPubSub

/// An application over a ``RedisBroker`` shares presence with every process on the same Redis
/// (see `RedisPresenceStore`), with ``BrokerConfiguration/presence``'s timings.
extension RedisBroker: PresenceStoreProvider {
    public func makePresenceStore() -> any PresenceStore {
        RedisPresenceStore(broker: self)
    }
}
