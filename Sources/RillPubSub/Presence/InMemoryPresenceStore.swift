/// Presence kept in this process only: the presence of a channel is what its
/// ``PresenceRegistry`` holds (for ``InMemoryBroker`` and any broker that brings no store).
public final class InMemoryPresenceStore: PresenceStore {
    public let registry: PresenceRegistry

    /// Creates a store with an empty registry.
    public init(configuration: PresenceConfiguration = .init()) {
        registry = PresenceRegistry(configuration: configuration)
    }

    public func presence(of channel: String, limit: Int) async throws -> Presence {
        let local = registry.local(channel)
        return Presence(channel: channel, count: local.connections, allMembers: Array(local.members.values), limit: limit)
    }

    public func shutdown() async {}
}
