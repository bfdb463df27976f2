import Synchronization

/// A count of open `GET /stats` streams with a ceiling; a ``Lease`` holds one place until it
/// is released (with the stream's closure, whether or not the stream ever ran).
///
/// Streams opened without credentials on a hub that has them (they see totals, no channel
/// names) may hold at most ``anonymousMaximum`` places, half of them rounded down: the rest
/// stay for the operator's dashboards, which anonymous clients could otherwise lock out by
/// holding every place open.
final class HubStatsStreamLimit: Sendable {
    let maximum: Int
    /// The places streams without credentials may hold at most: `maximum / 2`.
    let anonymousMaximum: Int
    private let open = Mutex((all: 0, anonymous: 0))
    /// Called when the last place is given back (no dashboard is open any more).
    private let whenIdle: @Sendable () -> Void

    init(maximum: Int, whenIdle: @escaping @Sendable () -> Void = {}) {
        self.maximum = maximum
        anonymousMaximum = maximum / 2
        self.whenIdle = whenIdle
    }

    /// One place, or nil when all are taken — or, for a stream without credentials
    /// (`anonymous`), when it would exceed ``anonymousMaximum``.
    func lease(anonymous: Bool) -> Lease? {
        let taken = open.withLock { count in
            guard count.all < maximum, !anonymous || count.anonymous < anonymousMaximum else { return false }
            count.all += 1
            if anonymous { count.anonymous += 1 }
            return true
        }
        return taken ? Lease(self, anonymous: anonymous) : nil
    }

    /// Streams open now.
    var count: Int { open.withLock { $0.all } }

    /// One place, given back when released.
    final class Lease: Sendable {
        private let limit: HubStatsStreamLimit
        private let anonymous: Bool
        fileprivate init(_ limit: HubStatsStreamLimit, anonymous: Bool) {
            self.limit = limit
            self.anonymous = anonymous
        }
        deinit {
            let anonymous = self.anonymous
            let idle = limit.open.withLock { count in
                count.all -= 1
                if anonymous { count.anonymous -= 1 }
                return count.all == 0
            }
            if idle { limit.whenIdle() }
        }
    }
}
