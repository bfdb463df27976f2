import Crypto
import Synchronization

/// The deliveries a relay handled recently, so that a replayed one is answered without being
/// published again.
///
/// A delivery is known by its `X-GitHub-Delivery` id and by the SHA-256 of its body. The body
/// counts because GitHub signs only the body: whoever captured a delivery can resend it with a
/// fresh id, but not with a different body. Only deliveries whose signature checked out are
/// remembered, so an unsigned request cannot fill the memory or block a real delivery.
///
/// Bounded: at most ``maxRememberedDeliveries`` deliveries (10,000 by default), each for at
/// most ``retention`` (1 hour by default); the oldest are forgotten first.
public final class RecentDeliveries: Sendable {
    /// The default of ``maxRememberedDeliveries``: 10,000 deliveries.
    public static let defaultMaxRememberedDeliveries = 10_000
    /// The default of ``retention``: 1 hour.
    public static let defaultRetention: Duration = .seconds(3600)

    /// The most deliveries remembered; the oldest is forgotten to make room.
    public let maxRememberedDeliveries: Int
    /// How long a delivery is remembered.
    public let retention: Duration

    private struct Entry {
        var keys: [String]
        var at: ContinuousClock.Instant
    }

    private struct State {
        /// Oldest first; those before `head` are forgotten.
        var entries: [Entry] = []
        var head = 0
        var known: [String: Int] = [:]
    }

    private let state = Mutex(State())

    /// Remembers up to `maxRememberedDeliveries` deliveries for `retention` each.
    public init(maxRememberedDeliveries: Int = defaultMaxRememberedDeliveries, retention: Duration = defaultRetention) {
        precondition(maxRememberedDeliveries >= 1, "maxRememberedDeliveries must be at least 1")
        self.maxRememberedDeliveries = maxRememberedDeliveries
        self.retention = retention
    }

    /// The keys a delivery is known by: its id when it has one, and its body's digest.
    static func keys(deliveryID: String?, body: [UInt8]) -> [String] {
        let digest = SHA256.hash(data: body).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 0x10 ? "0" + hex : hex
        }.joined()
        return ["body:" + digest] + (deliveryID.map { ["id:" + $0] } ?? [])
    }

    /// Remembers a delivery and returns true, or returns false when one with the same id or body
    /// was remembered within ``retention``.
    public func admit(deliveryID: String?, body: [UInt8], now: ContinuousClock.Instant = .now) -> Bool {
        let keys = Self.keys(deliveryID: deliveryID, body: body)
        return state.withLock { state in
            forgetExpired(&state, now: now)
            if keys.contains(where: { state.known[$0] != nil }) { return false }
            for key in keys { state.known[key, default: 0] += 1 }
            state.entries.append(Entry(keys: keys, at: now))
            while state.entries.count - state.head > maxRememberedDeliveries { forgetOldest(&state) }
            return true
        }
    }

    /// Forgets a delivery admitted but not handled (publishing failed), so GitHub's retry of it
    /// goes through.
    public func forget(deliveryID: String?, body: [UInt8]) {
        let keys = Self.keys(deliveryID: deliveryID, body: body)
        state.withLock { state in
            // The latest entry with these keys: empty it, so its expiry forgets nothing.
            guard let index = state.entries[state.head...].lastIndex(where: { $0.keys == keys }) else { return }
            for key in keys {
                if let count = state.known[key] { state.known[key] = count > 1 ? count - 1 : nil }
            }
            state.entries[index].keys = []
        }
    }

    /// Deliveries remembered now.
    public var count: Int { state.withLock { $0.entries.count - $0.head } }

    private func forgetExpired(_ state: inout State, now: ContinuousClock.Instant) {
        while state.head < state.entries.count, now - state.entries[state.head].at >= retention { forgetOldest(&state) }
    }

    private func forgetOldest(_ state: inout State) {
        for key in state.entries[state.head].keys {
            if let count = state.known[key] { state.known[key] = count > 1 ? count - 1 : nil }
        }
        state.head += 1
        // Compact once the forgotten prefix is the larger part.
        if state.head > state.entries.count / 2 {
            state.entries.removeFirst(state.head)
            state.head = 0
        }
    }
}
