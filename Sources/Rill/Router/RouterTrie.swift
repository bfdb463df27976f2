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
/// nothing, so the router answers 400 rather than guessing. `.` and `..` are ordinary segments
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
        /// Literal children, looked up by the bytes of the decoded segment.
        var literals = LiteralChildren()
        /// The `:name` child; at most one, because one position has one parameter name.
        var parameter: (name: String, child: Int)?
        /// The `*` child.
        var wildcard: Int?
    }

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
            } else if let child = nodes[current].literals.child(matching: segment) {
                current = child
            } else {
                let child = appendNode()
                nodes[current].literals.insert(segment, child: child)
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
    ///   is not strictly percent-decodable (the router turns that into 400).
    func resolve(_ path: Substring) -> (value: Value, parameters: Parameters)? {
        // Matching runs on the path's UTF-8 bytes with integer offsets: no `Substring` slicing
        // (whose index validation showed up in profiles) and no `String` per segment.
        PercentDecoding.withUTF8Bytes(of: path) { bytes in
            var captures: [NameValuePairs.Pair] = []
            guard let value = match(node: 0, path: bytes, from: 0, captures: &captures) else {
                return nil
            }
            return (value, Parameters(entries: captures))
        }
    }

    /// Finds the value whose pattern matches `path`; see the `Substring` overload.
    func resolve(_ path: String) -> (value: Value, parameters: Parameters)? {
        resolve(path[...])
    }

    // MARK: - Matching

    /// Matches the bytes of `path` from `position` against the subtree at `index`.
    ///
    /// Finds the next segment and, only if it contains `%`, decodes it into a temporary buffer
    /// that lives for the rest of this node's matching; the common case matches the raw slice.
    private func match(
        node index: Int,
        path: UnsafeBufferPointer<UInt8>,
        from position: Int,
        captures: inout [NameValuePairs.Pair]
    ) -> Value? {
        guard let segment = PathSegments.segment(in: path, from: position) else {
            // Path exhausted: an exact pattern wins over a catch-all matching nothing.
            if let value = nodes[index].value { return value }
            if let value = nodes[index].catchAllValue {
                capture(Parameters.catchAllName, "", into: &captures)
                return value
            }
            return nil
        }
        let raw = UnsafeBufferPointer(rebasing: path[segment.start..<segment.end])
        if !segment.containsPercent {
            return match(node: index, segment: raw, path: path, start: segment.start, end: segment.end, captures: &captures)
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count) { buffer in
            // An undecodable segment fails every branch (each one must consume it), so give up.
            guard let count = PercentDecoding.decodePathSegment(raw, into: buffer) else { return nil }
            let decoded = UnsafeBufferPointer(rebasing: buffer[..<count])
            return match(
                node: index, segment: decoded, path: path, start: segment.start, end: segment.end, captures: &captures)
        }
    }

    /// Tries the children of node `index` for one decoded segment, depth first in priority order:
    /// literal, parameter, wildcard, catch-all.
    ///
    /// `captures` holds the parameters of the current branch and is restored when a branch
    /// fails, so only the winning branch's captures survive.
    /// - Parameters:
    ///   - segment: The decoded bytes of the segment at `start..<end` in `path`.
    private func match(
        node index: Int,
        segment: UnsafeBufferPointer<UInt8>,
        path: UnsafeBufferPointer<UInt8>,
        start: Int,
        end: Int,
        captures: inout [NameValuePairs.Pair]
    ) -> Value? {
        if let child = nodes[index].literals.child(matching: segment),
            let value = match(node: child, path: path, from: end, captures: &captures)
        {
            return value
        }

        if let parameter = nodes[index].parameter {
            // The bytes came from a valid `String` or passed strict validation, so decoding
            // cannot repair anything; it just copies.
            capture(parameter.name, String(decoding: segment, as: UTF8.self), into: &captures)
            if let value = match(node: parameter.child, path: path, from: end, captures: &captures) {
                return value
            }
            captures.removeLast()
        }

        if let child = nodes[index].wildcard,
            let value = match(node: child, path: path, from: end, captures: &captures)
        {
            return value
        }

        if let value = nodes[index].catchAllValue {
            guard let rest = Self.catchAllText(path, from: start) else { return nil }
            capture(Parameters.catchAllName, rest, into: &captures)
            return value
        }
        return nil
    }

    /// Appends a capture, sizing the buffer for the deepest pattern on first use so that a lookup
    /// allocates its parameter storage at most once.
    @inline(__always)
    private func capture(_ name: String, _ value: String, into captures: inout [NameValuePairs.Pair]) {
        if captures.capacity == 0 {
            captures.reserveCapacity(maxCaptureCount)
        }
        captures.append(NameValuePairs.Pair(name: name, value: value))
    }

    /// The decoded remainder of `path` from `start` (the first byte of a segment) for a `**`
    /// capture: non-empty segments joined by single slashes, or `nil` if any segment fails strict
    /// decoding.
    private static func catchAllText(_ path: UnsafeBufferPointer<UInt8>, from start: Int) -> String? {
        var end = path.count
        while end > start && path[end - 1] == UInt8(ascii: "/") {
            end -= 1
        }
        // Fast path: without escapes or empty segments the bytes are already the answer.
        var needsRebuild = false
        var previousWasSlash = false
        for index in start..<end {
            let byte = path[index]
            if byte == UInt8(ascii: "%") || (byte == UInt8(ascii: "/") && previousWasSlash) {
                needsRebuild = true
                break
            }
            previousWasSlash = byte == UInt8(ascii: "/")
        }
        if !needsRebuild {
            return String(decoding: UnsafeBufferPointer(rebasing: path[start..<end]), as: UTF8.self)
        }

        // Decoding never grows a segment and separators only shrink, so `end - start` suffices.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end - start) { buffer in
            var count = 0
            var position = start
            while let segment = PathSegments.segment(in: path, from: position) {
                if count > 0 {
                    buffer[count] = UInt8(ascii: "/")
                    count += 1
                }
                guard
                    let written = PercentDecoding.decodePathSegment(
                        UnsafeBufferPointer(rebasing: path[segment.start..<segment.end]),
                        into: UnsafeMutableBufferPointer(rebasing: buffer[count...]))
                else { return nil }
                count += written
                position = segment.end
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
        }
    }

    // MARK: - Building

    /// Adds an empty node and returns its index.
    private mutating func appendNode() -> Int {
        nodes.append(Node())
        return nodes.count - 1
    }
}

extension RouterTrie: Sendable where Value: Sendable {}
extension RouterTrie.Node: Sendable where Value: Sendable {}
