/// A Redis stream entry id, `<milliseconds>-<sequence>`, such as `1700000000000-0`.
///
/// RedisBroker assigns every event such an id from one counter per key prefix (see
/// `RedisScripts`), so ids are increasing across all channels, not only within one stream: an
/// id is a position in the whole event history, as InMemoryBroker's sequence numbers are.
struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    var milliseconds: UInt64
    var sequence: UInt64

    static let zero = StreamID(milliseconds: 0, sequence: 0)

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
            let milliseconds = Self.number(bytes[..<dash]),
            let sequence = Self.number(bytes[(dash + 1)...])
        else { return nil }
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    var description: String { "\(milliseconds)-\(sequence)" }

    static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }
}
