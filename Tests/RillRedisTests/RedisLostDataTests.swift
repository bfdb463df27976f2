import RillCore
import RillPubSub
import RillSSE
import RillTestSupport
import Testing

@testable import RillRedis

/// A Redis that lost its data (restarted without persistence, flushed, failed over to a
/// replica that lagged): positions and catch-ups from before it read as gaps, never as
/// "nothing missed". Found by an independent chaos audit, which resumed from a position after a
/// restart of an empty Redis and was told `complete` with the events gone.
@Suite(.timeLimit(.minutes(1))) struct RedisLostDataTests {
    @Test func `a position from before Redis lost its data is a gap, on channels and on patterns`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        _ = try await a.broker.publish(ServerSentEvent(data: "before"), to: "news/x")
        let quiet = try await b.broker.subscribe(to: ["news/x"], lastEventID: nil)
        let position = try #require(quiet.startPosition)
        quiet.cancel()
        let byPattern = try await b.broker.subscribe(to: [], matching: [try ChannelPattern("news/*")], lastEventID: nil)
        let patternPosition = try #require(byPattern.startPosition)
        byPattern.cancel()
        // Published, then lost with Redis's data before the clients came back.
        _ = try await a.broker.publish(ServerSentEvent(data: "missed"), to: "news/x")
        _ = try await a.broker.runCommand(["FLUSHALL"])
        _ = try await a.broker.publish(ServerSentEvent(data: "after"), to: "news/x")

        let resumed = try await b.broker.subscribe(to: ["news/x"], lastEventID: position)
        #expect(resumed.replayStatus == .gap)
        #expect(dataOf(try await take(1, from: resumed)) == ["after"])
        let resumedByPattern = try await b.broker.subscribe(to: [], matching: [try ChannelPattern("news/*")], lastEventID: patternPosition)
        #expect(resumedByPattern.replayStatus == .gap)
        #expect(dataOf(try await take(1, from: resumedByPattern)) == ["after"])

        // Positions given out after the loss resume completely again.
        let now = try await b.broker.subscribe(to: ["news/x"], lastEventID: nil)
        let newPosition = try #require(now.startPosition)
        now.cancel()
        _ = try await a.broker.publish(ServerSentEvent(data: "next"), to: "news/x")
        let again = try await b.broker.subscribe(to: ["news/x"], lastEventID: newPosition)
        #expect(again.replayStatus == .complete)
        #expect(dataOf(try await take(1, from: again)) == ["next"])
        for subscription in [resumed, resumedByPattern, again] { subscription.cancel() }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a channel marked lost is a gap from any earlier position, each mark is fresh, an unpublished one is made when asked`()
        async throws
    {
        let server = try RedisServer()
        let a = try await Node.start(server)
        _ = try await a.broker.publish(ServerSentEvent(data: "one"), to: "notices")
        let second = try await a.broker.publish(ServerSentEvent(data: "two"), to: "notices").id
        a.broker.markEventsLost(in: ["notices", "never-published"], includingUnpublished: false)
        // Sent after the mark on the same connection: answered after it ran.
        let mark = try #require(try await a.broker.runCommand(["HGET", "rill:meta:notices", "trimmed"]).text)
        #expect(mark != second)
        #expect(try await a.broker.runCommand(["EXISTS", "rill:meta:never-published"]).integer == 0)
        // A later mark takes a fresh id even with nothing published meanwhile: a position handed
        // out since (an opening position equals the last id) must be before it.
        a.broker.markEventsLost(in: ["notices"], includingUnpublished: false)
        let later = try #require(try await a.broker.runCommand(["HGET", "rill:meta:notices", "trimmed"]).text)
        #expect(StreamID(later)! > StreamID(mark)!)
        // A channel whose watchers went before any notice: made, with the loss.
        a.broker.markEventsLost(in: ["unpublished"], includingUnpublished: true)
        #expect(try await a.broker.runCommand(["HGET", "rill:meta:unpublished", "trimmed"]).text != nil)
        #expect(try await a.broker.runCommand(["TTL", "rill:meta:unpublished"]).integer ?? 0 > 0)
        let acrossBoth = try await a.broker.subscribe(to: ["unpublished", "notices"], lastEventID: second)
        #expect(acrossBoth.replayStatus == .gap)

        let resumed = try await a.broker.subscribe(to: ["notices"], lastEventID: second)
        #expect(resumed.replayStatus == .gap)
        let third = try await a.broker.publish(ServerSentEvent(data: "three"), to: "notices").id
        #expect(dataOf(try await take(1, from: resumed)) == ["three"])
        let fromThird = try await a.broker.subscribe(to: ["notices"], lastEventID: third)
        #expect(fromThird.replayStatus == .complete)
        for subscription in [resumed, fromThird, acrossBoth] { subscription.cancel() }
        await a.shutdown()
    }

    @Test func `presence-notice channels keep what they lost twice the history's age, not a week, and stay a gap after`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server, broker: BrokerConfiguration(historyMaxAge: .seconds(1)))
        let notice = try await a.broker.publish(ServerSentEvent(data: "alice joined"), to: "rill-presence/room").id
        _ = try await a.broker.publish(ServerSentEvent(data: "news"), to: "data")
        a.broker.markEventsLost(in: ["rill-presence/room", "rill-presence/gone"], includingUnpublished: true)
        // Answered after the mark (same connection).
        var lifetimes: [Int64] = []
        for key in ["rill:meta:rill-presence/room", "rill:meta:rill-presence/gone", "rill:meta:data"] {
            lifetimes.append(try await a.broker.runCommand(["PTTL", key]).integer ?? -2)
        }
        // Anyone who may subscribe can name notice channels: theirs go after 2 s here; a
        // publisher's channel keeps its own a week (a long-quiet channel resumes `complete`).
        #expect(lifetimes[0] > 0 && lifetimes[0] <= 2_000, "\(lifetimes)")
        #expect(lifetimes[1] > 0 && lifetimes[1] <= 2_000, "\(lifetimes)")
        #expect(lifetimes[2] > 604_000_000, "\(lifetimes)")
        // Once Redis forgot the notice channel, a watcher back from before the mark is still
        // told gap: its position is older than the history's age.
        try await Task.sleep(for: .milliseconds(2_300))
        #expect(try await a.broker.runCommand(["EXISTS", "rill:meta:rill-presence/room"]).integer == 0)
        let back = try await a.broker.subscribe(to: ["rill-presence/room"], lastEventID: notice)
        #expect(back.replayStatus == .gap)
        back.cancel()
        await a.shutdown()
    }

    @Test func `a live stream whose catch-up reaches back before the loss ends with historyLost`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let subscription = try await a.broker.subscribe(to: ["live"], lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "1"), to: "live")
        #expect(dataOf(try await take(1, from: subscription)) == ["1"])
        // The data goes, then the subscriber connection: its catch-up after "1" cannot tell
        // what was published in between, so the stream ends and its client resumes with a gap.
        _ = try await a.broker.runCommand(["FLUSHALL"])
        _ = try await a.broker.runCommand(["CLIENT", "KILL", "TYPE", "pubsub"])
        await #expect(throws: SubscriptionError.historyLost) { _ = try await take(1, from: subscription) }
        await a.shutdown()
    }

    @Test func `events missed while only the subscriber connection was down, then lost with Redis's data, end the stream`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        // B's subscriber connection stays away for 3 s; its command connection stays up.
        let b = try await Node.start(server) { $0.reconnectInitialDelay = .seconds(3) }
        let subscription = try await b.broker.subscribe(to: ["feed"], lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "1"), to: "feed")
        #expect(dataOf(try await take(1, from: subscription)) == ["1"])
        _ = try await a.broker.runCommand(["CLIENT", "KILL", "TYPE", "pubsub"])
        // Published while B does not listen, then gone: Redis restarts without its data.
        _ = try await a.broker.publish(ServerSentEvent(data: "missed"), to: "feed")
        try await Task.sleep(for: .milliseconds(500))
        server.kill()
        try server.start()
        await #expect(throws: SubscriptionError.historyLost) { _ = try await take(1, from: subscription, within: .seconds(15)) }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a pattern resume that no channel matches completes at once instead of timing out`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        _ = try await a.broker.publish(ServerSentEvent(data: "elsewhere"), to: "other")
        let first = try await a.broker.subscribe(to: [], matching: [try ChannelPattern("quiet/*")], lastEventID: nil)
        let position = try #require(first.startPosition)
        first.cancel()
        // Nothing matched since the position: complete, and live from here.
        let resumed = try await a.broker.subscribe(to: [], matching: [try ChannelPattern("quiet/*")], lastEventID: position)
        #expect(resumed.replayStatus == .complete)
        // An event id no channel of the pattern holds: a gap (it waited 5 s and failed).
        let unknown = try await a.broker.subscribe(to: [], matching: [try ChannelPattern("quiet/*")], lastEventID: "1-0")
        #expect(unknown.replayStatus == .gap)
        _ = try await a.broker.publish(ServerSentEvent(data: "now"), to: "quiet/a")
        #expect(dataOf(try await take(1, from: resumed)) == ["now"])
        #expect(dataOf(try await take(1, from: unknown)) == ["now"])
        for subscription in [resumed, unknown] { subscription.cancel() }
        await a.shutdown()
    }
}
