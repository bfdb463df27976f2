import Synchronization

/// One subscription's place in a ``PresenceRegistry``: ``release()`` records that it ended.
/// A subscription holds its lease and releases it when it ends, whatever ends it.
///
/// An anonymous subscription that does not watch presence notices — most of them — shares one
/// lease per registry (``PresenceRegistry/makeSharedAnonymousLease()``), which takes the
/// subscription's channels when released: every byte of an idle stream counts.
public final class PresenceLease: Sendable {
    private let registry: PresenceRegistry
    private let sub: String?
    /// The channels joined; nil for the shared anonymous lease (the subscription's channels).
    private let channels: [String]?
    private let watching: Bool
    private let released = Atomic(false)

    init(registry: PresenceRegistry, sub: String?, channels: [String]?, watching: Bool) {
        self.watching = watching
        self.registry = registry
        self.sub = sub
        self.channels = channels
    }

    /// Records the end of the subscription. Idempotent; any thread. (The shared anonymous
    /// lease is released with ``release(subscriptionChannels:)``.)
    public func release() {
        guard let channels else { preconditionFailure("the shared anonymous lease is released with the subscription's channels") }
        if !released.exchange(true, ordering: .acquiringAndReleasing) { registry.leave(sub, channels: channels, watching: watching) }
    }

    /// Records the end of a subscription to `subscriptionChannels`, once per subscription: a
    /// lease of its own ignores them; the shared anonymous lease leaves them.
    package func release(subscriptionChannels: [String]) {
        if channels != nil {
            release()
        } else {
            registry.leave(nil, channels: subscriptionChannels, watching: false)
        }
    }
}
