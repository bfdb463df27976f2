/// The non-empty `/`-separated segments of a path, as slices of the original text.
///
/// Empty segments are skipped, which is what makes a leading slash optional, a trailing slash
/// insignificant and `//` equivalent to `/`, for patterns and request paths alike. Segments are
/// views into the path, so walking them allocates nothing.
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
    /// The router calls this directly rather than through an iterator because backtracking needs
    /// to resume from a saved index. Indices come from the UTF-8 view; `/` is ASCII, so every
    /// returned bound is also a valid `Character` boundary.
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
}
