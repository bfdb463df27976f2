import Synchronization

/// A count of open `GET /stats` streams with a ceiling; a ``Lease`` holds one place until it
/// is released (with the stream's closure, whether or not the stream ever ran).
final class HubStatsStreamLimit: Sendable {
    let maximum: Int
    private let open = Mutex(0)
    /// Called when the last place is given back (no dashboard is open any more).
    private let whenIdle: @Sendable () -> Void

    init(maximum: Int, whenIdle: @escaping @Sendable () -> Void = {}) {
        self.maximum = maximum
        self.whenIdle = whenIdle
    }

    /// One place, or nil when all are taken.
    func lease() -> Lease? {
        let taken = open.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
        return taken ? Lease(self) : nil
    }

    /// Streams open now.
    var count: Int { open.withLock { $0 } }

    /// One place, given back when released.
    final class Lease: Sendable {
        private let limit: HubStatsStreamLimit
        fileprivate init(_ limit: HubStatsStreamLimit) { self.limit = limit }
        deinit {
            let idle = limit.open.withLock { count in
                count -= 1
                return count == 0
            }
            if idle { limit.whenIdle() }
        }
    }
}
