extension Subscription {
    /// Appends the subscription to the subscriber list of its `index`-th channel, remembering
    /// where, so that ``removeFromChannelList(_:at:)`` is O(1). Loop thread.
    package func addToChannelList(_ list: inout [Subscription], at index: Int) {
        positions[index] = list.count
        list.append(self)
    }

    /// Removes the subscription from the subscriber list of its `index`-th channel by swapping in
    /// the last one and fixing that one's remembered position. Returns false if it was not there.
    @discardableResult
    package func removeFromChannelList(_ list: inout [Subscription], at index: Int) -> Bool {
        let position = positions[index]
        guard position >= 0, position < list.count, list[position] === self else { return false }
        let last = list.removeLast()
        if last !== self {
            list[position] = last
            if let moved = last.channels.firstIndex(of: channels[index]) { last.positions[moved] = position }
        }
        positions[index] = -1
        return true
    }
}
