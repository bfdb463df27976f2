extension Subscription {
    /// Appends the subscription to the subscriber list of its `index`-th channel, remembering
    /// where, so that ``removeFromChannelList(_:at:)`` is O(1). Loop thread.
    package func addToChannelList(_ list: inout [Subscription], at index: Int) {
        setPosition(list.count, at: index)
        list.append(self)
    }

    /// Removes the subscription from the subscriber list of its `index`-th channel by swapping in
    /// the last one and fixing that one's remembered position. Returns false if it was not there.
    @discardableResult
    package func removeFromChannelList(_ list: inout [Subscription], at index: Int) -> Bool {
        let position = position(at: index)
        guard position >= 0, position < list.count, list[position] === self else { return false }
        let last = list.removeLast()
        if last !== self {
            list[position] = last
            if let moved = last.channels.firstIndex(of: channels[index]) { last.setPosition(position, at: moved) }
        }
        setPosition(-1, at: index)
        return true
    }

    /// Where the subscription is in the subscriber list of its `index`-th channel (-1: not in it).
    private func position(at index: Int) -> Int { index == 0 ? firstPosition : otherPositions[index - 1] }

    private func setPosition(_ position: Int, at index: Int) {
        if index == 0 { firstPosition = position } else { otherPositions[index - 1] = position }
    }
}
