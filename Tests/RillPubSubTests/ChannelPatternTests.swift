import RillPubSub
import Testing

/// `*` within one segment, `**` any number of segments; what is refused; linear matching.
struct ChannelPatternTests {
    @Test(arguments: [
        ("chat/*", "chat/lobby", true), ("chat/*", "chat/lobby/typing", false), ("chat/*", "chat", false),
        ("chat/*", "chat/", true), ("chat/*", "other/lobby", false),
        ("users/42/**", "users/42", true), ("users/42/**", "users/42/inbox", true), ("users/42/**", "users/42/a/b/c", true),
        ("users/42/**", "users/421/inbox", false), ("users/42/**", "users/4", false),
        ("**", "anything/at/all", true), ("**", "x", true), ("**/audit", "a/b/audit", true), ("**/audit", "a/b/audit/x", false),
        ("a/**/z", "a/z", true), ("a/**/z", "a/b/c/z", true), ("a/**/z", "a/b/c/y", false),
        ("room-*", "room-1", true), ("room-*", "room", false), ("*-log", "build-log", true), ("r*m", "room", true),
        ("r*m", "rm", true), ("r*m", "roam/x", false), ("exact", "exact", true), ("exact", "exactly", false),
        ("*/*", "a/b", true), ("*/*", "a", false),
    ])
    func `a pattern matches within one segment or across many`(pattern: String, channel: String, matches: Bool) throws {
        #expect(try ChannelPattern(pattern).matches(channel) == matches, "\(pattern) ~ \(channel)")
    }

    @Test func `invalid patterns are refused with a reason`() {
        #expect(throws: ChannelPatternError.empty) { try ChannelPattern("") }
        for hostile in ["a/\u{0}", "news/\n*", "\u{7F}", "a\tb/*"] {
            #expect(throws: ChannelPatternError.controlCharacter) { try ChannelPattern(hostile) }
        }
        #expect(throws: ChannelPatternError.repeatedDoubleStar("a/**/b/**")) { try ChannelPattern("a/**/b/**") }
        #expect(throws: ChannelPatternError.doubleStarWithinSegment("a/b**")) { try ChannelPattern("a/b**") }
        #expect(throws: ChannelPatternError.tooManyStars("a/*x*")) { try ChannelPattern("a/*x*") }
        #expect(throws: ChannelPatternError.tooLong(String(repeating: "a", count: 1025))) {
            try ChannelPattern(String(repeating: "a", count: 1025))
        }
    }

    @Test func `matching a long name against a double star stays fast`() throws {
        let pattern = try ChannelPattern("a/**/*x")
        let channel = Array(repeating: "a", count: 500).joined(separator: "/")
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<1000 { #expect(!pattern.matches(channel)) }
        }
        // Linear: 1,000 matches of a 1,000-byte name take well under a second even unoptimized
        // (a backtracking matcher would take quadratic time here).
        #expect(elapsed < .seconds(2))
        #expect(pattern.description == "a/**/*x")
        #expect(try ChannelPattern("a/*") == ChannelPattern("a/*"))
    }

    @Test(arguments: [
        ("chat/**", "chat/*", true), ("chat/*", "chat/**", false), ("**", "a/**/b", true), ("**", "x", true),
        ("chat/*", "chat/lobby", true), ("chat/lobby", "chat/*", false), ("chat/*", "chat/room-*", true),
        ("chat/room-*", "chat/*", false), ("*-log", "build-*-log", true), ("a*", "a*b", true), ("a*b", "a*", false),
        ("users/42/**", "users/42/inbox/**", true), ("users/42/**", "users/4*/**", false), ("users/*/**", "users/42/**", true),
        ("**/audit", "a/**/audit", true), ("**/audit", "a/**", false), ("a/**/z", "a/b/z", true), ("a/**/z", "a/b", false),
        ("chat/*", "chat/*/x", false), ("*/**", "**", false),
    ])
    func `a pattern covers another when every channel the other matches, it matches`(
        pattern: String, other: String, covers: Bool
    ) throws {
        #expect(try ChannelPattern(pattern).covers(ChannelPattern(other)) == covers, "\(pattern) ⊇ \(other)")
    }

    @Test func `the index finds every matching pattern once and forgets removed ones`() throws {
        final class Box {
            let name: String
            init(_ name: String) { self.name = name }
        }
        let index = ChannelPatternIndex<Box>()
        let texts = ["chat/*", "chat/**", "**", "chat/lobby", "chat/l*y", "**/typing", "users/42/**", "a/**/z", "room-*"]
        for text in texts { index[try ChannelPattern(text)] = Box(text) }
        #expect(index.count == texts.count)
        func matches(_ channel: String) -> Set<String> {
            var names: [String] = []
            index.forEachMatch(of: channel) { names.append($0.name) }
            #expect(names.count == Set(names).count, "each pattern once for \(channel)")
            return Set(names)
        }
        // The index agrees with matching every pattern one by one.
        for channel in ["chat/lobby", "chat/lobby/typing", "users/42", "users/42/x/y", "a/z", "a/b/c/z", "room-1", "x", "chat"] {
            let expected = Set(try texts.filter { try ChannelPattern($0).matches(channel) })
            #expect(matches(channel) == expected, "\(channel)")
        }
        index[try ChannelPattern("**")] = nil
        index[try ChannelPattern("chat/*")] = nil
        index[try ChannelPattern("not/there")] = nil
        #expect(index.count == texts.count - 2)
        #expect(matches("chat/lobby") == ["chat/**", "chat/lobby", "chat/l*y"])
        for text in texts { index[try ChannelPattern(text)] = nil }
        #expect(index.isEmpty)
        #expect(matches("chat/lobby").isEmpty)
    }

    @Test func `many wildcards under one segment are found by lookup, agreeing with matching one by one`() throws {
        final class Box {
            let name: String
            init(_ name: String) { self.name = name }
        }
        let index = ChannelPatternIndex<Box>()
        var texts = (0..<100).map { "a/*-\($0)" } + ["a/room-*", "a/*", "a/r*7", "a/é*", "a/*é-7", "a/room-7", "a/**"]
        texts += (0..<30).map { "a/p\($0)*" }
        for text in texts { index[try ChannelPattern(text)] = Box(text) }
        for channel in ["a/room-7", "a/é-7", "a/-7", "a/p12x", "a/", "a/room-77", "b/room-7"] {
            var found: [String] = []
            index.forEachMatch(of: channel) { found.append($0.name) }
            let expected = try texts.filter { try ChannelPattern($0).matches(channel) }
            #expect(found.sorted() == expected.sorted(), "\(channel)")
        }
    }

    @Test func `patterns with a double star are found from both ends, agreeing with matching one by one`() throws {
        final class Box {
            let name: String
            init(_ name: String) { self.name = name }
        }
        let index = ChannelPatternIndex<Box>()
        // Many tails under one head (the root's and `a`'s): each found by lookups from the end.
        var texts = (0..<200).map { "**/u\($0)/inbox" } + (0..<200).map { "a/**/t\($0)" }
        texts += ["**", "**/inbox", "**/*x", "**/u7/*", "a/**", "a/*/**/inbox", "**/a", "*/**/u7/inbox", "a/**/t7/x"]
        texts += (0..<40).map { "**/w\($0)*" }
        for text in texts { index[try ChannelPattern(text)] = Box(text) }
        #expect(index.count == texts.count)
        func found(_ channel: String) -> [String] {
            var names: [String] = []
            index.forEachMatch(of: channel) { names.append($0.name) }
            return names.sorted()
        }
        let channels = [
            "u7/inbox", "x/u7/inbox", "a/u7/inbox", "a/t7", "a/b/t7", "a/t7/x", "a", "inbox", "box", "a/b/w12q", "w3", "u7", "a/b/c/u199/inbox",
        ]
        for channel in channels {
            let expected = try texts.filter { try ChannelPattern($0).matches(channel) }.sorted()
            #expect(found(channel) == expected, "\(channel)")
        }
        // Removing prunes: what is left still agrees, and nothing is left at the end.
        for text in texts where text.hasSuffix("7/inbox") || text.hasPrefix("a/") { index[try ChannelPattern(text)] = nil }
        let left = texts.filter { !($0.hasSuffix("7/inbox") || $0.hasPrefix("a/")) }
        #expect(index.count == left.count)
        for channel in channels {
            let expected = try left.filter { try ChannelPattern($0).matches(channel) }.sorted()
            #expect(found(channel) == expected, "\(channel)")
        }
        for text in left { index[try ChannelPattern(text)] = nil }
        #expect(index.isEmpty)
        #expect(index[try ChannelPattern("**/u1/inbox")] == nil)
    }

}
