import Dispatch
import RillCore
import RillPubSub
import RillSSE
import RillTestSupport
import Synchronization
import Testing

@testable import RillRedis

#if canImport(Glibc)
    import Glibc
#endif

/// The Redis broker's start positions (`~` and an entry id): what an event stream of a
/// subscription to channels opens with, read back as a `Last-Event-ID` by any process.
@Suite(.timeLimit(.minutes(1))) struct RedisStartPositionTests {
    @Test func `a client that left before its first event resumes from its position on another process`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        _ = try await a.broker.publish(ServerSentEvent(data: "before"), to: "news")
        let quiet = try await b.broker.subscribe(to: ["news"], lastEventID: nil)
        let position = try #require(quiet.startPosition)
        #expect(PositionID.isPosition(position))
        quiet.cancel()
        var receipts: [PublishReceipt] = []
        for event in [ServerSentEvent(data: "one"), ServerSentEvent(data: "two", id: "mine"), ServerSentEvent(data: "three")] {
            receipts.append(try await a.broker.publish(event, to: "news"))
        }
        _ = try await a.broker.publish(ServerSentEvent(data: "elsewhere"), to: "sports")
        // Back through process a this time: the position is Redis's, not a process's.
        let resumed = try await a.broker.subscribe(to: ["news"], lastEventID: position)
        #expect(resumed.replayStatus == .complete)
        #expect(resumed.openingPosition == nil)  // the replay comes first
        let replayed = try await take(3, from: resumed)
        #expect(dataOf(replayed) == ["one", "two", "three"])
        #expect(replayed.map(\.id) == receipts.map(\.id))
        // Nothing to replay: the stream would open with the subscription's own position.
        let current = try await a.broker.subscribe(to: ["news"], lastEventID: position)
        _ = try await take(3, from: current)
        let again = try await a.broker.subscribe(to: ["news"], lastEventID: current.startPosition)
        #expect(again.replayStatus == .complete && again.bufferedCount == 0)
        #expect(again.openingPosition == again.startPosition && again.startPosition != nil)
        for subscription in [resumed, current, again] { subscription.cancel() }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `resuming from a position while publishes race it has no gap and no duplicate`() async throws {
        let server = try RedisServer()
        let roomy = BrokerConfiguration(subscriberBufferCount: 4096)
        let a = try await Node.start(server, broker: roomy)
        let b = try await Node.start(server, broker: roomy)
        // An event before the subscription goes live (the broker's clock gives an empty Redis a
        // last id too; this does not depend on its first tick).
        _ = try await a.broker.publish(ServerSentEvent(data: "0"), to: "left")
        let total = 300
        let publisher = a.publishInBackground(total, pauseMicroseconds: 300) { $0 % 3 == 0 ? "left" : "right" }
        // Subscribed while events come: its first event after its position tells where the
        // position stands (events that came while its channels went live come first, as its
        // replay, and the position is after them).
        let first = try await b.broker.subscribe(to: ["left", "right"], lastEventID: nil)
        let position = try #require(first.startPosition)
        let after = try #require(StreamID(positionID: position))
        var head = try await take(1, from: first)
        while StreamID(head[0].id)! <= after { head = try await take(1, from: first) }
        first.cancel()
        let resumed = try await b.broker.subscribe(to: ["left", "right"], lastEventID: position)
        #expect(resumed.replayStatus == .complete)
        let start = Int(head[0].event.data!)!
        let rest = try await take(total - start + 1, from: resumed, within: .seconds(20))
        await waitWithoutBlocking(for: publisher.finished)
        #expect(publisher.failures.load(ordering: .relaxed) == 0)
        // Every event after the position, once, in order.
        #expect(dataOf(rest) == (start...total).map(String.init))
        #expect(resumed.bufferedCount == 0)
        resumed.cancel()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a position the history no longer covers is a gap; hostile positions subscribe like unknown ids`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server, broker: BrokerConfiguration(historyCount: 2))
        // Nothing was ever published, but the broker's clock gave Redis a last id when it
        // started: a position (a 0-0 one could not be told from one long forgotten).
        let first = try await a.broker.subscribe(to: ["news"], lastEventID: nil)
        #expect(first.startPosition.map(PositionID.isPosition) == true)
        first.cancel()
        _ = try await a.broker.publish(ServerSentEvent(data: "0"), to: "elsewhere")
        try await eventually("the first subscription ended") { await a.broker.statistics().subscriptionCount == 0 }
        let quiet = try await a.broker.subscribe(to: ["news"], lastEventID: nil)
        let position = try #require(quiet.startPosition)
        quiet.cancel()
        // Past count + slack (2 + 0): the oldest are trimmed.
        for number in 1...5 { _ = try await a.broker.publish(ServerSentEvent(data: String(number)), to: "news") }
        let resumed = try await a.broker.subscribe(to: ["news"], lastEventID: position)
        #expect(resumed.replayStatus == .gap)
        #expect(dataOf(try await take(2, from: resumed)) == ["4", "5"])
        // Positions from nowhere (hostile or from another deployment) subscribe like any unknown
        // id would, never fail the subscription.
        for hostile in ["~18446744073709551615-18446744073709551615", "~18446744073709551615", "~0-0", "~0"] {
            let subscription = try await a.broker.subscribe(to: ["news"], lastEventID: hostile)
            #expect(subscription.isActive, "\(hostile)")
            subscription.cancel()
        }
        // Patterns: the clock's position (it ticked when the broker started).
        let byPattern = try await a.broker.subscribe(to: [], matching: [try ChannelPattern("news*")], lastEventID: nil)
        #expect(byPattern.startPosition.map(PositionID.isPosition) == true)
        await #expect(throws: BrokerError.self) { try await a.broker.publish(ServerSentEvent(data: "x", id: "~1-2"), to: "news") }
        for subscription in [resumed, byPattern] { subscription.cancel() }
        await a.shutdown()
    }
}

/// Subscriptions with patterns: their position is the newest event their process's subscriber
/// connection received, while that is recent.
@Suite(.timeLimit(.minutes(1))) struct RedisPatternStartPositionTests {
    @Test func `a pattern subscription resumes from its position, on another process too`() async throws {
        let server = try RedisServer()
        let short = BrokerConfiguration(historyMaxAge: .seconds(4))
        let a = try await Node.start(server, broker: short)
        let b = try await Node.start(server, broker: short)
        let rooms = try ChannelPattern("rooms/*")
        let holder = try await b.broker.subscribe(to: [], matching: [rooms], lastEventID: nil)
        let before = try await a.broker.publish(ServerSentEvent(data: "before"), to: "rooms/1")
        _ = try await take(1, from: holder)
        let quiet = try await b.broker.subscribe(to: ["lobby"], matching: [rooms], lastEventID: nil)
        let position = try #require(quiet.startPosition)
        // The newest event b received, or older (lobby's own position), never newer.
        #expect(StreamID(positionID: position)! <= StreamID(before.id)!)
        quiet.cancel()
        _ = try await a.broker.publish(ServerSentEvent(data: "room 2"), to: "rooms/2")
        _ = try await a.broker.publish(ServerSentEvent(data: "elsewhere"), to: "halls/1")
        _ = try await a.broker.publish(ServerSentEvent(data: "lobby"), to: "lobby")
        let resumed = try await a.broker.subscribe(to: ["lobby"], matching: [rooms], lastEventID: position)
        #expect(resumed.replayStatus == .complete)
        #expect(dataOf(try await take(2, from: resumed)) == ["room 2", "lobby"])
        resumed.cancel()
        // No event for more than half the history's age: the clock (a tick every second here)
        // still gives a recent position, never an older one.
        try await Task.sleep(for: .milliseconds(2_300))
        let late = try await b.broker.subscribe(to: [], matching: [rooms], lastEventID: nil)
        let latePosition = try #require(late.startPosition)
        #expect(StreamID(positionID: latePosition)! >= StreamID(before.id)!)
        for subscription in [holder, late] { subscription.cancel() }
        await a.shutdown()
        await b.shutdown()
    }
}

/// A channel quiet for longer than the history's age, subscribed here all along: its own position
/// dates from when it went live, which a replay on a channel Redis never held takes for a gap;
/// the clock keeps the position recent.
@Suite(.timeLimit(.minutes(1))) struct RedisQuietChannelPositionTests {
    @Test func `a resume on a channel quiet for longer than the history's age is complete, not a gap`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server, broker: BrokerConfiguration(historyMaxAge: .seconds(2)))
        _ = try await a.broker.publish(ServerSentEvent(data: "elsewhere"), to: "other")
        let holder = try await a.broker.subscribe(to: ["quiet"], lastEventID: nil)
        try await Task.sleep(for: .milliseconds(2_600))
        let quiet = try await a.broker.subscribe(to: ["quiet"], lastEventID: nil)
        let position = try #require(quiet.startPosition)
        quiet.cancel()
        let resumed = try await a.broker.subscribe(to: ["quiet"], lastEventID: position)
        #expect(resumed.replayStatus == .complete, "\(position) read as a gap")
        _ = try await a.broker.publish(ServerSentEvent(data: "now"), to: "quiet")
        #expect(dataOf(try await take(1, from: resumed)) == ["now"])
        for subscription in [holder, resumed] { subscription.cancel() }
        await a.shutdown()
    }
}

/// A resume across channels where the client's position is newer than what a quiet channel
/// delivered here: nothing of that channel is on its way, so the subscription completes at once.
@Suite(.timeLimit(.minutes(1))) struct RedisQuietChannelResumeTests {
    @Test func `an id newer than a quiet channel's last event here does not hold the subscription up`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        // b has both channels live, long before the client's event.
        let holder = try await b.broker.subscribe(to: ["busy", "quiet"], lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "quiet 1"), to: "quiet")
        _ = try await take(1, from: holder)
        for number in 1...3 { _ = try await a.broker.publish(ServerSentEvent(data: "busy \(number)"), to: "busy") }
        let seen = try await take(3, from: holder)
        let started = ContinuousClock.now
        // An event id of the busy channel, then the position a stream on process a opens with.
        for lastEventID in [seen[1].id, try #require(try await a.broker.subscribe(to: ["busy", "quiet"], lastEventID: nil).startPosition)] {
            let resumed = try await b.broker.subscribe(to: ["busy", "quiet"], lastEventID: lastEventID)
            #expect(resumed.replayStatus == .complete, "\(lastEventID)")
            resumed.cancel()
        }
        #expect(ContinuousClock.now - started < .seconds(4), "a resume waited for the quiet channel")
        holder.cancel()
        await a.shutdown()
        await b.shutdown()
    }
}
