/// An application over an ``InMemoryBroker`` keeps presence in this process, with the
/// broker's ``BrokerConfiguration/presence`` settings.
extension InMemoryBroker: PresenceStoreProvider {
    public func makePresenceStore() -> any PresenceStore {
        InMemoryPresenceStore(configuration: configuration.presence)
    }
}
