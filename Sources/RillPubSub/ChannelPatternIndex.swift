/// Channel patterns, each with a value, looked up by channel name: a publish finds the patterns
/// that match its channel at a cost that depends on the patterns that could match — those whose
/// literal segments it shares, and the wildcards met on the way — not on how many patterns
/// there are, nor on how many exact-channel subscribers.
///
/// A tree of segments: a literal segment is a hash lookup; the wildcard segments under one node
/// (`room-*`, `*-log`) are checked one by one while they are few, and past that found by hash
/// lookups of the name segment's own prefixes and suffixes (at most (n + 1)(n + 2) / 2 for a
/// segment of n characters, whatever the number of wildcards); the patterns with `**` are kept
/// at the node of their head, each checked against the end of the name. 10,000 patterns
/// `users/<id>/**` cost a publish to `users/42/inbox` two lookups and one check.
///
/// Not thread-safe: the in-memory broker keeps one under its lock, and each loop one of its own.
package final class ChannelPatternIndex<Value: AnyObject> {
    /// One node per distinct head prefix.
    private final class Node {
        /// Children by literal segment.
        var literals: [Substring: Node] = [:]
        /// Children by wildcard segment.
        var wildcards: [Wildcard: Node] = [:]
        /// The value of the pattern without `**` whose head ends here.
        var value: Value?
        /// The patterns whose `**` follows the head that ends here, by pattern, with their tails.
        var doubleStars: [String: (tail: [ChannelPattern.Segment], value: Value)] = [:]

        var isEmpty: Bool { literals.isEmpty && wildcards.isEmpty && value == nil && doubleStars.isEmpty }
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
        get { Self.find(pattern, from: root, at: 0) }
        set {
            if let newValue {
                insert(newValue, for: pattern)
            } else {
                _ = remove(pattern, from: root, at: 0)
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
        for (_, entry) in node.doubleStars
        where segments.count - index >= entry.tail.count
            && zip(entry.tail, segments.suffix(entry.tail.count)).allSatisfy({ ChannelPattern.matches($0, $1) })
        {
            body(entry.value)
        }
        guard index < segments.count else {
            if let value = node.value { body(value) }
            return
        }
        let segment = segments[index]
        if let child = node.literals[segment] { walk(child, segments: segments, at: index + 1, body) }
        guard !node.wildcards.isEmpty else { return }
        let length = segment.count
        if node.wildcards.count <= (length + 1) * (length + 2) / 2 {
            for (wildcard, child) in node.wildcards where wildcard.matches(segment) {
                walk(child, segments: segments, at: index + 1, body)
            }
            return
        }
        // Many wildcards: look up every way to split the segment into a prefix and a suffix that
        // do not overlap (each wildcard is one such split).
        var prefixEnd = segment.startIndex
        while true {
            var suffixStart = prefixEnd
            while true {
                if let child = node.wildcards[Wildcard(prefix: segment[..<prefixEnd], suffix: segment[suffixStart...])] {
                    walk(child, segments: segments, at: index + 1, body)
                }
                guard suffixStart < segment.endIndex else { break }
                suffixStart = segment.index(after: suffixStart)
            }
            guard prefixEnd < segment.endIndex else { break }
            prefixEnd = segment.index(after: prefixEnd)
        }
    }

    private func insert(_ value: Value, for pattern: ChannelPattern) {
        var node = root
        for segment in pattern.head {
            switch segment {
            case .literal(let literal):
                if let child = node.literals[literal] {
                    node = child
                } else {
                    let child = Node()
                    node.literals[literal] = child
                    node = child
                }
            case .wildcard(let prefix, let suffix):
                let key = Wildcard(prefix: prefix, suffix: suffix)
                if let child = node.wildcards[key] {
                    node = child
                } else {
                    let child = Node()
                    node.wildcards[key] = child
                    node = child
                }
            }
        }
        if let tail = pattern.tail {
            if node.doubleStars.updateValue((tail, value), forKey: pattern.description) == nil { count += 1 }
        } else {
            if node.value == nil { count += 1 }
            node.value = value
        }
    }

    private static func child(of node: Node, for segment: ChannelPattern.Segment) -> Node? {
        switch segment {
        case .literal(let literal): node.literals[literal]
        case .wildcard(let prefix, let suffix): node.wildcards[Wildcard(prefix: prefix, suffix: suffix)]
        }
    }

    private static func find(_ pattern: ChannelPattern, from node: Node, at index: Int) -> Value? {
        guard index < pattern.head.count else {
            return pattern.tail == nil ? node.value : node.doubleStars[pattern.description]?.value
        }
        return child(of: node, for: pattern.head[index]).flatMap { find(pattern, from: $0, at: index + 1) }
    }

    /// Removes `pattern` below `node` and prunes the nodes left empty; returns whether `node`
    /// is empty now.
    private func remove(_ pattern: ChannelPattern, from node: Node, at index: Int) -> Bool {
        if index == pattern.head.count {
            if pattern.tail == nil {
                if node.value != nil { count -= 1 }
                node.value = nil
            } else if node.doubleStars.removeValue(forKey: pattern.description) != nil {
                count -= 1
            }
            return node.isEmpty
        }
        let segment = pattern.head[index]
        guard let child = Self.child(of: node, for: segment) else { return node.isEmpty }
        if remove(pattern, from: child, at: index + 1) {
            switch segment {
            case .literal(let literal): node.literals[literal] = nil
            case .wildcard(let prefix, let suffix): node.wildcards[Wildcard(prefix: prefix, suffix: suffix)] = nil
            }
        }
        return node.isEmpty
    }
}
