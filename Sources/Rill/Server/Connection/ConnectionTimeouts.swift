import RillCore
import RillHTTP

/// A connection's deadlines, as one value: idle (between requests), request (receiving one)
/// and heartbeat (an event stream quiet for its interval). It decides; the connection owns the
/// one timer and does what it is told.
///
/// One timer entry per connection, moved only when it fires: a deadline that moves later (every
/// request, every event written) costs no timer operation — it is compared when the timer
/// fires — and only a deadline earlier than the armed one re-arms it.
///
/// All times are the loop's milliseconds. The idle and request timeouts are the server's (passed
/// in, not stored: every byte of a connection counts at 19,000 streams).
struct ConnectionTimeouts {
    /// Which deadline is running.
    enum Kind: Equatable {
        case none, idle, request, heartbeat
    }

    /// What a fired timer means.
    enum Expiry: Equatable {
        /// Nothing is due: arm the timer for this deadline again.
        case rearm(at: UInt64)
        /// The connection stayed idle past ``ServerConfiguration/idleTimeout``.
        case idle
        /// The request was not received within ``ServerConfiguration/requestTimeout``.
        case request
        /// The event stream was quiet for its interval: write a heartbeat, then
        /// ``heartbeatWritten(now:)``.
        case heartbeatDue
        /// No deadline runs.
        case none
    }

    // Stored properties in this order: the optional and the one-byte kind last pack the value
    // into 40 bytes.
    private(set) var deadlineMilliseconds: UInt64 = 0
    /// The event stream's heartbeat interval; 0 while no stream (or no heartbeat) runs.
    private(set) var heartbeatMilliseconds: UInt64 = 0
    /// When the event stream last wrote anything.
    private(set) var lastEventWriteMilliseconds: UInt64 = 0
    /// When the armed timer fires; nil while none is armed.
    private(set) var armedMilliseconds: UInt64?
    private(set) var kind = Kind.none

    /// Which deadline runs while the connection is in `phase`.
    func kind(for phase: HTTPConnectionStateMachine.Phase) -> Kind {
        switch phase {
        case .idle: .idle
        case .receivingRequest: .request
        case .handling: heartbeatMilliseconds > 0 ? .heartbeat : .none
        case .closed: .none
        }
    }

    /// The connection entered `phase`: returns the deadline to arm the timer for, or nil when
    /// the armed timer (or none) serves. `limits` are the server's idle and request timeouts.
    mutating func enter(_ phase: HTTPConnectionStateMachine.Phase, now: UInt64, limits: Limits) -> UInt64? {
        let next = kind(for: phase)
        guard next != kind else { return nil }
        kind = next
        switch next {
        case .none: return nil
        case .idle: deadlineMilliseconds = now &+ limits.idleMilliseconds
        case .request: deadlineMilliseconds = now &+ limits.requestMilliseconds
        case .heartbeat: deadlineMilliseconds = lastEventWriteMilliseconds &+ heartbeatMilliseconds
        }
        if let armed = armedMilliseconds, armed <= deadlineMilliseconds { return nil }
        return deadlineMilliseconds
    }

    /// The server's idle and request timeouts, in milliseconds.
    struct Limits {
        let idleMilliseconds: UInt64
        let requestMilliseconds: UInt64

        init(idle: Duration, request: Duration) {
            idleMilliseconds = idle.wholeMilliseconds
            requestMilliseconds = request.wholeMilliseconds
        }
    }

    /// The connection armed its timer for `deadline`.
    mutating func armed(at deadline: UInt64) { armedMilliseconds = deadline }

    /// The timer fired at `now` (it is no longer armed): what is due.
    mutating func timerFired(now: UInt64) -> Expiry {
        armedMilliseconds = nil
        switch kind {
        case .none:
            return .none
        case .heartbeat:
            // Every write moved the deadline without touching the timer; only now compare.
            deadlineMilliseconds = lastEventWriteMilliseconds &+ heartbeatMilliseconds
            return now >= deadlineMilliseconds ? .heartbeatDue : .rearm(at: deadlineMilliseconds)
        case .idle, .request:
            if now < deadlineMilliseconds { return .rearm(at: deadlineMilliseconds) }
            let expired = kind
            kind = .none
            return expired == .idle ? .idle : .request
        }
    }

    /// An event stream started: heartbeats every `interval` of quiet (none for zero).
    mutating func startHeartbeats(every interval: Duration, now: UInt64) {
        heartbeatMilliseconds = interval.wholeMilliseconds
        lastEventWriteMilliseconds = now
    }

    /// The event stream ended.
    mutating func stopHeartbeats() { heartbeatMilliseconds = 0 }

    /// The event stream wrote something: the heartbeat is due one interval later.
    mutating func noteEventWrite(now: UInt64) { lastEventWriteMilliseconds = now }

    /// The due heartbeat was written at `now`: the deadline to arm the timer for.
    mutating func heartbeatWritten(now: UInt64) -> UInt64 {
        lastEventWriteMilliseconds = now
        deadlineMilliseconds = now &+ heartbeatMilliseconds
        return deadlineMilliseconds
    }
}
