import Foundation
import RillCore
import Testing

@testable import Rill

/// The sliding window of the publish-to-write latency (pure: the recorder and its clock).
@Suite struct DeliveryLatencyRecorderTests {
    @Test func `a write counts once at its oldest event's latency`() {
        let recorder = DeliveryLatencyRecorder()
        let now = MonotonicClock.nanoseconds()
        recorder.record(publishedAtNanoseconds: now - 3_000_000)  // 3 ms ago
        recorder.record(publishedAtNanoseconds: now - 200_000_000)  // 200 ms ago
        recorder.record(publishedAtNanoseconds: 0)  // unknown: not counted
        let summary = DeliveryLatency(microseconds: recorder.snapshot())
        #expect(summary.writeCount == 2)
        // Two significant digits: within 1 % (and the few microseconds since `now`).
        #expect(summary.p50 >= .milliseconds(3) && summary.p50 < .milliseconds(4), "\(summary)")
        #expect(summary.max >= .milliseconds(198) && summary.max < .milliseconds(210), "\(summary)")
        #expect(summary.p99 >= .milliseconds(198) && summary.p99 <= summary.max + .milliseconds(2), "\(summary)")
    }

    @Test func `latencies beyond the trackable range count as its top`() {
        let recorder = DeliveryLatencyRecorder()
        recorder.record(publishedAtNanoseconds: 1)  // since boot: far more than 60 s
        let summary = DeliveryLatency(microseconds: recorder.snapshot())
        #expect(summary.writeCount == 1)
        #expect(summary.max >= .seconds(59) && summary.max <= .seconds(61), "\(summary)")
    }

    @Test func `samples leave after one to two windows`() async throws {
        let recorder = DeliveryLatencyRecorder(windowNanoseconds: 500_000_000)
        func count() -> Int { DeliveryLatency(microseconds: recorder.snapshot()).writeCount }
        recorder.record(publishedAtNanoseconds: MonotonicClock.nanoseconds())
        #expect(count() == 1)
        // One window later (less than two): the sample is in the previous window, still counted.
        try await Task.sleep(for: .milliseconds(600))
        recorder.record(publishedAtNanoseconds: MonotonicClock.nanoseconds())
        #expect(count() == 2)
        // Two more windows with no write: nothing is left.
        try await Task.sleep(for: .milliseconds(1100))
        #expect(count() == 0)
        #expect(DeliveryLatency(microseconds: recorder.snapshot()) == DeliveryLatency())
    }
}
