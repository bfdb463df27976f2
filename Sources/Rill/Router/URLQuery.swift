/// The name/value pairs of a URL query string, decoded and in their original order.
///
/// Parsing follows `application/x-www-form-urlencoded` as browsers send it: pairs are separated by
/// `&`, a name is separated from its value by the first `=`, `+` means a space and `%XX` escapes
/// are decoded in names and values alike. It is deliberately lenient, because queries come
/// straight from browsers, links and crawlers:
/// - a piece without `=` (`?flag`) has the value `""`;
/// - empty pieces (`a=1&&b=2`, or a trailing `&`) are skipped;
/// - a `%` that does not start a valid escape is kept literally, and decoded bytes that are not
///   valid UTF-8 become U+FFFD.
///
/// A name may occur several times (`?channel=a&channel=b`); ``subscript(_:)`` returns the first
/// value and ``values(for:)`` all of them. Pairs are kept in a small array (`NameValuePairs`,
/// shared with ``Parameters``) because queries are short and order matters for repeated names.
public struct URLQuery: Sendable, Hashable {
    @usableFromInline
    var pairs: NameValuePairs

    /// Parses a raw query string: the text after `?` and before any `#`, without the `?`.
    public init(_ rawQuery: Substring) {
        // Work on the raw bytes with integer offsets: no `Substring` slicing per piece, and the
        // pair count is known up front so the array is allocated once.
        pairs = PercentDecoding.withUTF8Bytes(of: rawQuery) { bytes in
            var pairs = NameValuePairs()
            if bytes.isEmpty { return pairs }
            pairs.pairs.reserveCapacity(1 + bytes.count { $0 == UInt8(ascii: "&") })
            var start = 0
            while start < bytes.count {
                // Find the end of this piece and the first `=` inside it in one pass.
                var end = start
                var equals = -1
                while end < bytes.count && bytes[end] != UInt8(ascii: "&") {
                    if equals < 0 && bytes[end] == UInt8(ascii: "=") { equals = end }
                    end += 1
                }
                if end > start {
                    let nameEnd = equals < 0 ? end : equals
                    let valueStart = equals < 0 ? end : equals + 1
                    pairs.pairs.append(
                        NameValuePairs.Pair(
                            name: PercentDecoding.decodeQueryComponent(
                                UnsafeBufferPointer(rebasing: bytes[start..<nameEnd])),
                            value: PercentDecoding.decodeQueryComponent(
                                UnsafeBufferPointer(rebasing: bytes[valueStart..<end]))))
                }
                start = end + 1
            }
            return pairs
        }
    }

    /// Parses a raw query string: the text after `?` and before any `#`, without the `?`.
    public init(_ rawQuery: String) {
        self.init(rawQuery[...])
    }

    /// Creates an empty query.
    public init() {
        pairs = NameValuePairs()
    }

    /// The first value given for `name`, or `nil` if the query does not mention it.
    ///
    /// A name present without a value (`?flag` or `?flag=`) yields `""`, so presence can be
    /// tested with `!= nil`.
    @inlinable
    public subscript(_ name: String) -> String? {
        pairs.first(named: name)
    }

    /// Every value given for `name`, in the order they appear; empty if there are none.
    @inlinable
    public func values(for name: String) -> [String] {
        pairs.all(named: name)
    }

    /// Whether the query has no pairs at all.
    @inlinable
    public var isEmpty: Bool {
        pairs.pairs.isEmpty
    }

    /// The number of pairs, counting repeated names separately.
    @inlinable
    public var count: Int {
        pairs.pairs.count
    }
}

extension URLQuery: Sequence {
    /// Iterates the decoded `(name, value)` pairs in their original order.
    public typealias Iterator = NameValueIterator

    /// Returns an iterator over the decoded `(name, value)` pairs in their original order.
    @inlinable
    public func makeIterator() -> Iterator {
        Iterator(pairs)
    }

    /// The exact number of pairs, so `Array(query)` allocates once.
    @inlinable
    public var underestimatedCount: Int {
        pairs.pairs.count
    }
}
