import RillPubSub
import Testing

/// The coalescing policy of presence notices, as a pure value.
@Suite struct PresenceCoalescerTests {
    @Test func `changes up to the limit become individual joins and leaves in first-change order`() {
        var coalescer = PresenceCoalescer(maxIndividualEventsPerWindow: 3)
        coalescer.record(join: true, sub: "alice", channel: "chat")
        coalescer.record(join: false, sub: "bob", channel: "chat")
        coalescer.record(join: true, sub: nil, channel: "news")
        #expect(
            coalescer.drain() == [
                .join(channel: "chat", sub: "alice"), .leave(channel: "chat", sub: "bob"), .join(channel: "news", sub: nil),
            ])
        #expect(coalescer.isEmpty)
        #expect(coalescer.drain() == [])
    }

    @Test func `a join and a leave of the same sub within a window cancel`() {
        var coalescer = PresenceCoalescer(maxIndividualEventsPerWindow: 32)
        coalescer.record(join: true, sub: "alice", channel: "chat")
        coalescer.record(join: false, sub: "alice", channel: "chat")
        coalescer.record(join: true, sub: nil, channel: "chat")
        coalescer.record(join: true, sub: nil, channel: "chat")
        coalescer.record(join: false, sub: nil, channel: "chat")
        #expect(coalescer.drain() == [.join(channel: "chat", sub: nil)])
    }

    @Test func `past maxIndividualEventsPerWindow a channel gets one summary, others stay individual`() {
        var coalescer = PresenceCoalescer(maxIndividualEventsPerWindow: 32)
        for index in 0..<10_000 { coalescer.record(join: true, sub: "user-\(index)", channel: "busy") }
        for index in 0..<5 { coalescer.record(join: false, sub: "old-\(index)", channel: "busy") }
        coalescer.record(join: true, sub: "carol", channel: "quiet")
        #expect(coalescer.drain() == [.summary(channel: "busy", joined: 10_000, left: 5), .join(channel: "quiet", sub: "carol")])
    }

    @Test func `exactly the limit is still individual; a limit of 0 always summarises`() {
        var coalescer = PresenceCoalescer(maxIndividualEventsPerWindow: PresenceConfiguration.defaultMaxIndividualEventsPerWindow)
        for index in 0..<32 { coalescer.record(join: true, sub: "u\(index)", channel: "c") }
        #expect(coalescer.drain().count == 32)
        for index in 0..<33 { coalescer.record(join: true, sub: "u\(index)", channel: "c") }
        #expect(coalescer.drain() == [.summary(channel: "c", joined: 33, left: 0)])
        var none = PresenceCoalescer(maxIndividualEventsPerWindow: 0)
        none.record(join: false, sub: "a", channel: "c")
        #expect(none.drain() == [.summary(channel: "c", joined: 0, left: 1)])
    }

    @Test func `the documented defaults`() {
        let configuration = PresenceConfiguration()
        #expect(configuration.coalescingWindow == .seconds(1))
        #expect(configuration.maxIndividualEventsPerWindow == 32)
        #expect(configuration.refreshInterval == .seconds(5))
        #expect(configuration.entryTimeToLive == .seconds(15))
    }
}
