internal import RillPubSub

/// A Redis stream entry id, `<milliseconds>-<sequence>`, such as `1700000000000-0`.
///
/// RedisBroker assigns every event such an id from one counter per key prefix (see
/// `RedisScripts`), so ids are increasing across all channels, not only within one stream: an
/// id is a position in the whole event history, as InMemoryBroker's sequence numbers are.
struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    var milliseconds: UInt64
    var sequence: UInt64

    static let zero = StreamID(milliseconds: 0, sequence: 0)
    /// The greatest id Redis accepts (no entry can follow it).
    static let greatest = StreamID(milliseconds: .max, sequence: .max)

    init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Parses exactly `digits-digits`; anything else (a publisher's own id, a bare number) is nil.
    init?(_ text: some StringProtocol) {
        self.init(bytes: Array(text.utf8)[...])
    }

    init?(bytes: ArraySlice<UInt8>) {
        guard let dash = bytes.firstIndex(of: UInt8(ascii: "-")),
            let milliseconds = PositionID.number(bytes[..<dash]),
            let sequence = PositionID.number(bytes[(dash + 1)...])
        else { return nil }
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// The entry id a position id stands for (`PositionID`: `~1700000000000-3`, or
    /// `~1700000000000` for sequence 0); nil for any other id.
    init?(positionID id: String) {
        guard let (milliseconds, sequence) = PositionID.parse(id) else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    /// This position as an SSE id (`PositionID`).
    var positionID: String { PositionID.format(milliseconds, sequence) }

    var description: String { "\(milliseconds)-\(sequence)" }

    static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }
}
