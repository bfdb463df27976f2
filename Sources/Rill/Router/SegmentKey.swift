/// A path segment as a dictionary key that compares and hashes its UTF-8 bytes.
///
/// `String` equality is Unicode canonical equivalence, which costs normalization work on
/// non-ASCII text and would make `é` (NFC) and `e` + combining accent (NFD) the same route. URLs
/// identify resources by bytes, as nginx and other servers compare them, so the router does too.
/// Wrapping a `Substring` lets a request's segment be looked up without copying it into a `String`.
struct SegmentKey: Hashable {
    /// The segment's text; only its UTF-8 bytes matter.
    let text: Substring

    /// Wraps a segment for lookup or storage.
    init(_ text: Substring) {
        self.text = text
    }

    /// Byte-wise equality, with the O(1) length check first.
    static func == (lhs: SegmentKey, rhs: SegmentKey) -> Bool {
        lhs.text.utf8.count == rhs.text.utf8.count && lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    /// Hashes the raw bytes, consistent with ``==(_:_:)``.
    func hash(into hasher: inout Hasher) {
        PercentDecoding.withUTF8Bytes(of: text) { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
    }
}
