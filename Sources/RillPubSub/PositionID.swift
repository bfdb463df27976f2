/// The SSE id form of a position in a broker's one id order: `~` and one number (`~1234`, the
/// in-memory broker's sequence number) or two joined by `-` (`~1700000000000-3`, a Redis entry
/// id; `~1700000000000` when its second part is 0).
///
/// An event stream of a subscription opens with its position (`id: ~1234` and a blank line,
/// which per the SSE specification sets the client's last event id without dispatching an
/// event), so a client that reconnects before its first event still resumes where it started.
/// The brokers read the form back in `Last-Event-ID`; publishers may not use it for their own
/// ids (``BrokerError/invalidEvent(_:)``), so it can never name an event.
package enum PositionID {
    /// The id's first byte.
    static let marker = UInt8(ascii: "~")

    /// The id of position `first` (and `second`, when not 0).
    package static func format(_ first: UInt64, _ second: UInt64 = 0) -> String {
        second == 0 ? "~\(first)" : "~\(first)-\(second)"
    }

    /// The numbers of a position id (the second 0 when absent); nil for any other id.
    package static func parse(_ id: String) -> (first: UInt64, second: UInt64)? {
        guard id.utf8.first == marker else { return nil }
        var contiguous = id
        return contiguous.withUTF8(parse)
    }

    /// Whether `id` has the position form (reserved: no publisher may use it).
    package static func isPosition(_ id: String) -> Bool {
        parse(id) != nil
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (first: UInt64, second: UInt64)? {
        guard bytes.first == marker else { return nil }
        let rest = UnsafeBufferPointer(rebasing: bytes[1...])
        guard let dash = rest.firstIndex(of: UInt8(ascii: "-")) else {
            return number(rest[...]).map { ($0, 0) }
        }
        guard let first = number(rest[..<dash]), let second = number(rest[(dash + 1)...]) else { return nil }
        return (first, second)
    }

    /// The value of 1 to 20 decimal digits that fit in 64 bits; nil for anything else (a sign,
    /// a space, an empty run). Shared by the brokers' id parsers; inlinable, so that the Redis
    /// broker's parse of every received event's id is specialised, not a generic call.
    @inlinable
    package static func number(_ digits: some Collection<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            let (times10, overflowed) = value.multipliedReportingOverflow(by: 10)
            let (sum, carried) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            guard !overflowed, !carried else { return nil }
            value = sum
        }
        return value
    }
}
