package import RillSSE

/// An event encoded before its id is known, ready to take it. The in-memory broker gives an
/// event without an id its sequence number, which exists only under its lock; encoding it there
/// held the lock for half of a publish. Here everything is encoded and allocated before: under
/// the lock, ``encoded(withID:)`` appends the digits and the rest of the event into capacity
/// reserved for them.
package struct EventAwaitingID {
    /// The wire bytes up to and including `id: `, with capacity for the digits and the rest.
    private var head: [UInt8]
    /// The wire bytes after the id's value: the rest of its line, then the event's other lines.
    private let tail: ArraySlice<UInt8>

    /// Encodes `event` (whose id is nil) around the id to come.
    package init(_ event: ServerSentEvent) throws(BrokerError) {
        var withEmptyID = event
        withEmptyID.id = ""
        let template: [UInt8]
        do { template = try withEmptyID.encoded() } catch { throw BrokerError.invalidEvent(error.description) }
        // The lines before the id are comments (`:` first) and the type (`event:` first), so
        // the first line that is exactly `id:` is the id's.
        var lineStart = 0
        while lineStart + 3 < template.count {
            if template[lineStart] == UInt8(ascii: "i"), template[lineStart + 1] == UInt8(ascii: "d"),
                template[lineStart + 2] == UInt8(ascii: ":"), template[lineStart + 3] == UInt8(ascii: "\n")
            {
                break
            }
            guard let lineEnd = template[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else {
                preconditionFailure("an encoded event with an id has an id line")
            }
            lineStart = lineEnd + 1
        }
        tail = template[(lineStart + 3)...]
        head = []
        head.reserveCapacity(template.count + 1 + Self.maxDigits)
        head.append(contentsOf: template[..<lineStart])
        head.append(contentsOf: [UInt8(ascii: "i"), UInt8(ascii: "d"), UInt8(ascii: ":"), UInt8(ascii: " ")])
    }

    /// The digits of `UInt64.max`.
    private static let maxDigits = 20

    /// The wire bytes with `id: <sequence>`: exactly what encoding the event with
    /// `id = String(sequence)` gives. Consumes the prepared bytes (appended to in place).
    package mutating func encoded(withID sequence: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        swap(&bytes, &head)
        var divisor: UInt64 = 1
        while divisor <= sequence / 10 { divisor *= 10 }
        var rest = sequence
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
        bytes.append(contentsOf: tail)
        return bytes
    }
}
