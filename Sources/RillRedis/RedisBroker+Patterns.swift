import Logging
import RillCore
import RillPubSub

/// One Redis glob this process has `PSUBSCRIBE`d (or will): the patterns of its subscriptions
/// and subscribe calls that translate to it (``ChannelPattern/redisGlob``).
final class PatternState {
    enum Phase: Equatable {
        /// `PSUBSCRIBE` not yet confirmed (`sent` false: waiting for the subscriber connection).
        case subscribing(sent: Bool)
        /// Confirmed: Redis sends every event of a matching channel from now on.
        case live
    }

    let glob: [UInt8]
    /// Subscriptions and subscribe calls using a pattern with this glob (once per pattern).
    var useCount = 0
    /// Subscribe calls waiting for the confirmation, and collecting events meanwhile.
    var joins: [Join] = []
    var phase = Phase.subscribing(sent: false)

    init(glob: [UInt8]) { self.glob = glob }

    var isUnused: Bool { useCount == 0 && joins.isEmpty }
}

/// How many subscriptions and subscribe calls here use one pattern.
final class PatternUse {
    var count = 0
}

// Pattern subscriptions over Redis: one `PSUBSCRIBE` per distinct glob per process, whatever the
// number of subscribers.
//
// Live events: Redis sends an event once per pub/sub channel subscribed to and once per matching
// glob, one copy right after the other. The channel's copy goes to the subscribers by name (the
// channel path, with its sync and catch-up), the first glob copy to the subscribers by pattern,
// each once (``LoopFanOut/Audience``); later glob copies of the same event are dropped (ids
// increase in publish order, so ``RedisBroker/lastPatternEventID`` tells them apart).
//
// Replay with a `Last-Event-ID`: once the globs are confirmed (events are collected from then
// on), the channel index (`<prefix>channels`, stream keys by last publish) gives the channels
// published to since the client's event; those the patterns match join the subscription as
// channels by name, so the channel path replays them with its usual guarantees (no gap, no
// duplicate against the live events), and collected events of other channels — published after
// the index was read — are merged in by id.
//
// A lost subscriber connection ends the pattern subscriptions with `historyLost` (their clients
// reconnect with their last id and replay), rather than catching up every channel a glob
// might cover.
extension RedisBroker {
    /// The state of `pattern`'s glob, made (and `PSUBSCRIBE`d) if needed.
    func patternNamed(_ pattern: ChannelPattern) -> PatternState {
        let glob = keys.glob(for: pattern)
        if let state = patternStates[glob] { return state }
        let state = PatternState(glob: glob)
        patternStates[glob] = state
        if subscriber.psubscribe([glob]) { state.phase = .subscribing(sent: true) }
        return state
    }

    /// A subscription or subscribe call starts using `patterns`.
    func retainPatterns(_ patterns: [ChannelPattern]) {
        for pattern in patterns {
            patternNamed(pattern).useCount += 1
            if let use = localPatterns[pattern] {
                use.count += 1
            } else {
                let use = PatternUse()
                use.count = 1
                localPatterns[pattern] = use
            }
        }
    }

    /// A subscription or subscribe call stopped using `patterns`: globs nobody uses any more
    /// are `PUNSUBSCRIBE`d.
    func releasePatterns(_ patterns: [ChannelPattern]) {
        for pattern in patterns {
            if let use = localPatterns[pattern] {
                use.count -= 1
                if use.count == 0 { localPatterns[pattern] = nil }
            }
            guard let state = patternStates[keys.glob(for: pattern)] else { continue }
            state.useCount -= 1
            releaseIfUnused(state)
        }
    }

    /// A subscription with `patterns` on loop `loop` begins.
    func countPatternSubscription(_ patterns: [ChannelPattern], on loop: Int) {
        retainPatterns(patterns)
        patternSubscriberCounts[loop] += 1
    }

    /// A subscription with `patterns` on loop `loop` ended.
    func uncountPatternSubscription(_ patterns: [ChannelPattern], on loop: Int) {
        patternSubscriberCounts[loop] -= 1
        releasePatterns(patterns)
    }

    /// Forgets a glob nobody uses; `PUNSUBSCRIBE`s it once Redis confirmed it (an unconfirmed one
    /// waits for its confirmation, so that a later `PSUBSCRIBE` is never mistaken for it).
    private func releaseIfUnused(_ state: PatternState) {
        guard state.isUnused, patternStates[state.glob] === state else { return }
        switch state.phase {
        case .subscribing(sent: true):
            return
        case .subscribing(sent: false):
            patternStates[state.glob] = nil
        case .live:
            patternStates[state.glob] = nil
            if lifecycle == .running { subscriber.punsubscribe([state.glob]) }
        }
    }

    /// Handles a push about globs (`pmessage`, `psubscribe`, `punsubscribe`); false for any
    /// other push.
    func handlePatternPush(_ value: RedisValue) -> Bool {
        guard let parts = value.elements, parts.count >= 3, case .bulk(let kind) = parts[0] else { return false }
        if kind == Self.patternMessageKind {
            guard parts.count == 4, case .bulk(let pubsubName) = parts[2], case .bulk(let payload) = parts[3],
                let channel = keys.channel(fromPubSub: pubsubName)
            else { return true }
            patternMessage(channel: channel, payload: payload)
            return true
        }
        if kind == Self.patternSubscribeKind {
            guard case .bulk(let glob) = parts[1], let state = patternStates[glob], state.phase == .subscribing(sent: true) else { return true }
            if state.isUnused {
                patternStates[glob] = nil
                subscriber.punsubscribe([glob])
                return true
            }
            state.phase = .live
            for join in state.joins {
                sendReplayIfReady(join)
                completeIfReady(join)
            }
            return true
        }
        return kind == Self.patternUnsubscribeKind
    }

    private static let patternMessageKind = bytes("pmessage")
    private static let patternSubscribeKind = bytes("psubscribe")
    private static let patternUnsubscribeKind = bytes("punsubscribe")

    /// An event through a glob: to the subscribe calls and subscriptions whose patterns match
    /// its channel, once however many globs let it through.
    private func patternMessage(channel: String, payload: [UInt8]) {
        guard let space = payload.firstIndex(of: UInt8(ascii: " ")), let id = StreamID(bytes: payload[..<space]),
            let record = EventRecord(messageFields: payload[(space + 1)...])
        else {
            logger.warning("skipping a malformed message on channel \(channel) (through a pattern)")
            return
        }
        received(id)
        guard id > lastPatternEventID else { return }  // another glob's copy
        lastPatternEventID = id
        let segments = ChannelPattern.segments(of: channel)
        var wanted = false
        localPatterns.forEachMatch(segments: segments) { _ in wanted = true }
        guard wanted, let event = makeEvent(channel: channel, id: id, record: record) else { return }
        var overflowing: [Join] = []
        for join in joins.values where join.patterns.contains(where: { $0.matches(segments: segments) }) {
            guard join.patterns.allSatisfy({ patternStates[keys.glob(for: $0)]?.phase == .live }) else { continue }
            if join.buffer.count < joinBufferLimit { join.buffer.append((id, event)) } else { overflowing.append(join) }
        }
        for join in overflowing {
            fail(join, .backend("more than \(joinBufferLimit) events arrived while the subscription was set up"))
        }
        var wakeups: [LoopFanOut.Share] = []
        if patternSubscriberCounts.dropFirst().contains(where: { $0 > 0 }) {
            fanOut.lock.withLock { _ in
                for (loop, count) in patternSubscriberCounts.enumerated() where loop > 0 && count > 0 {
                    if fanOut.queue(.event(event, .patternSubscribers), for: fanOut.shares[loop]) { wakeups.append(fanOut.shares[loop]) }
                }
            }
        }
        for share in wakeups { fanOut.scheduleDrain(of: share) }
        if patternSubscriberCounts[0] > 0 { fanOut.shares[0].deliver(event, to: .patternSubscribers) }
    }

    /// The most members of the channel index one replay looks at.
    static let channelIndexScanLimit = 10_000

    /// Reads the channel index for a subscribe call with patterns and a `Last-Event-ID`, once
    /// its globs are confirmed: the channels its patterns match among those published to since
    /// the client's event join it as channels by name, then its replay starts.
    func expandIfReady(_ join: Join) {
        guard join.expansion == .waiting, join.completion != nil,
            join.patterns.allSatisfy({ patternStates[keys.glob(for: $0)]?.phase == .live })
        else { return }
        // An entry id gives the millisecond of the client's event; any other id, the whole index.
        let position = join.lastEventID.flatMap { StreamID(bytes: Array($0.utf8)[...]) ?? StreamID(positionID: $0) }
        let arguments = [
            keys.channelIndex, keys.historyStart, keys.lastID, bytes(position.map { String($0.milliseconds) } ?? "-inf"),
            bytes(String(Self.channelIndexScanLimit + 1)),
        ]
        let sent = evaluate(channelsSinceSHA, RedisScripts.channelsSince, keyCount: 3, arguments) { [weak self, weak join] reply in
            guard let self, let join, join.completion != nil else { return }
            guard let parts = reply?.elements, parts.count == 3, let now = parts[0].integer, case .bulk(let start) = parts[1],
                let historyStart = StreamID(bytes: start[...]), let members = parts[2].elements
            else {
                self.fail(
                    join,
                    reply == nil
                        ? self.unavailable
                        : .backend("\(self.configuration.url) could not list channels: \(reply?.errorMessage ?? "unexpected reply")"))
                return
            }
            // The index answers only for what it can remember: channels published to within
            // the history's age, since the history began. A client from before either may have
            // missed events on channels it no longer names: a gap.
            if let position,
                position < historyStart || position.milliseconds + self.historyMaxAgeMilliseconds <= UInt64(max(0, now))
            {
                join.expansionIsIncomplete = true
            }
            self.expand(join, members: members)
        }
        if sent { join.expansion = .sent } else { fail(join, unavailable) }
    }

    private func expand(_ join: Join, members: [RedisValue]) {
        // Oldest publish first: beyond the limit, the most recently published are kept.
        var matched: [String] = []
        for member in members.prefix(Self.channelIndexScanLimit) {
            guard case .bulk(let key) = member, let name = keys.channel(fromStream: key), !join.channels.contains(name) else { continue }
            let segments = ChannelPattern.segments(of: name)
            if join.patterns.contains(where: { $0.matches(segments: segments) }) { matched.append(name) }
        }
        let limit = max(0, configuration.maximumPatternReplayChannelCount)
        if members.count > Self.channelIndexScanLimit || matched.count > limit {
            join.expansionIsIncomplete = true
            matched = Array(matched.suffix(limit))
        }
        for name in matched {
            join.channels.append(name)
            channelNamed(name).joins.append(join)
        }
        join.expansion = .done
        sendReplayIfReady(join)
        completeIfReady(join)
    }

    /// The subscriber connection is gone: globs wait to be `PSUBSCRIBE`d again, and the pattern
    /// subscriptions on every loop end with ``SubscriptionError/historyLost`` (their clients
    /// replay from their last id).
    func patternsLostTheirConnection() {
        for state in patternStates.values { state.phase = .subscribing(sent: false) }
        for (glob, state) in patternStates where state.isUnused { patternStates[glob] = nil }
        for (loop, count) in patternSubscriberCounts.enumerated() where count > 0 {
            if loop == 0 {
                fanOut.shares[0].endPatternSubscriptions(with: .historyLost)
            } else {
                fanOut.send(.endPatternSubscriptions(error: .historyLost), to: fanOut.shares[loop])
            }
        }
    }

    /// After the subscriber connection came back: `PSUBSCRIBE` the globs still used.
    func resubscribePatterns() {
        let pending = patternStates.values.filter { $0.phase == .subscribing(sent: false) }
        guard !pending.isEmpty, subscriber.psubscribe(pending.map(\.glob)) else { return }
        for state in pending { state.phase = .subscribing(sent: true) }
    }
}
