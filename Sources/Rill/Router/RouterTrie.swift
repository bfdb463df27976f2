/// A prefix tree from path patterns to values: the routing core, without any HTTP.
///
/// The router above stores one value per path (a table of method → handler) and decides between
/// 404 and 405 itself; this type only answers "which pattern does this path match, and what did it
/// capture".
///
/// ## Patterns
/// Patterns are split on `/`. A leading slash is optional, a trailing slash is ignored and empty
/// segments collapse, so `/users/`, `users` and `//users` are the same pattern. Each segment is one
/// of:
/// - a literal, compared byte for byte with the *decoded* request segment. Write literals
///   decoded: the pattern `/café` matches the request path `/caf%C3%A9`, and a `%` in a pattern
///   is a literal percent sign (`/100%` matches `/100%25`);
/// - `:name`, a parameter capturing exactly one non-empty segment, percent-decoded;
/// - `*`, a wildcard matching exactly one non-empty segment without capturing it;
/// - `**`, a catch-all that must be the last segment and captures the rest of the path, possibly
///   empty, as ``Parameters/catchAll``.
///
/// Only segments that are exactly `*` or `**`, or that start with `:`, are special.
///
/// ## Matching
/// At every level the candidates are tried in the order literal, parameter, wildcard, catch-all,
/// backtracking when a branch fails deeper down: with `/a/b/d` and `/a/:x/c` registered, `/a/b/c`
/// matches the second with `x` = `b`. Each node is visited at most once per lookup, so the cost is
/// bounded by the path length and the size of the tree, never exponential.
///
/// Request segments are percent-decoded strictly (see `PercentDecoding.decodePathSegment`): a
/// path containing a malformed escape, an escape that decodes to invalid UTF-8, or `%00` matches
/// nothing, so the router answers 404 rather than guessing. `.` and `..` are ordinary segments
/// here; path traversal is the static-file layer's business.
///
/// Nodes live in one flat array and refer to each other by index, which keeps the trie a plain
/// value type (cheap to copy into an immutable, `Sendable` router once setup is done) and keeps
/// lookups free of reference counting on node objects.
struct RouterTrie<Value> {
    /// One position in the tree: what ends here and where each kind of segment leads.
    struct Node {
        /// The value of the pattern ending exactly at this node.
        var value: Value?
        /// The value of the pattern ending in `**` at this node.
        var catchAllValue: Value?
        /// Literal children in insertion order, scanned linearly while there are few of them.
        var literals: [(segment: String, child: Int)] = []
        /// The same children keyed by bytes, built once a node has too many for a linear scan.
        var literalIndex: [SegmentKey: Int]?
        /// The `:name` child; at most one, because one position has one parameter name.
        var parameter: (name: String, child: Int)?
        /// The `*` child.
        var wildcard: Int?
    }

    /// Above this many literal children a node switches from linear scan to hashing. Comparing a
    /// few short byte strings (length first) beats hashing the segment; hundreds do not.
    static var linearScanLimit: Int { 8 }

    /// All nodes; index 0 is the root, which stands for the path `/`.
    private var nodes: [Node] = [Node()]

    /// The most values any single pattern captures, so a lookup can size its capture buffer once.
    private var maxCaptureCount = 0

    /// Creates an empty trie, in which every path resolves to `nil`.
    init() {}

    /// Associates `value` with `pattern`, replacing any value it already had.
    ///
    /// Traps on malformed patterns; see ``update(_:default:_:)``.
    mutating func insert(_ pattern: String, value: Value) {
        update(pattern, default: value) { $0 = value }
    }

    /// Modifies the value stored for `pattern` in place, starting from `default` when the pattern
    /// has none yet.
    ///
    /// This is how the router accumulates one method table per path: the first `GET /users` and
    /// the later `POST /users` land in the same value.
    ///
    /// Route tables are written by the application, not by peers, so malformed patterns are
    /// programmer errors and trap with a message naming the pattern: `**` anywhere but last, a
    /// parameter with an empty name or a name containing `*`, the same name twice in one pattern,
    /// or a parameter whose name differs from the one an earlier pattern used at the same position
    /// (`/u/:id` then `/u/:name`), which would make the captured name depend on insertion order.
    mutating func update(_ pattern: String, default defaultValue: Value, _ body: (inout Value) -> Void) {
        var current = 0
        var names: [String] = []
        var segments = PathSegments(pattern[...])
        var isCatchAll = false
        while let segment = segments.next() {
            if segment == "**" {
                precondition(
                    segments.next() == nil,
                    "Route pattern '\(pattern)': '**' must be the last segment")
                isCatchAll = true
                break
            } else if segment == "*" {
                if let child = nodes[current].wildcard {
                    current = child
                } else {
                    let child = appendNode()
                    nodes[current].wildcard = child
                    current = child
                }
            } else if segment.utf8.first == UInt8(ascii: ":") {
                let name = String(segment.dropFirst())
                precondition(!name.isEmpty, "Route pattern '\(pattern)': a parameter needs a name after ':'")
                precondition(
                    !name.contains("*"),
                    "Route pattern '\(pattern)': parameter name '\(name)' must not contain '*'")
                precondition(
                    !names.contains(name),
                    "Route pattern '\(pattern)': parameter ':\(name)' appears more than once")
                names.append(name)
                if let existing = nodes[current].parameter {
                    precondition(
                        existing.name == name,
                        """
                        Route pattern '\(pattern)' names the parameter ':\(name)' where an earlier \
                        route named it ':\(existing.name)'; parameters at the same position must \
                        share one name
                        """)
                    current = existing.child
                } else {
                    let child = appendNode()
                    nodes[current].parameter = (name, child)
                    current = child
                }
            } else if let child = literalChild(of: current, matching: segment) {
                current = child
            } else {
                let child = appendNode()
                addLiteral(String(segment), child: child, to: current)
                current = child
            }
        }
        maxCaptureCount = max(maxCaptureCount, names.count + (isCatchAll ? 1 : 0))

        // Take the value out before mutating it so a dictionary inside stays uniquely referenced
        // and `body` does not trigger a copy-on-write of the whole table.
        if isCatchAll {
            var value = nodes[current].catchAllValue.take() ?? defaultValue
            body(&value)
            nodes[current].catchAllValue = value
        } else {
            var value = nodes[current].value.take() ?? defaultValue
            body(&value)
            nodes[current].value = value
        }
    }

    /// Finds the value whose pattern matches `path` and the parameters it captured.
    ///
    /// - Parameter path: The request path, without query string or fragment. A leading slash is
    ///   optional, trailing and repeated slashes are ignored.
    /// - Returns: `nil` when no pattern matches, including when the path contains a segment that
    ///   is not strictly percent-decodable (the router turns that into 404).
    func resolve(_ path: Substring) -> (value: Value, parameters: Parameters)? {
        var captures: [Parameters.Entry] = []
        guard let value = match(node: 0, path: path, from: path.startIndex, captures: &captures) else {
            return nil
        }
        return (value, Parameters(entries: captures))
    }

    /// Finds the value whose pattern matches `path`; see the `Substring` overload.
    func resolve(_ path: String) -> (value: Value, parameters: Parameters)? {
        resolve(path[...])
    }

    // MARK: - Matching

    /// Matches the part of `path` from `position` against the subtree at `index`, depth first in
    /// priority order. `captures` holds the parameters of the current branch and is restored on
    /// backtracking, so it is only ever appended to for the branch that finally wins (plus any
    /// abandoned attempts, which cost one decode each).
    private func match(
        node index: Int,
        path: Substring,
        from position: String.Index,
        captures: inout [Parameters.Entry]
    ) -> Value? {
        guard let range = PathSegments.segment(in: path, from: position) else {
            // Path exhausted: an exact pattern wins over a catch-all matching nothing.
            if let value = nodes[index].value { return value }
            if let value = nodes[index].catchAllValue {
                capture(Parameters.catchAllName, "", into: &captures)
                return value
            }
            return nil
        }

        let raw = path[range]
        // Decode only segments that need it; the common case compares the raw slice directly.
        var decoded: String?
        if raw.utf8.contains(UInt8(ascii: "%")) {
            // An undecodable segment fails every branch (each one must consume it), so give up.
            guard let text = PercentDecoding.decodePathSegment(raw) else { return nil }
            decoded = text
        }

        if let child = literalChild(of: index, matching: decoded.map { $0[...] } ?? raw),
            let value = match(node: child, path: path, from: range.upperBound, captures: &captures)
        {
            return value
        }

        if let parameter = nodes[index].parameter {
            capture(parameter.name, decoded ?? String(raw), into: &captures)
            if let value = match(node: parameter.child, path: path, from: range.upperBound, captures: &captures) {
                return value
            }
            captures.removeLast()
        }

        if let child = nodes[index].wildcard,
            let value = match(node: child, path: path, from: range.upperBound, captures: &captures)
        {
            return value
        }

        if let value = nodes[index].catchAllValue {
            guard let rest = Self.catchAllText(path, from: range.lowerBound) else { return nil }
            capture(Parameters.catchAllName, rest, into: &captures)
            return value
        }
        return nil
    }

    /// Appends a capture, sizing the buffer for the deepest pattern on first use so that a lookup
    /// allocates its parameter storage at most once.
    @inline(__always)
    private func capture(_ name: String, _ value: String, into captures: inout [Parameters.Entry]) {
        if captures.capacity == 0 {
            captures.reserveCapacity(maxCaptureCount)
        }
        captures.append(Parameters.Entry(name: name, value: value))
    }

    /// The decoded remainder of `path` from `position` for a `**` capture: non-empty segments
    /// joined by single slashes, or `nil` if any segment fails strict decoding.
    private static func catchAllText(_ path: Substring, from position: String.Index) -> String? {
        let rest = path[position...]
        // Fast path: no escapes and no empty segments to drop means the text is already right,
        // apart from trailing slashes.
        var needsRebuild = false
        var previousWasSlash = false
        var end = rest.utf8.startIndex
        var index = rest.utf8.startIndex
        while index < rest.utf8.endIndex {
            let byte = rest.utf8[index]
            if byte == UInt8(ascii: "%") || (byte == UInt8(ascii: "/") && previousWasSlash) {
                needsRebuild = true
                break
            }
            previousWasSlash = byte == UInt8(ascii: "/")
            index = rest.utf8.index(after: index)
            if !previousWasSlash { end = index }
        }
        if !needsRebuild {
            return String(rest[..<end])
        }

        var text = ""
        for segment in PathSegments(rest) {
            guard let decoded = PercentDecoding.decodePathSegment(segment) else { return nil }
            if !text.isEmpty { text.append("/") }
            text.append(decoded)
        }
        return text
    }

    // MARK: - Building

    /// The literal child of `index` whose segment has exactly the bytes of `segment`.
    @inline(__always)
    private func literalChild(of index: Int, matching segment: Substring) -> Int? {
        if let literalIndex = nodes[index].literalIndex {
            return literalIndex[SegmentKey(segment)]
        }
        let count = segment.utf8.count
        for edge in nodes[index].literals
        where edge.segment.utf8.count == count && edge.segment.utf8.elementsEqual(segment.utf8) {
            return edge.child
        }
        return nil
    }

    /// Records a new literal edge, switching the node to a hashed index once it has many.
    private mutating func addLiteral(_ segment: String, child: Int, to index: Int) {
        nodes[index].literals.append((segment, child))
        if nodes[index].literalIndex != nil {
            nodes[index].literalIndex![SegmentKey(segment[...])] = child
        } else if nodes[index].literals.count > Self.linearScanLimit {
            var literalIndex: [SegmentKey: Int] = [:]
            for edge in nodes[index].literals {
                literalIndex[SegmentKey(edge.segment[...])] = edge.child
            }
            nodes[index].literalIndex = literalIndex
        }
    }

    /// Adds an empty node and returns its index.
    private mutating func appendNode() -> Int {
        nodes.append(Node())
        return nodes.count - 1
    }
}

extension RouterTrie: Sendable where Value: Sendable {}
extension RouterTrie.Node: Sendable where Value: Sendable {}
