#if canImport(Glibc)
    import Glibc
#endif

/// Byte constants and character-class checks shared by the parser and serializer.
///
/// Everything here works on raw bytes because building `String`s or `Character`s per byte would
/// dominate the cost of parsing a request.
package enum HTTPBytes {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let semicolon = UInt8(ascii: ";")

    /// `tchar` from RFC 9110 §5.6.2 for bytes 0–63, one bit per byte value.
    private static let tokenMaskLow: UInt64 = 0x03FF_6CFA_0000_0000
    /// `tchar` for bytes 64–127.
    private static let tokenMaskHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// Whether `byte` may appear in a token (method, field name, transfer-coding, ...).
    ///
    /// Two 64-bit masks instead of a `switch` or table: branch-light, no array bounds checks and
    /// no lazy global initialisation on the hot path.
    @inline(__always)
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 {
            return tokenMaskLow & (1 &<< UInt64(byte)) != 0
        } else if byte < 128 {
            return tokenMaskHigh & (1 &<< UInt64(byte &- 64)) != 0
        }
        return false
    }

    /// Whether `byte` may appear in a field value or chunk extension: HTAB, SP, VCHAR and obs-text
    /// (RFC 9110 §5.5). Rejects NUL, CR, LF, every other control byte and DEL.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == tab
    }

    /// Whether `bytes` is `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name
    /// (unreserved, sub-delims and `%`-escapes), an IPv4 address, or an IP literal in brackets,
    /// then an optional `:` and digits. Empty is valid (a Host for a URI without authority).
    /// Refuses what would let two components read a different host: `@`, `/`, `\`, spaces,
    /// a second `:` outside brackets.
    static func isValidHost(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        if bytes.first == UInt8(ascii: "[") {
            index = 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "]") {
                let byte = bytes[index]
                guard isUnreservedOrSubDelimiter(byte) || byte == colon else { return false }
                index += 1
            }
            guard index < bytes.count, index > 1, isIPLiteral(UnsafeBufferPointer(rebasing: bytes[1..<index])) else { return false }
            index += 1
        } else {
            while index < bytes.count, bytes[index] != colon {
                let byte = bytes[index]
                if byte == UInt8(ascii: "%") {
                    guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                        return false
                    }
                    index += 3
                    continue
                }
                guard isUnreservedOrSubDelimiter(byte) else { return false }
                index += 1
            }
        }
        guard index < bytes.count else { return true }
        guard bytes[index] == colon else { return false }
        index += 1
        guard bytes.count - index <= 5 else { return false }
        while index < bytes.count {
            guard bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else { return false }
            index += 1
        }
        return true
    }

    /// Whether `bytes` (between the brackets) is an IPv6 address or an IPvFuture (`v` hex digits
    /// `.` then unreserved, sub-delims or `:`), RFC 3986 §3.2.2.
    static func isIPLiteral(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.first == UInt8(ascii: "v") || bytes.first == UInt8(ascii: "V") {
            guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")), dot > 1, dot + 1 < bytes.count else { return false }
            return bytes[1..<dot].allSatisfy(isHexDigit) && bytes[(dot + 1)...].allSatisfy { isUnreservedOrSubDelimiter($0) || $0 == colon }
        }
        // At most 45 characters (`ffff:…:255.255.255.255`); inet_pton wants a C string.
        guard bytes.count <= 45 else { return false }
        var text = [CChar](repeating: 0, count: bytes.count + 1)
        for (offset, byte) in bytes.enumerated() { text[offset] = CChar(bitPattern: byte) }
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    /// RFC 3986 unreserved (`ALPHA DIGIT - . _ ~`) or sub-delims (`! $ & ' ( ) * + , ; =`).
    @inline(__always)
    static func isUnreservedOrSubDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"),
            UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }

    /// ASCII lowercase of one byte; used for case-insensitive comparisons without allocating.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Whether `bytes` equals `lowercaseLiteral` ignoring ASCII case. `lowercaseLiteral` must
    /// already be lowercase.
    @inline(__always)
    static func equalsCaseInsensitive(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ lowercaseLiteral: StaticString
    ) -> Bool {
        guard bytes.count == lowercaseLiteral.utf8CodeUnitCount else { return false }
        let literal = lowercaseLiteral.utf8Start
        for index in 0..<bytes.count where lowercased(bytes[index]) != literal[index] {
            return false
        }
        return true
    }

    /// Whether `bytes` equals `literal` exactly (case-sensitive).
    @inline(__always)
    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let start = literal.utf8Start
        for index in 0..<bytes.count where bytes[index] != start[index] {
            return false
        }
        return true
    }

    /// The index of the first `LF` in `bytes[range]`, or `nil`.
    ///
    /// Header lines are often long (cookies, user agents), so this tests eight bytes per step with
    /// the classic "has zero byte" bit trick before falling back to a byte loop for the hit.
    @inline(__always)
    static func firstLineFeed(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> Int? {
        var index = range.lowerBound
        let end = range.upperBound
        if let base = bytes.baseAddress, end - index >= 8 {
            let raw = UnsafeRawPointer(base)
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let pattern: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
            while end - index >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ pattern
                // Non-zero exactly when some byte of `word` is zero, i.e. some input byte was LF.
                if (word &- ones) & ~word & highs != 0 { break }
                index &+= 8
            }
        }
        while index < end {
            if bytes[index] == lf { return index }
            index &+= 1
        }
        return nil
    }

    /// Checks that every byte of `bytes[range]` is a field-value byte (see ``isFieldValueByte(_:)``)
    /// and reports whether all of them are ASCII.
    ///
    /// Values such as `Accept`, `Cookie` or `User-Agent` are long, so eight bytes are checked per
    /// step: a word of printable ASCII (0x20–0x7E) passes with three bit tricks; any word holding a
    /// control byte, DEL or obs-text is re-checked byte by byte (HTAB and obs-text are allowed).
    @inline(__always)
    static func validateFieldValue(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ range: Range<Int>
    ) -> (isValid: Bool, isASCII: Bool) {
        var index = range.lowerBound
        let end = range.upperBound
        var isASCII = true
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while end - index >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let deleteBytes = word ^ 0x7F7F_7F7F_7F7F_7F7F
                // Some byte has its high bit set, is below 0x20, or equals 0x7F (each test is
                // exact about *whether* a byte matches, which is all that is needed here).
                let suspicious =
                    (word & highs)
                    | ((word &- 0x2020_2020_2020_2020) & ~word & highs)
                    | ((deleteBytes &- ones) & ~deleteBytes & highs)
                if suspicious != 0 {
                    for offset in index..<(index + 8) {
                        let byte = bytes[offset]
                        guard isFieldValueByte(byte) else { return (false, false) }
                        if byte >= 0x80 { isASCII = false }
                    }
                }
                index &+= 8
            }
        }
        while index < end {
            let byte = bytes[index]
            guard isFieldValueByte(byte) else { return (false, false) }
            if byte >= 0x80 { isASCII = false }
            index &+= 1
        }
        return (true, isASCII)
    }

    /// Trims optional whitespace (SP / HTAB) from both ends of `range` in `bytes`.
    @inline(__always)
    static func trimmingWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, bytes[lower] == space || bytes[lower] == tab { lower &+= 1 }
        while upper > lower, bytes[upper &- 1] == space || bytes[upper &- 1] == tab { upper &-= 1 }
        return lower..<upper
    }
}
