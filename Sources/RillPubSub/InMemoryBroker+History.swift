internal import DequeModule
internal import HeapModule
import RillCore

// The history: replay, trimming, eviction and forgetting. Everything here runs under the
// broker's lock.
extension InMemoryBroker {
    /// The replay status for `lastEventID`, and the sequence number after which the replay
    /// starts (nil: no replay). `matched`: the channels with history the subscription's patterns
    /// match (``channelsWithHistory(matching:excluding:publishedAfter:)``).
    ///
    /// A pattern also matches channels the broker no longer holds history for: one that lost
    /// its events after the client's (trimmed empty, or forgotten) may have been one of them, so
    /// it counts as a gap — conservatively, never a silent loss; so does a scan of the channels
    /// that stopped at its bound (`matchedAll` false).
    func replayStatus(
        after lastEventID: String?, in names: [String], matched: [Channel] = [], hasPatterns: Bool = false, matchedAll: Bool = true
    ) -> (status: ReplayStatus, after: UInt64?) {
        guard let lastEventID else { return (.live, nil) }
        guard
            let position = startPosition(in: lastEventID) ?? position(of: lastEventID, in: names, matched: matched)
                ?? formerPosition(of: lastEventID, in: names, matched: matched)
        else {
            return (.gap, 0)
        }
        var lost = names.contains { (channels[$0]?.trimmedThrough ?? forgottenLoss(of: $0)) > position }
        if hasPatterns {
            lost = lost || !matchedAll || matched.contains { $0.trimmedThrough > position } || max(forgottenThrough, emptiedThrough) > position
        }
        return (lost ? .gap : .complete, position)
    }

    /// The sequence numbers below which no channel can hold the event `lastEventID` names: a
    /// decimal id is found at its own sequence number or not at all (see ``position(of:in:matched:)``);
    /// any other id may be anywhere.
    static func floor(for lastEventID: String) -> UInt64 {
        if let position = PositionID.parse(lastEventID), position.second == 0 { return position.first }
        return UInt64(lastEventID).map { $0 - min($0, 1) } ?? 0
    }

    /// The sequence number a position id (`PositionID`, what an event stream opens with)
    /// stands for: nil for any other id, and for a position this broker has not reached (one
    /// from an earlier process).
    func startPosition(in lastEventID: String) -> UInt64? {
        guard let position = PositionID.parse(lastEventID), position.second == 0, position.first <= sequence else { return nil }
        return position.first
    }

    /// The channels with history that one of `patterns` matches and `excluding` does not name,
    /// among those whose last event is newer than `sequence`: the newest end of the list of
    /// channels with history, which is ordered by last publish. At most
    /// ``BrokerConfiguration/maxPatternReplayScannedChannels`` are looked at; `isComplete` is
    /// false when older ones were left (they may hold what the client missed: a gap).
    func channelsWithHistory(matching patterns: [ChannelPattern], excluding names: [String], publishedAfter sequence: UInt64)
        -> (channels: [Channel], isComplete: Bool)
    {
        var matched: [Channel] = []
        var next = newestChannels[0]  // no pattern matches the server's own channels
        var budget = configuration.maxPatternReplayScannedChannels
        while let channel = next, let last = channel.history.last, last.sequence > sequence {
            guard budget > 0 else { return (matched, false) }
            budget -= 1
            next = channel.previous
            guard !names.contains(channel.name) else { continue }
            let segments = ChannelPattern.segments(of: channel.name)
            if patterns.contains(where: { $0.matches(segments: segments) }) { matched.append(channel) }
        }
        return (matched, true)
    }

    /// The sequence number of the event whose id is exactly `id` in these channels' history
    /// (the latest, if several carry it). A decimal id is first looked up as a sequence number,
    /// and accepted only if the event there carries exactly that id.
    func position(of id: String, in names: [String], matched: [Channel] = []) -> UInt64? {
        let number = UInt64(id)
        var position: UInt64?
        for channel in names.compactMap({ channels[$0] }) + matched {
            guard !channel.history.isEmpty else { continue }
            if let number {
                let index = channel.firstIndex(after: number - min(number, 1))
                if index < channel.history.endIndex, channel.history[index].sequence == number, channel.history[index].id == id {
                    position = max(position ?? 0, number)
                    continue
                }
            }
            if let match = channel.history.last(where: { $0.id == id }) {
                position = max(position ?? 0, match.sequence)
            }
        }
        return position
    }

    /// The sequence number a broker-assigned id names once its event has left the history (by
    /// count, age or budget, or with its whole channel): the id is the decimal of a sequence
    /// number this broker handed out (after ``startSequence``, at most ``sequence``), no
    /// publisher has used an id that reads as such a number (``publisherIDsReadAsSequences``;
    /// then ids are matched exactly), and no event still held in these channels sits at that
    /// sequence number with another id (then the id names no event). Ids are one order across
    /// channels, so the client's position is known: the replay starts after it (never with
    /// events the client had), and it is a gap only if a channel lost events after it.
    func formerPosition(of id: String, in names: [String], matched: [Channel]) -> UInt64? {
        guard !publisherIDsReadAsSequences, let number = UInt64(id), number > startSequence, number <= sequence,
            String(number) == id
        else { return nil }
        for channel in names.compactMap({ channels[$0] }) + matched {
            let index = channel.firstIndex(after: number - 1)
            if index < channel.history.endIndex, channel.history[index].sequence == number { return nil }
        }
        return number
    }

    /// A replay read from the history of a subscription's channels as its subscriber takes it:
    /// the events after `after` up to each channel's last event at subscription time, merged in
    /// sequence order. Events published later are delivered live.
    final class HistoryReplay: ReplaySource {
        /// Its history is read under the broker's lock (other loops publish meanwhile).
        private let broker: InMemoryBroker
        private let channels: [Channel]
        /// Per channel, the sequence number of its last event to replay.
        private let lastSequences: [UInt64]
        /// Per channel, what it had dropped when the replay began (a gap already reported).
        private let trimmedAtStart: [UInt64]
        /// The sequence number of the last event produced.
        private var after: UInt64

        /// Under the lock.
        init(broker: InMemoryBroker, channels: [Channel], after: UInt64) {
            self.broker = broker
            self.channels = channels
            self.lastSequences = channels.map { $0.history.last?.sequence ?? 0 }
            self.trimmedAtStart = channels.map(\.trimmedThrough)
            self.after = after
        }

        /// A channel's next event in the merge.
        private struct Cursor: Comparable {
            var sequence: UInt64
            var channel: Int
            static func < (lhs: Cursor, rhs: Cursor) -> Bool { lhs.sequence < rhs.sequence }
        }

        func produce(maxBytes: Int, into events: inout Deque<BrokerEvent>) -> ReplayProgress {
            var produced = Deque<BrokerEvent>()
            let progress = broker.lock.withLock { _ in produce(maxBytes: maxBytes, appendingTo: &produced) }
            events.append(contentsOf: produced)
            return progress
        }

        /// Under the lock.
        private func produce(maxBytes: Int, appendingTo events: inout Deque<BrokerEvent>) -> ReplayProgress {
            // History is trimmed oldest first: a channel that dropped an event past `after`
            // since the replay began, while it still had events to replay, dropped the next one
            // this replay needed.
            for (index, channel) in channels.enumerated()
            where lastSequences[index] > after && channel.trimmedThrough > max(after, trimmedAtStart[index]) {
                return .lost
            }
            // A merge in sequence order: a heap of each channel's next event (a pattern may match
            // thousands of channels).
            var indices = channels.map { $0.firstIndex(after: after) }
            var next = Heap<Cursor>()
            for (index, channel) in channels.enumerated() where indices[index] < channel.history.endIndex {
                let sequence = channel.history[indices[index]].sequence
                if sequence <= lastSequences[index] { next.insert(Cursor(sequence: sequence, channel: index)) }
            }
            var bytes = 0
            while bytes < maxBytes {
                guard let best = next.popMin() else { return .finished }
                let channel = channels[best.channel]
                let event = channel.history[indices[best.channel]]
                indices[best.channel] += 1
                events.append(event)
                bytes += event.encodedBytes.count
                after = event.sequence
                if indices[best.channel] < channel.history.endIndex {
                    let sequence = channel.history[indices[best.channel]].sequence
                    if sequence <= lastSequences[best.channel] { next.insert(Cursor(sequence: sequence, channel: best.channel)) }
                }
            }
            return lastSequences.contains { $0 > after } ? .more : .finished
        }
    }

    // MARK: History and housekeeping

    /// The channel named `name`, made if needed. A channel without history (subscribers only)
    /// counts toward no limit: subscriptions bound those (`maxChannelsPerStream` per stream).
    func channelNamed(_ name: String) -> Channel {
        if let channel = channels[name] { return channel }
        let loss = forgottenChannels.removeValue(forKey: name) ?? forgottenOverflowThrough
        let channel = Channel(name: name, trimmedThrough: loss, loopCount: shares.count)
        channels[name] = channel
        return channel
    }

    /// Makes room for one more channel with history (``BrokerConfiguration/maxChannels``): the
    /// least recently published of the server's own channels loses its history, subscribers or
    /// not (presence notices are for the moment); else the least recently published channel
    /// without subscribers (publishers' channels with subscribers met on the way count as
    /// recently used). Throws if every channel with history has subscribers.
    ///
    /// When none can go, it throws at once rather than walking every channel (with all of them
    /// busy, each refused publish would otherwise cost a walk of `maxChannels`).
    func forgetLeastRecentlyPublishedChannel(keeping: [String]) throws(BrokerError) {
        if let channel = oldestChannels[1] {
            forgetHistory(of: channel)
            return
        }
        let idleKept = keeping.reduce(0) { count, name in count + (channels[name].map { $0.isListed && $0.subscriberCount == 0 } == true ? 1 : 0) }
        guard listedChannelCounts[0] - busyListedChannelCount > idleKept else { throw .channelLimitReached(configuration.maxChannels) }
        var remaining = listedChannelCounts[0]
        while remaining > 0, let channel = oldestChannels[0] {
            remaining -= 1
            guard channel.subscriberCount == 0, !keeping.contains(channel.name) else {
                markRecentlyPublished(channel)
                continue
            }
            forgetHistory(of: channel)
            return
        }
        throw .channelLimitReached(configuration.maxChannels)
    }

    /// Drops all of `channel`'s history (a later replay from it reports `gap`), and the
    /// channel itself unless it has subscribers.
    private func forgetHistory(of channel: Channel) {
        counters.evictedEventCount += channel.history.count
        while let first = channel.history.popFirst() { channel.trimmedThrough = max(channel.trimmedThrough, first.sequence) }
        historyBytes -= channel.historyBytes
        channel.historyBytes = 0
        unlist(channel)
        removeIfUnused(channel.name, channel)
    }

    /// Drops the oldest events of the least recently published channels until the histories fit
    /// ``BrokerConfiguration/maxHistoryBytes``: the server's own channels first.
    func evictOldestHistory() {
        while historyBytes > configuration.maxHistoryBytes, let channel = oldestChannels[1] ?? oldestChannels[0] {
            while historyBytes > configuration.maxHistoryBytes, let first = channel.history.popFirst() {
                dropped(first, from: channel)
                counters.evictedEventCount += 1
            }
            if channel.history.isEmpty {
                unlist(channel)
                removeIfUnused(channel.name, channel)
            }
        }
    }

    func dropped(_ event: BrokerEvent, from channel: Channel) {
        let cost = event.storedByteCount
        channel.historyBytes -= cost
        historyBytes -= cost
        // Never lowered: a mark of ``markEventsLost(in:includingUnpublished:)`` is above every event it holds.
        channel.trimmedThrough = max(channel.trimmedThrough, event.sequence)
        if channel.history.isEmpty { emptiedThrough = max(emptiedThrough, event.sequence) }
    }

    /// Records that `names` missed events after every position handed out so far: each channel
    /// the broker holds or remembers as forgotten (with `includingUnpublished`, any) gets a
    /// loss at a new sequence number, which no event and no position will have, so that a
    /// client resuming from an earlier position is told `gap`. A channel not held is
    /// remembered as forgotten with that loss (within ``BrokerConfiguration/maxChannels``
    /// names).
    public func markEventsLost(in names: [String], includingUnpublished: Bool) {
        lock.withLock { _ in
            for name in names {
                if let channel = channels[name] {
                    sequence += 1
                    channel.trimmedThrough = sequence
                } else if includingUnpublished || forgottenChannels[name] != nil {
                    sequence += 1
                    rememberForgotten(name, through: sequence)
                }
            }
        }
    }

    /// Moves `channel` to the recent end of its eviction order.
    func markRecentlyPublished(_ channel: Channel) {
        let list = channel.isServerChannel ? 1 : 0
        if channel.isListed {
            guard newestChannels[list] !== channel else { return }
            unlist(channel)
        }
        channel.isListed = true
        listedChannelCounts[list] += 1
        if channel.subscriberCount > 0 && list == 0 { busyListedChannelCount += 1 }
        channel.previous = newestChannels[list]
        if let newest = newestChannels[list] { newest.next = channel } else { oldestChannels[list] = channel }
        newestChannels[list] = channel
    }

    func unlist(_ channel: Channel) {
        guard channel.isListed else { return }
        let list = channel.isServerChannel ? 1 : 0
        channel.isListed = false
        listedChannelCounts[list] -= 1
        if channel.subscriberCount > 0 && list == 0 { busyListedChannelCount -= 1 }
        let next = channel.next
        if let previous = channel.previous { previous.next = next } else { oldestChannels[list] = next }
        if let next { next.previous = channel.previous } else { newestChannels[list] = channel.previous }
        channel.previous = nil
        channel.next = nil
    }

    func trim(_ channel: Channel, now: UInt64) {
        while channel.history.count > configuration.historyCount, let first = channel.history.popFirst() {
            dropped(first, from: channel)
        }
        while let first = channel.history.first, now >= first.publishedAtMilliseconds + historyMaxAgeMilliseconds {
            channel.history.removeFirst()
            dropped(first, from: channel)
        }
        if channel.history.isEmpty { unlist(channel) }
    }

    /// A channel with no subscribers and no history is forgotten: channel names never leak.
    /// What it had dropped is kept broker-wide, and a channel made later starts from it, so a
    /// client that comes back to it with an old id still hears about the gap (conservatively:
    /// it may hear of one it did not have).
    func removeIfUnused(_ name: String, _ channel: Channel) {
        guard channel.subscriberCount == 0 && channel.history.isEmpty else { return }
        // No pattern matches a server channel: its losses (presence's marks among them) are no
        // pattern subscriber's concern.
        if !channel.isServerChannel { forgottenThrough = max(forgottenThrough, channel.trimmedThrough) }
        if channel.trimmedThrough > forgottenOverflowThrough { rememberForgotten(name, through: channel.trimmedThrough) }
        unlist(channel)
        if channels[name] === channel { channels[name] = nil }
    }

    /// What the channel named `name`, not held now, may have lost: its own loss when it was
    /// forgotten, else what any channel whose name was let go lost.
    func forgottenLoss(of name: String) -> UInt64 {
        forgottenChannels[name] ?? forgottenOverflowThrough
    }

    /// Keeps what a forgotten channel had lost, within ``BrokerConfiguration/maxChannels``
    /// names: past it the oldest name goes and its loss becomes everyone's floor.
    private func rememberForgotten(_ name: String, through: UInt64) {
        forgottenChannels[name] = through
        forgottenOrder.append((name, through))
        // The order may also hold entries superseded since (the name forgotten again, or its
        // channel made again): skipped, and bounded all the same.
        while forgottenChannels.count > configuration.maxChannels || forgottenOrder.count > 2 * configuration.maxChannels,
            let (oldest, loss) = forgottenOrder.popFirst()
        {
            guard forgottenChannels[oldest] == loss else { continue }
            forgottenChannels[oldest] = nil
            forgottenOverflowThrough = max(forgottenOverflowThrough, loss)
        }
    }

    /// Ages out history of channels nobody publishes to any more. On the first loop.
    func scheduleSweep() {
        let interval = max(1000, min(60_000, historyMaxAgeMilliseconds / 4))
        eventLoop.schedule(after: .milliseconds(Int64(interval))) { [weak self] in
            guard let self else { return }
            let now = self.eventLoop.nowMilliseconds
            self.lock.withLock { _ in
                for (name, channel) in self.channels {
                    self.trim(channel, now: now)
                    self.removeIfUnused(name, channel)
                }
            }
            self.scheduleSweep()
        }
    }
}
