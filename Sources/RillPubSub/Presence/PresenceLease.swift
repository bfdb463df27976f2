import Synchronization

/// One subscription's place in a ``PresenceRegistry``: ``release()`` records that it ended.
/// A subscription holds its lease and releases it when it ends, whatever ends it. Every stream
/// has one: its flag is an inline atomic, not a lock of its own.
public final class PresenceLease: Sendable {
    private let registry: PresenceRegistry
    private let sub: String?
    private let channels: [String]
    private let watching: Bool
    private let released = Atomic(false)

    init(registry: PresenceRegistry, sub: String?, channels: [String], watching: Bool) {
        self.watching = watching
        self.registry = registry
        self.sub = sub
        self.channels = channels
    }

    /// Records the end of the subscription. Idempotent; any thread.
    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { registry.leave(sub, channels: channels, watching: watching) }
    }
}
