extension Subscription {
    /// Appends the subscription to the subscriber list of its `entry`-th channel or pattern
    /// (its channels first, then its patterns), remembering where, so that
    /// ``removeFromChannelList(_:at:)`` is O(1). Loop thread.
    package func addToChannelList(_ list: inout [Subscription], at entry: Int) {
        setPosition(list.count, at: entry)
        list.append(self)
    }

    /// Removes the subscription from the subscriber list of its `entry`-th channel or pattern by
    /// swapping in the last one and fixing that one's remembered position. Returns false if it
    /// was not there.
    @discardableResult
    package func removeFromChannelList(_ list: inout [Subscription], at entry: Int) -> Bool {
        let position = position(at: entry)
        guard position >= 0, position < list.count, list[position] === self else { return false }
        let last = list.removeLast()
        if last !== self {
            list[position] = last
            if let moved = last.entry(matching: self, at: entry) { last.setPosition(position, at: moved) }
        }
        setPosition(-1, at: entry)
        return true
    }

    /// Whether the event of `channel` (split into `segments`) reaches this subscription through
    /// an entry before `pattern`: its channels, or an earlier pattern. Each event is taken once.
    package func matchesBefore(_ pattern: ChannelPattern, channel: String, segments: [Substring]) -> Bool {
        guard channels.count + patterns.count > 1 else { return false }
        if channels.contains(channel) { return true }
        for earlier in patterns {
            if earlier == pattern { return false }
            if earlier.matches(segments: segments) { return true }
        }
        return false
    }

    /// The index of this subscription's entry that is `other`'s `entry`-th (the same channel, or
    /// the same pattern): lists are per channel and per pattern.
    private func entry(matching other: Subscription, at entry: Int) -> Int? {
        if entry < other.channels.count { return channels.firstIndex(of: other.channels[entry]) }
        let pattern = other.patterns[entry - other.channels.count]
        return patterns.firstIndex(of: pattern).map { channels.count + $0 }
    }

    /// Where the subscription is in the subscriber list of its `entry`-th channel or pattern
    /// (-1: not in it).
    private func position(at entry: Int) -> Int { entry == 0 ? Int(firstPosition) : entries!.otherPositions[entry - 1] }

    private func setPosition(_ position: Int, at entry: Int) {
        if entry == 0 { firstPosition = Int32(position) } else { entries!.otherPositions[entry - 1] = position }
    }
}
