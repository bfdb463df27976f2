public import HTTPTypes

/// A request's id, in its logger's metadata (`request_id`) and echoed in the response's
/// `X-Request-Id` header: the client's (or a proxy's) `X-Request-Id` when it is 1 to
/// ``maxClientBytes`` visible ASCII characters, else one the server generates — a random
/// per-loop prefix and that loop's request count, `3f9a0c12-000000000000002a`, unique within
/// the process and unlikely to repeat across processes.
public struct RequestID: Sendable, Hashable, CustomStringConvertible {
    /// The header carrying it, both ways.
    public static let headerName = HTTPField.Name("X-Request-Id")!
    /// The longest client id kept (128 bytes); a longer one is replaced by a generated id.
    public static let maxClientBytes = 128

    private enum Storage: Sendable, Hashable {
        case client(String)
        case generated(prefix: UInt32, sequence: UInt64)
    }

    private let storage: Storage

    /// The id the client sent in `value`, if it is acceptable: 1 to ``maxClientBytes`` bytes,
    /// each visible ASCII (`!` to `~`), so that it cannot forge log lines or header lines.
    public init?(clientValue value: String) {
        let utf8 = value.utf8
        guard !utf8.isEmpty, utf8.count <= Self.maxClientBytes, utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        storage = .client(value)
    }

    /// A generated id: `prefix` (per loop, random) and `sequence` (that loop's count).
    init(prefix: UInt32, sequence: UInt64) {
        storage = .generated(prefix: prefix, sequence: sequence)
    }

    /// The id as text.
    public var description: String {
        switch storage {
        case .client(let value):
            return value
        case .generated:
            var bytes: [UInt8] = []
            appendValue(to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Appends the id's bytes to `buffer` (a response head), formatting a generated one in
    /// place: no string is made for it.
    func appendValue(to buffer: inout [UInt8]) {
        switch storage {
        case .client(let value):
            buffer.append(contentsOf: value.utf8)
        case .generated(let prefix, let sequence):
            Self.appendHex(UInt64(prefix), digits: 8, to: &buffer)
            buffer.append(UInt8(ascii: "-"))
            Self.appendHex(sequence, digits: 16, to: &buffer)
        }
    }

    private static func appendHex(_ value: UInt64, digits: Int, to buffer: inout [UInt8]) {
        for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF
            buffer.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
        }
    }
}
