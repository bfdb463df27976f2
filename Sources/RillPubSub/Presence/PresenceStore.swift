/// Where presence is kept and read: this process's ``PresenceRegistry``, and for a broker shared
/// by several processes, what the others registered.
///
/// ```swift
/// let lease = store.registry.join("alice", channels: ["chat"])
/// let presence = try await store.presence(of: "chat", limit: 100)
/// lease.release()
/// ```
public protocol PresenceStore: AnyObject, Sendable {
    /// This process's presence; every stream joins it.
    var registry: PresenceRegistry { get }

    /// The presence of `channel` in every process that shares the store, listing at most
    /// `limit` members.
    ///
    /// - Throws: ``BrokerError/backend(_:)`` when a shared store cannot be read.
    func presence(of channel: String, limit: Int) async throws -> Presence

    /// Removes this process's entries from a shared store (a clean shutdown, once the streams
    /// ended); later joins are not shared any more. Nothing to do in memory.
    func shutdown() async

    /// Calls `completion` with those of `channels` whose presence notices some stream watches
    /// (`presence=1`), in any process sharing the store: the only ones worth announcing. A store
    /// of one process announces only watched channels already and passes them all through (the
    /// default).
    func watchedChannels(among channels: [String], _ completion: @escaping @Sendable (Set<String>) -> Void)
}

extension PresenceStore {
    public func watchedChannels(among channels: [String], _ completion: @escaping @Sendable (Set<String>) -> Void) {
        completion(Set(channels))
    }
}

/// A broker that brings its own ``PresenceStore`` (the Redis broker shares presence across
/// processes). An application over any other broker keeps presence in memory.
public protocol PresenceStoreProvider: Broker {
    /// Makes the presence store of an application over this broker (called once).
    func makePresenceStore() -> any PresenceStore
}
