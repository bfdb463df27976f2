import Testing

@testable import Rill

/// The connection's deadlines as a value: which one runs, when the one timer must move, and
/// what a fired timer means. Times are loop milliseconds.
@Suite struct ConnectionTimeoutsTests {
    private let limits = ConnectionTimeouts.Limits(idle: .seconds(60), request: .seconds(30))
    private func timeouts() -> ConnectionTimeouts { ConnectionTimeouts() }

    @Test func `each phase runs its deadline and arms the timer only when it comes earlier`() {
        var timeouts = timeouts()
        #expect(timeouts.enter(.idle, now: 1_000, limits: limits) == 61_000)
        timeouts.armed(at: 61_000)
        // Receiving a request: 30 s from now is earlier than the armed 61 s: re-arm.
        #expect(timeouts.enter(.receivingRequest, now: 2_000, limits: limits) == 32_000)
        timeouts.armed(at: 32_000)
        // Handling: no deadline; idle again later: 70 s is later than the armed 32 s — no timer work.
        #expect(timeouts.enter(.handling, now: 3_000, limits: limits) == nil)
        #expect(timeouts.kind == .none)
        #expect(timeouts.enter(.idle, now: 10_000, limits: limits) == nil)
        #expect(timeouts.deadlineMilliseconds == 70_000)
        // The same phase again changes nothing.
        #expect(timeouts.enter(.idle, now: 20_000, limits: limits) == nil)
        #expect(timeouts.deadlineMilliseconds == 70_000)
    }

    @Test func `a timer that fires before the moved deadline is re-armed, one that fires after it expires`() {
        var timeouts = timeouts()
        timeouts.armed(at: timeouts.enter(.receivingRequest, now: 0, limits: limits)!)
        _ = timeouts.enter(.handling, now: 5_000, limits: limits)
        timeouts.armed(at: timeouts.enter(.idle, now: 10_000, limits: limits) ?? 30_000)
        #expect(timeouts.timerFired(now: 30_000) == .rearm(at: 70_000))
        #expect(timeouts.armedMilliseconds == nil)
        timeouts.armed(at: 70_000)
        #expect(timeouts.timerFired(now: 70_000) == .idle)
        #expect(timeouts.kind == .none)
        #expect(timeouts.timerFired(now: 80_000) == .none)
    }

    @Test func `the request deadline expires as a request timeout`() {
        var timeouts = timeouts()
        timeouts.armed(at: timeouts.enter(.receivingRequest, now: 500, limits: limits)!)
        #expect(timeouts.timerFired(now: 30_500) == .request)
    }

    @Test func `heartbeats fall due one interval after the last write, and each write moves them without timer work`() {
        var timeouts = timeouts()
        timeouts.startHeartbeats(every: .seconds(15), now: 1_000)
        #expect(timeouts.enter(.handling, now: 1_000, limits: limits) == 16_000)
        timeouts.armed(at: 16_000)
        timeouts.noteEventWrite(now: 10_000)
        #expect(timeouts.timerFired(now: 16_000) == .rearm(at: 25_000))
        timeouts.armed(at: 25_000)
        #expect(timeouts.timerFired(now: 25_000) == .heartbeatDue)
        #expect(timeouts.heartbeatWritten(now: 25_000) == 40_000)
        timeouts.stopHeartbeats()
        // The stream ended: back to idle between requests.
        #expect(timeouts.enter(.idle, now: 26_000, limits: limits) == 86_000)
    }

    @Test func `a zero heartbeat interval means no heartbeat deadline`() {
        var timeouts = timeouts()
        timeouts.startHeartbeats(every: .zero, now: 0)
        #expect(timeouts.enter(.handling, now: 0, limits: limits) == nil)
        #expect(timeouts.kind == .none)
    }
}
