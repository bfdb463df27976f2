/// A pattern of channel names, `/`-separated segments matched one by one: `*` within a
/// segment matches any run of characters except `/` (`chat/*`, `room-*`), and a `**` segment
/// matches any number of whole segments, none included (`users/42/**` matches `users/42`,
/// `users/42/inbox` and `users/42/a/b`). Anything else matches itself.
///
/// ```swift
/// let pattern = try ChannelPattern("chat/*")
/// pattern.matches("chat/lobby")        // true
/// pattern.matches("chat/lobby/typing") // false: `*` stays within one segment
/// ```
///
/// Matching costs time linear in the channel name: a segment holds at most one `*` and a
/// pattern at most one `**`, so nothing backtracks; ``init(_:)`` rejects other patterns.
public struct ChannelPattern: Sendable, Hashable, CustomStringConvertible {
    /// One segment of the pattern.
    enum Segment: Sendable, Hashable {
        /// Matches this exact segment.
        case literal(Substring)
        /// Matches a segment that starts with `prefix` and ends with `suffix` (`*`: both empty).
        case wildcard(prefix: Substring, suffix: Substring)
    }

    /// The pattern as written.
    public let description: String
    /// The segments before the `**` (all of them without one).
    let head: [Segment]
    /// The segments after the `**`; nil without one.
    let tail: [Segment]?

    /// The most bytes a pattern may have.
    public static let maxBytes = 1024

    /// Parses `pattern`.
    ///
    /// - Throws: ``ChannelPatternError`` for an empty or over-long pattern, one with a control
    ///   character, a `**` that is not a whole segment or appears twice, or a segment with more
    ///   than one `*`.
    public init(_ pattern: String) throws(ChannelPatternError) {
        guard !pattern.isEmpty else { throw .empty }
        guard pattern.utf8.count <= Self.maxBytes else { throw .tooLong(pattern) }
        // A channel name has none (Broker.validate(channel:)): such a pattern could match nothing.
        guard !pattern.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw .controlCharacter }
        var head: [Segment] = []
        var tail: [Segment]?
        for part in pattern.split(separator: "/", omittingEmptySubsequences: false) {
            if part == "**" {
                guard tail == nil else { throw .repeatedDoubleStar(pattern) }
                tail = []
                continue
            }
            let segment: Segment
            let stars = part.utf8.count { $0 == UInt8(ascii: "*") }
            switch stars {
            case 0:
                segment = .literal(part)
            case 1:
                let star = part.firstIndex(of: "*")!
                segment = .wildcard(prefix: part[..<star], suffix: part[part.index(after: star)...])
            default:
                throw part.contains("**") ? .doubleStarWithinSegment(pattern) : .tooManyStars(pattern)
            }
            if tail != nil { tail?.append(segment) } else { head.append(segment) }
        }
        self.description = pattern
        self.head = head
        self.tail = tail
    }

    /// Whether `channel` matches the pattern. The server's own channels (`rill-presence/…`,
    /// presence notices) match no pattern.
    public func matches(_ channel: String) -> Bool {
        matches(segments: Self.segments(of: channel))
    }

    /// The prefix of the server's own channels (presence notices: `rill-presence/<channel>`).
    /// No pattern matches them, so that `**` does not receive every channel's notices; a
    /// stream names them only through the server (`presence=1`).
    package static let serverChannelPrefix = "rill-presence/"

    /// Whether a channel name split into `segments` is one of the server's own channels.
    package static func isServerChannel(segments: [Substring]) -> Bool {
        segments.count > 1 && segments[0] == "rill-presence"
    }

    /// Whether a channel name split into `segments` matches the pattern.
    package func matches(segments: [Substring]) -> Bool {
        guard !Self.isServerChannel(segments: segments) else { return false }
        guard let tail else {
            return segments.count == head.count && zip(head, segments).allSatisfy { Self.matches($0, $1) }
        }
        // `**` takes whatever lies between the head and the tail: no choice, no backtracking.
        guard segments.count >= head.count + tail.count else { return false }
        for (segment, part) in zip(head, segments) where !Self.matches(segment, part) { return false }
        for (segment, part) in zip(tail, segments.suffix(tail.count)) where !Self.matches(segment, part) { return false }
        return true
    }

    /// Whether every channel `other` matches is matched by this pattern too — how a token's
    /// `subscribe` claim (`chat/**`) authorizes a requested pattern (`chat/*`). Conservative: a
    /// `true` is always right; a few pairs that do cover each other answer `false` (`*/**` and
    /// `**/x`: segments are compared from each end, not searched), which denies rather than
    /// allows.
    ///
    /// ```swift
    /// try ChannelPattern("chat/**").covers(ChannelPattern("chat/*"))    // true
    /// try ChannelPattern("chat/*").covers(ChannelPattern("chat/**"))    // false
    /// ```
    public func covers(_ other: ChannelPattern) -> Bool {
        guard let tail else {
            // Without `**`, a fixed number of segments: `other` needs the same, each covered.
            guard other.tail == nil, other.head.count == head.count else { return false }
            return zip(head, other.head).allSatisfy { Self.covers($0, $1) }
        }
        if let otherTail = other.tail {
            // Both have `**`: this head and tail must cover the ends of `other`'s.
            guard other.head.count >= head.count, otherTail.count >= tail.count else { return false }
            return zip(head, other.head).allSatisfy { Self.covers($0, $1) }
                && zip(tail, otherTail.suffix(tail.count)).allSatisfy { Self.covers($0, $1) }
        }
        guard other.head.count >= head.count + tail.count else { return false }
        return zip(head, other.head).allSatisfy { Self.covers($0, $1) }
            && zip(tail, other.head.suffix(tail.count)).allSatisfy { Self.covers($0, $1) }
    }

    /// Whether every segment `other` matches, `segment` matches.
    private static func covers(_ segment: Segment, _ other: Segment) -> Bool {
        switch (segment, other) {
        case (.literal(let literal), .literal(let otherLiteral)):
            return literal == otherLiteral
        case (.literal, .wildcard):
            return false
        case (.wildcard, .literal(let otherLiteral)):
            return matches(segment, otherLiteral)
        case (.wildcard(let prefix, let suffix), .wildcard(let otherPrefix, let otherSuffix)):
            // `other` matches `otherPrefix` + anything + `otherSuffix`.
            return otherPrefix.hasPrefix(prefix) && otherSuffix.hasSuffix(suffix)
        }
    }

    /// A glob in Redis's `PSUBSCRIBE` syntax that matches every channel this pattern matches,
    /// and possibly more (its `*` crosses `/`; a `**` segment and its slash become one `*`): a
    /// subscriber still checks each name with ``matches(_:)``. Glob metacharacters (`?`, `[`,
    /// `]`, `\`) in literal parts are escaped.
    package var redisGlob: String {
        func glob(_ segments: [Segment]) -> String {
            segments.map { segment in
                switch segment {
                case .literal(let literal): Self.escapeGlob(literal)
                case .wildcard(let prefix, let suffix): Self.escapeGlob(prefix) + "*" + Self.escapeGlob(suffix)
                }
            }.joined(separator: "/")
        }
        guard let tail else { return glob(head) }
        return glob(head) + "*" + glob(tail)
    }

    private static func escapeGlob(_ text: Substring) -> String {
        var escaped = ""
        for character in text {
            if "?[]\\*".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// The channel name's segments, as matching walks them.
    package static func segments(of channel: String) -> [Substring] {
        channel.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// Whether one segment of a channel name matches one segment of the pattern.
    static func matches(_ segment: Segment, _ part: Substring) -> Bool {
        switch segment {
        case .literal(let literal):
            return part == literal
        case .wildcard(let prefix, let suffix):
            return part.utf8.count >= prefix.utf8.count + suffix.utf8.count && part.hasPrefix(prefix) && part.hasSuffix(suffix)
        }
    }

    /// Whether two patterns are written the same.
    public static func == (lhs: ChannelPattern, rhs: ChannelPattern) -> Bool { lhs.description == rhs.description }

    /// Hashes the pattern as written.
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }
}

/// Why a string is not a ``ChannelPattern``.
public enum ChannelPatternError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pattern is empty.
    case empty
    /// The pattern has more than ``ChannelPattern/maxBytes`` bytes.
    case tooLong(String)
    /// `**` appears more than once.
    case repeatedDoubleStar(String)
    /// `**` is part of a segment instead of a whole one (`a**`).
    case doubleStarWithinSegment(String)
    /// A segment has more than one `*`.
    case tooManyStars(String)
    /// The pattern holds a control character (no channel name does).
    case controlCharacter

    /// What is wrong with the pattern, for an error message.
    public var description: String {
        switch self {
        case .empty: "a channel pattern must not be empty"
        case .tooLong: "a channel pattern may have at most \(ChannelPattern.maxBytes) bytes"
        case .repeatedDoubleStar(let pattern): "'\(pattern)': '**' may appear only once in a channel pattern"
        case .doubleStarWithinSegment(let pattern): "'\(pattern)': '**' must be a whole segment ('a/**/b')"
        case .tooManyStars(let pattern): "'\(pattern)': a segment may hold at most one '*'"
        case .controlCharacter: "a channel pattern must not contain control characters"
        }
    }
}
