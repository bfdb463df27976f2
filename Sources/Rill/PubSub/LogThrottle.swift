import RillCore
import Synchronization

/// Lets one message through per interval: a failure that repeats for every event (a broker
/// outage) is logged once per interval, not once per event.
final class LogThrottle: Sendable {
    private let intervalMilliseconds: Int64
    private let lastMilliseconds = Atomic<Int64>(Int64.min / 2)

    init(intervalMilliseconds: Int64) { self.intervalMilliseconds = intervalMilliseconds }

    /// Whether a message may be logged now (and, if so, the next only after the interval).
    func allows() -> Bool {
        let now = Int64(MonotonicClock.nanoseconds() / 1_000_000)
        let last = lastMilliseconds.load(ordering: .relaxed)
        guard now - last >= intervalMilliseconds else { return false }
        return lastMilliseconds.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
    }
}
