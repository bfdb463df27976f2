/// Channel patterns, each with a value, looked up by channel name: a publish finds the patterns
/// that match its channel at a cost that depends on the patterns that could match — those whose
/// literal segments it shares, and the wildcards met on the way — not on how many patterns
/// there are, nor on how many exact-channel subscribers.
///
/// A tree of segments: a literal segment is a hash lookup; the wildcard segments under one node
/// (`room-*`, `*-log`) are checked one by one while they are few, and past that found by hash
/// lookups of the name segment's own prefixes and suffixes (at most (n + 1)(n + 2) / 2 for a
/// segment of n characters, whatever the number of wildcards); the patterns with `**` are kept
/// at the node of their head in a second tree of their tails, read from the end of the name the
/// same way. 10,000 patterns `users/<id>/**` cost a publish to `users/42/inbox` two lookups and
/// one check; 10,000 patterns `**/<id>/x` cost a publish to `a/b/42/x` three lookups.
///
/// Not thread-safe: the in-memory broker keeps one under its lock, and each loop one of its own.
package final class ChannelPatternIndex<Value: AnyObject> {
    /// One node per distinct head prefix (in a tails tree: per distinct tail suffix).
    private final class Node {
        /// Children by literal segment.
        var literals: [Substring: Node] = [:]
        /// Children by wildcard segment.
        var wildcards: [Wildcard: Node] = [:]
        /// The value of the pattern without `**` whose head ends here (in a tails tree: of the
        /// pattern whose tail, read from its end, ends here).
        var value: Value?
        /// The patterns whose `**` follows the head that ends here: a tree of their tails, each
        /// read from its last segment (`**/a/b` is `b`, then `a`).
        var tails: Node?

        var isEmpty: Bool { literals.isEmpty && wildcards.isEmpty && value == nil && tails == nil }
    }

    /// A wildcard segment: what it needs before and after its `*`.
    private struct Wildcard: Hashable {
        var prefix: Substring
        var suffix: Substring

        func matches(_ part: Substring) -> Bool {
            ChannelPattern.matches(.wildcard(prefix: prefix, suffix: suffix), part)
        }
    }

    private let root = Node()
    /// The number of patterns held.
    package private(set) var count = 0

    package init() {}

    /// Whether no pattern is held.
    package var isEmpty: Bool { count == 0 }

    /// The value of `pattern`; setting nil removes the pattern.
    package subscript(pattern: ChannelPattern) -> Value? {
        get { Self.endNode(of: pattern, from: root, creating: false)?.value }
        set {
            if let newValue {
                let node = Self.endNode(of: pattern, from: root, creating: true)!
                if node.value == nil { count += 1 }
                node.value = newValue
            } else if Self.remove(pattern, from: root) {
                count -= 1
            }
        }
    }

    /// Calls `body` with the value of every pattern that matches the channel whose segments are
    /// `segments` (``ChannelPattern/segments(of:)``), once per pattern.
    package func forEachMatch(segments: [Substring], _ body: (Value) -> Void) {
        guard count > 0, !ChannelPattern.isServerChannel(segments: segments) else { return }
        Self.walk(root, segments: segments, at: 0, body)
    }

    /// Calls `body` with the value of every pattern that matches `channel`.
    package func forEachMatch(of channel: String, _ body: (Value) -> Void) {
        guard count > 0 else { return }
        forEachMatch(segments: ChannelPattern.segments(of: channel), body)
    }

    // MARK: The tree

    private static func walk(_ node: Node, segments: [Substring], at index: Int, _ body: (Value) -> Void) {
        if let tails = node.tails { walkTails(tails, segments: segments, matched: 0, available: segments.count - index, body) }
        guard index < segments.count else {
            if let value = node.value { body(value) }
            return
        }
        forEachChild(of: node, matching: segments[index]) { walk($0, segments: segments, at: index + 1, body) }
    }

    /// The tails tree below a head that took `segments.count - available` segments: each node
    /// reached matched the last `matched` segments, and its pattern's `**` takes the rest.
    private static func walkTails(_ node: Node, segments: [Substring], matched: Int, available: Int, _ body: (Value) -> Void) {
        if let value = node.value { body(value) }
        guard matched < available else { return }
        forEachChild(of: node, matching: segments[segments.count - 1 - matched]) {
            walkTails($0, segments: segments, matched: matched + 1, available: available, body)
        }
    }

    /// Calls `body` with every child of `node` whose segment matches `segment`: the literal one,
    /// and the wildcards — checked one by one while they are few, else found by looking up every
    /// way to split `segment` into a prefix and a suffix that do not overlap.
    private static func forEachChild(of node: Node, matching segment: Substring, _ body: (Node) -> Void) {
        if let child = node.literals[segment] { body(child) }
        guard !node.wildcards.isEmpty else { return }
        let length = segment.count
        if node.wildcards.count <= (length + 1) * (length + 2) / 2 {
            for (wildcard, child) in node.wildcards where wildcard.matches(segment) { body(child) }
            return
        }
        var prefixEnd = segment.startIndex
        while true {
            var suffixStart = prefixEnd
            while true {
                if let child = node.wildcards[Wildcard(prefix: segment[..<prefixEnd], suffix: segment[suffixStart...])] { body(child) }
                guard suffixStart < segment.endIndex else { break }
                suffixStart = segment.index(after: suffixStart)
            }
            guard prefixEnd < segment.endIndex else { break }
            prefixEnd = segment.index(after: prefixEnd)
        }
    }

    /// The node whose `value` is `pattern`'s: its head's, or in that head's tails tree its
    /// tail's (read from its end). Made on the way when `creating`, else nil where missing.
    private static func endNode(of pattern: ChannelPattern, from root: Node, creating: Bool) -> Node? {
        guard var node = descend(from: root, along: pattern.head, creating: creating) else { return nil }
        guard let tail = pattern.tail else { return node }
        if node.tails == nil {
            guard creating else { return nil }
            node.tails = Node()
        }
        node = node.tails!
        return descend(from: node, along: tail.reversed(), creating: creating)
    }

    private static func descend(from node: Node, along segments: some Sequence<ChannelPattern.Segment>, creating: Bool) -> Node? {
        var node = node
        for segment in segments {
            if let child = child(of: node, for: segment) {
                node = child
                continue
            }
            guard creating else { return nil }
            let child = Node()
            switch segment {
            case .literal(let literal): node.literals[literal] = child
            case .wildcard(let prefix, let suffix): node.wildcards[Wildcard(prefix: prefix, suffix: suffix)] = child
            }
            node = child
        }
        return node
    }

    private static func child(of node: Node, for segment: ChannelPattern.Segment) -> Node? {
        switch segment {
        case .literal(let literal): node.literals[literal]
        case .wildcard(let prefix, let suffix): node.wildcards[Wildcard(prefix: prefix, suffix: suffix)]
        }
    }

    /// Removes `pattern`'s value and prunes the nodes left empty; returns whether it was held.
    private static func remove(_ pattern: ChannelPattern, from root: Node) -> Bool {
        var removed = false
        _ = prune(root, along: pattern.head[...]) { headEnd in
            guard let tail = pattern.tail else {
                removed = headEnd.value != nil
                headEnd.value = nil
                return
            }
            guard let tails = headEnd.tails else { return }
            let tailsEmpty = prune(tails, along: Array(tail.reversed())[...]) { tailEnd in
                removed = tailEnd.value != nil
                tailEnd.value = nil
            }
            if tailsEmpty { headEnd.tails = nil }
        }
        return removed
    }

    /// Follows `segments` below `node`, calls `atEnd` with the node they lead to, and drops the
    /// children left empty on the way back; returns whether `node` is empty now.
    private static func prune(_ node: Node, along segments: ArraySlice<ChannelPattern.Segment>, atEnd: (Node) -> Void) -> Bool {
        guard let segment = segments.first else {
            atEnd(node)
            return node.isEmpty
        }
        guard let child = child(of: node, for: segment) else { return node.isEmpty }
        if prune(child, along: segments.dropFirst(), atEnd: atEnd) {
            switch segment {
            case .literal(let literal): node.literals[literal] = nil
            case .wildcard(let prefix, let suffix): node.wildcards[Wildcard(prefix: prefix, suffix: suffix)] = nil
            }
        }
        return node.isEmpty
    }
}
