import RillCore
import RillPubSub
import RillSSE
import Testing

/// `Broker.channelStatistics()` of the in-memory broker: what a dashboard's channel table shows.
@Suite struct ChannelStatisticsTests {
    @Test func `each channel held reports its subscribers, publishes and history`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 2, firstSequenceNumber: 1))
        let subscription = try await broker.subscribe(to: ["news", "sport"], lastEventID: nil)
        let second = try await broker.subscribe(to: ["news"], lastEventID: nil)
        for n in 1...3 { try await broker.publish(ServerSentEvent(data: "news \(n)"), to: "news") }
        try await broker.publish(ServerSentEvent(data: "weather"), to: "weather")
        let byName = Dictionary(uniqueKeysWithValues: await broker.channelStatistics().map { ($0.name, $0) })
        #expect(Set(byName.keys) == ["news", "sport", "weather"])
        let news = try #require(byName["news"])
        #expect(news.subscriberCount == 2 && news.publishedEventCount == 3)
        // The history keeps 2 events: what it holds, not what was published.
        #expect(news.historyEventCount == 2)
        #expect((news.historyByteCount ?? 0) >= 2 * BrokerEvent.storageOverheadBytes)
        #expect(
            byName["sport"] == ChannelStatistics(name: "sport", subscriberCount: 1, publishedEventCount: 0, historyEventCount: 0, historyByteCount: 0)
        )
        // A channel with history and no subscriber is held too.
        #expect(byName["weather"]?.subscriberCount == 0 && byName["weather"]?.historyEventCount == 1)
        // The totals agree with the broker's statistics.
        let totals = await broker.statistics()
        #expect(byName.values.reduce(0) { $0 + ($1.historyByteCount ?? 0) } == totals.historyByteCount)
        #expect(totals.subscribedChannelCount == 2 && totals.subscribersPerChannel == ["news": 2, "sport": 1])
        // Without the per-channel dictionary (what periodic metrics reports take): the same counts.
        let counts = await broker.statistics(includingChannels: false)
        #expect(counts.subscribersPerChannel.isEmpty && counts.subscribedChannelCount == 2)
        #expect(counts.subscriptionCount == totals.subscriptionCount && counts.publishedEventCount == totals.publishedEventCount)
        subscription.cancel()
        second.cancel()
        await loop.shutdown()
    }

    @Test func `a channel with neither subscribers nor history is not listed`() async throws {
        let loop = try EventLoop()
        let broker = InMemoryBroker(eventLoop: loop, configuration: .init(historyCount: 0, firstSequenceNumber: 1))
        let subscription = try await broker.subscribe(to: ["news"], lastEventID: nil)
        try await broker.publish(ServerSentEvent(data: "nobody"), to: "empty")
        #expect(await broker.channelStatistics().map(\.name) == ["news"])
        subscription.cancel()
        #expect(await eventually { await broker.channelStatistics().isEmpty })
        await loop.shutdown()
    }
}
