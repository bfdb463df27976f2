import Histogram
import RillCore

/// One loop's publish-to-write latency of relayed events, over a sliding window: for each
/// write of an event stream's pending live events, the time from the publish of the oldest event
/// in it (``BrokerEvent/publishedAtNanoseconds``) to the write handed to the transport. Events
/// that share a write count as one sample, at the oldest one's latency (the write's worst case).
/// Replayed events are not counted: their wait is the client's absence, not the server's.
///
/// Two HdrHistograms (microseconds, two significant digits, 1 µs to 60 s, about 20 KB each) take
/// turns: one fills during ``windowNanoseconds``, then becomes the previous window; a
/// ``snapshot()`` holds both, so it covers the last one to two windows. Recording costs a clock
/// read and a bucket increment, once per write (not per event or subscriber). Loop-confined.
final class DeliveryLatencyRecorder {
    /// How long one histogram fills before it becomes the previous one, by default.
    static let defaultWindowNanoseconds: UInt64 = 5_000_000_000
    /// The largest latency told apart; longer ones count as this (60 s, in microseconds).
    static let highestTrackableMicroseconds: UInt64 = 60_000_000

    private var current = DeliveryLatencyRecorder.makeHistogram()
    private var previous = DeliveryLatencyRecorder.makeHistogram()
    private var currentStart: UInt64 = 0
    /// How long one histogram fills before it becomes the previous one.
    let windowNanoseconds: UInt64

    init(windowNanoseconds: UInt64 = DeliveryLatencyRecorder.defaultWindowNanoseconds) {
        self.windowNanoseconds = windowNanoseconds
    }

    static func makeHistogram() -> Histogram<UInt32> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableMicroseconds, numberOfSignificantValueDigits: .two)
    }

    /// Records a write now of events the oldest of which was published at `publishedAtNanoseconds`
    /// (0: unknown, not recorded).
    func record(publishedAtNanoseconds: UInt64) {
        guard publishedAtNanoseconds > 0 else { return }
        let now = MonotonicClock.nanoseconds()
        rotate(now: now)
        let microseconds = now > publishedAtNanoseconds ? (now - publishedAtNanoseconds) / 1000 : 0
        current.record(min(max(microseconds, 1), Self.highestTrackableMicroseconds))
    }

    /// The last one to two windows' samples.
    func snapshot() -> Histogram<UInt32> {
        rotate(now: MonotonicClock.nanoseconds())
        var both = previous
        both.add(current)
        return both
    }

    /// Starts a new window once the current one is over; the windows that passed with no write
    /// leave nothing behind.
    private func rotate(now: UInt64) {
        let elapsed = now &- currentStart
        guard elapsed >= windowNanoseconds else { return }
        if elapsed >= 2 * windowNanoseconds {
            previous.reset()
        } else {
            swap(&previous, &current)
        }
        current.reset()
        currentStart = now
    }
}
