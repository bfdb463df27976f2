/// The non-empty `/`-separated segments of a path, as slices of the original text.
///
/// Empty segments are skipped, which is what makes a leading slash optional, a trailing slash
/// insignificant and `//` equivalent to `/`, for patterns and request paths alike. Segments are
/// views into the path, so walking them allocates nothing. The iterator serves pattern parsing;
/// request matching uses the byte-offset overload of `segment(in:from:)`.
struct PathSegments: Sequence, IteratorProtocol {
    /// The whole path being split.
    let path: Substring
    /// Where the search for the next segment starts.
    private var position: String.Index

    /// Splits `path`, which must not include a query string.
    init(_ path: Substring) {
        self.path = path
        self.position = path.startIndex
    }

    /// Returns the next non-empty segment, or `nil` once only slashes (or nothing) remain.
    mutating func next() -> Substring? {
        guard let found = Self.segment(in: path, from: position) else {
            position = path.endIndex
            return nil
        }
        position = found.upperBound
        return path[found]
    }

    /// Finds the first non-empty segment of `path` at or after `position`.
    ///
    /// Indices come from the UTF-8 view; `/` is ASCII, so every returned bound is also a valid
    /// `Character` boundary.
    @inline(__always)
    static func segment(in path: Substring, from position: String.Index) -> Range<String.Index>? {
        let bytes = path.utf8
        var index = position
        while index < bytes.endIndex && bytes[index] == UInt8(ascii: "/") {
            index = bytes.index(after: index)
        }
        if index == bytes.endIndex { return nil }
        let start = index
        while index < bytes.endIndex && bytes[index] != UInt8(ascii: "/") {
            index = bytes.index(after: index)
        }
        return start..<index
    }

    /// Finds the first non-empty segment of the UTF-8 `path` at or after offset `position`, noting
    /// whether it contains `%` so the router can skip decoding the (usual) segments without one.
    ///
    /// This is the router's hot-path variant: plain offsets into the request's bytes, one pass.
    @inline(__always)
    static func segment(
        in path: UnsafeBufferPointer<UInt8>,
        from position: Int
    ) -> (start: Int, end: Int, containsPercent: Bool)? {
        var start = position
        while start < path.count && path[start] == UInt8(ascii: "/") {
            start += 1
        }
        if start == path.count { return nil }
        var end = start
        var containsPercent = false
        while end < path.count {
            let byte = path[end]
            if byte == UInt8(ascii: "/") { break }
            containsPercent = containsPercent || byte == UInt8(ascii: "%")
            end += 1
        }
        return (start, end, containsPercent)
    }
}
