/// Percent-decoding for the two places Rill needs it, which disagree on what to do with bad input.
///
/// Path segments are decoded *strictly*: the router matches on the decoded text and hands it to
/// handlers as parameters, so a malformed escape must not silently become a different path. Query
/// strings are decoded *leniently*, the way browsers and WHATWG `URLSearchParams` do, because
/// rejecting a whole request over a stray `%` in a tracking parameter helps nobody.
///
/// Both decoders work on the UTF-8 bytes of a `Substring` into a temporary (usually stack)
/// buffer, so the only heap allocation is the resulting `String`, and none at all when the result
/// fits in a small string.
enum PercentDecoding {
    /// Decodes one path segment, or returns `nil` when it cannot be decoded unambiguously.
    ///
    /// Fails on a `%` not followed by two hex digits, on bytes that are not valid UTF-8 after
    /// decoding, and on an encoded NUL (`%00`): no legitimate path contains NUL, and letting one
    /// through would invite truncation tricks once a parameter reaches a C file API.
    /// `+` stays a plus sign; only query strings use it for spaces.
    static func decodePathSegment(_ segment: Substring) -> String? {
        if !segment.utf8.contains(UInt8(ascii: "%")) {
            // Nothing to decode; raw bytes are already a valid `String`.
            return String(segment)
        }
        return withUTF8Bytes(of: segment) { source in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: source.count) { buffer in
                guard let count = decodePathSegment(source, into: buffer) else { return nil }
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
            }
        }
    }

    /// Strictly decodes the bytes of one path segment into `destination`, which must hold at least
    /// `source.count` bytes (decoding never grows the text).
    ///
    /// This is the allocation-free core the router uses on the request path; the rules are those
    /// of the `Substring` overload.
    /// - Returns: The number of bytes written, or `nil` if the segment is not strictly decodable.
    static func decodePathSegment(
        _ source: UnsafeBufferPointer<UInt8>,
        into destination: UnsafeMutableBufferPointer<UInt8>
    ) -> Int? {
        var count = 0
        var index = 0
        var sawNonASCII = false
        while index < source.count {
            var byte = source[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < source.count,
                    let high = hexValue(source[index + 1]),
                    let low = hexValue(source[index + 2])
                else { return nil }
                byte = high << 4 | low
                if byte == 0 { return nil }
                index += 3
            } else {
                index += 1
            }
            sawNonASCII = sawNonASCII || byte >= 0x80
            destination[count] = byte
            count += 1
        }
        // Pure ASCII is always valid UTF-8; only pay for validation when it can fail.
        if sawNonASCII && !isValidUTF8(UnsafeBufferPointer(rebasing: destination[..<count])) {
            return nil
        }
        return count
    }

    /// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or truncated
    /// sequences), checked without building a `String`.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Decodes one query-string name or value, never failing.
    ///
    /// A `%` without two hex digits after it is kept as a literal `%`, and decoded bytes that are
    /// not valid UTF-8 are repaired with U+FFFD, matching what browsers produce.
    /// - Parameter plusAsSpace: Whether `+` means a space (`application/x-www-form-urlencoded`).
    static func decodeQueryComponent(_ component: Substring, plusAsSpace: Bool = true) -> String {
        withUTF8Bytes(of: component) { decodeQueryComponent($0, plusAsSpace: plusAsSpace) }
    }

    /// Decodes the UTF-8 bytes of one query-string name or value; the rules are those of the
    /// `Substring` overload. Bytes without `%` or `+` become the `String` directly.
    static func decodeQueryComponent(_ source: UnsafeBufferPointer<UInt8>, plusAsSpace: Bool = true) -> String {
        let needsWork = source.contains { byte in
            byte == UInt8(ascii: "%") || (plusAsSpace && byte == UInt8(ascii: "+"))
        }
        if !needsWork {
            return String(decoding: source, as: UTF8.self)
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: source.count) { buffer in
            var count = 0
            var index = 0
            while index < source.count {
                let byte = source[index]
                if byte == UInt8(ascii: "%"), index + 2 < source.count,
                    let high = hexValue(source[index + 1]),
                    let low = hexValue(source[index + 2])
                {
                    buffer[count] = high << 4 | low
                    index += 3
                } else if plusAsSpace && byte == UInt8(ascii: "+") {
                    buffer[count] = UInt8(ascii: " ")
                    index += 1
                } else {
                    // Includes a `%` that does not start a valid escape: kept as is, and the
                    // bytes after it are examined afresh (so `%%41` decodes to `%A`).
                    buffer[count] = byte
                    index += 1
                }
                count += 1
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
        }
    }

    /// The value of an ASCII hex digit, or `nil` for any other byte.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// Runs `body` over the contiguous UTF-8 bytes of `text`.
    ///
    /// Native Swift strings are always contiguous, so the copy in the fallback only happens for
    /// bridged strings, which the server never produces itself.
    @inline(__always)
    static func withUTF8Bytes<Result>(
        of text: Substring,
        _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) {
            return result
        }
        var copy = String(text)
        return copy.withUTF8(body)
    }
}
