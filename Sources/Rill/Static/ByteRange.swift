/// What a request's `Range` header asks of a file of known length (RFC 9110 §14.2), for the one
/// form Rill serves: a single byte range.
///
/// Everything else is ignored and the whole file is sent (200), as RFC 9110 allows: a unit
/// other than `bytes`, a malformed header, several ranges (`bytes=0-1,5-6`, which would need a
/// `multipart/byteranges` body), and any range of an empty file. Numbers too large for 64 bits
/// are taken as "past the end", so they never overflow.
enum ByteRange: Equatable {
    /// Send the whole file.
    case whole
    /// Send these bytes (206), clamped to the file.
    case partial(ClosedRange<Int64>)
    /// Nothing of the file was asked for (416, `Content-Range: bytes */length`).
    case unsatisfiable

    /// The most ranges one request may ask for: Rill serves a single range.
    static let maxRangeCount = 1

    /// Interprets the `Range` header `value` for a file of `byteCount` bytes.
    init(header value: String?, byteCount: Int64) {
        guard let value, byteCount > 0 else {
            self = .whole
            return
        }
        let trimmed = value[...].drop(while: { $0 == " " || $0 == "\t" })
        guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals].lowercased() == "bytes" else {
            self = .whole
            return
        }
        let specifiers = trimmed[trimmed.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: true)
        guard specifiers.count == Self.maxRangeCount, let range = Self.parse(specifiers[0], byteCount: byteCount) else {
            self = .whole
            return
        }
        self = range
    }

    /// One `first-last`, `first-` or `-suffixLength`, with optional spaces around it; nil when
    /// malformed (including `last` < `first`).
    private static func parse(_ specifier: Substring, byteCount: Int64) -> ByteRange? {
        let text = specifier.trimmingSpaces()
        guard let dash = text.firstIndex(of: "-") else { return nil }
        let firstText = text[..<dash]
        let lastText = text[text.index(after: dash)...]
        if firstText.isEmpty {
            guard let suffixLength = saturatingDigits(lastText) else { return nil }
            guard suffixLength > 0 else { return .unsatisfiable }
            return .partial(max(0, byteCount - suffixLength)...(byteCount - 1))
        }
        guard let first = saturatingDigits(firstText) else { return nil }
        var last = Int64.max
        if !lastText.isEmpty {
            guard let parsed = saturatingDigits(lastText), parsed >= first else { return nil }
            last = parsed
        }
        guard first < byteCount else { return .unsatisfiable }
        return .partial(first...min(last, byteCount - 1))
    }

    /// The value of a non-empty run of ASCII digits, `Int64.max` when it does not fit; nil for
    /// anything else.
    private static func saturatingDigits(_ text: Substring) -> Int64? {
        guard !text.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            value = overflow1 || overflow2 ? Int64.max : sum
        }
        return value
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        let isText: (Character) -> Bool = { $0 != " " && $0 != "\t" }
        guard let first = firstIndex(where: isText), let last = lastIndex(where: isText) else { return self[endIndex...] }
        return self[first...last]
    }
}
