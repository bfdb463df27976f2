import RillCore

/// One subscription's place in a ``PresenceRegistry``: ``release()`` records that it ended.
/// A subscription holds its lease and releases it when it ends, whatever ends it.
public final class PresenceLease: Sendable {
    private let registry: PresenceRegistry
    private let sub: String?
    private let channels: [String]
    private let released = SanitizerVisibleMutex(false)

    init(registry: PresenceRegistry, sub: String?, channels: [String]) {
        self.registry = registry
        self.sub = sub
        self.channels = channels
    }

    /// Records the end of the subscription. Idempotent; any thread.
    public func release() {
        let first = released.withLock { released in
            defer { released = true }
            return !released
        }
        if first { registry.leave(sub, channels: channels) }
    }
}
