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
/// value and ``values(for:)`` all of them. Pairs are kept in an array because queries are short
/// and order matters for repeated names.
public struct URLQuery: Sendable, Hashable {
    /// One decoded name and value.
    @usableFromInline
    struct Pair: Sendable, Hashable {
        @usableFromInline var name: String
        @usableFromInline var value: String

        @usableFromInline
        init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    @usableFromInline
    var pairs: [Pair]

    /// Parses a raw query string: the text after `?` and before any `#`, without the `?`.
    public init(_ rawQuery: Substring) {
        // Work on the raw bytes with integer offsets: no `Substring` slicing per piece, and the
        // pair count is known up front so the array is allocated once.
        pairs = PercentDecoding.withUTF8Bytes(of: rawQuery) { bytes in
            var pairs: [Pair] = []
            if bytes.isEmpty { return pairs }
            pairs.reserveCapacity(1 + bytes.count { $0 == UInt8(ascii: "&") })
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
                    pairs.append(
                        Pair(
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
        pairs = []
    }

    /// The first value given for `name`, or `nil` if the query does not mention it.
    ///
    /// A name present without a value (`?flag` or `?flag=`) yields `""`, so presence can be
    /// tested with `!= nil`.
    @inlinable
    public subscript(_ name: String) -> String? {
        for pair in pairs where pair.name == name {
            return pair.value
        }
        return nil
    }

    /// Every value given for `name`, in the order they appear; empty if there are none.
    @inlinable
    public func values(for name: String) -> [String] {
        var result: [String] = []
        for pair in pairs where pair.name == name {
            result.append(pair.value)
        }
        return result
    }

    /// Whether the query has no pairs at all.
    @inlinable
    public var isEmpty: Bool {
        pairs.isEmpty
    }

    /// The number of pairs, counting repeated names separately.
    @inlinable
    public var count: Int {
        pairs.count
    }
}

extension URLQuery: Sequence {
    /// Iterates the decoded `(name, value)` pairs in their original order.
    public struct Iterator: IteratorProtocol {
        @usableFromInline
        var base: IndexingIterator<[Pair]>

        @usableFromInline
        init(base: IndexingIterator<[Pair]>) {
            self.base = base
        }

        /// Returns the next pair, or `nil` when all have been returned.
        @inlinable
        public mutating func next() -> (name: String, value: String)? {
            guard let pair = base.next() else { return nil }
            return (pair.name, pair.value)
        }
    }

    /// Returns an iterator over the decoded `(name, value)` pairs in their original order.
    @inlinable
    public func makeIterator() -> Iterator {
        Iterator(base: pairs.makeIterator())
    }

    /// The exact number of pairs, so `Array(query)` allocates once.
    @inlinable
    public var underestimatedCount: Int {
        pairs.count
    }
}
