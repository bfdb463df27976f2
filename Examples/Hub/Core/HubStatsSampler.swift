import Rill
import RillCore
import Synchronization

/// The samples `GET /stats` sends, taken once per interval for every stream: however many
/// dashboards are open, the broker's channels are walked and sorted once per interval, and the
/// channels' previous counts (for their rates) are kept once, not per stream.
///
/// A sample younger than half the interval is handed out again; an older one is replaced by a
/// new one, whose rates are over the time since the one before. One sample is taken at a time
/// (streams that ask meanwhile wait for it, so dashboards opened together do not each take
/// one), off the event loops (a detached task: at 100,000 channels the pass and the sort take
/// tens of milliseconds, which no loop should stall for).
final class HubStatsSampler: Sendable {
    /// One sample: the totals, and every channel, busiest first.
    struct Sample: Sendable {
        var time: ContinuousClock.Instant
        /// `channels` holds every channel, sorted (most events per second, then most
        /// subscribers, then by name); a stream filters and cuts it.
        var stats: HubStats
        /// Each channel's published count, for the next sample's rates.
        var published: [String: Int]
        /// The rows' names in lower case, as UTF-8, in the rows' order: what `?search=` is
        /// matched against (a byte search: ~3 ms a stream at 100,000 channels), made once per
        /// sample rather than once per stream.
        var searchNames: [[UInt8]]
    }

    private struct State {
        var latest: Sample?
        var taking: Task<Sample, Never>?
    }

    private let app: Application
    private let interval: Duration
    private let state = Mutex(State())

    init(app: Application, interval: Duration) {
        self.app = app
        self.interval = interval
    }

    /// Forgets the last sample (every channel's row and count): called when no dashboard is
    /// open, so that a hub with many channels does not keep them for nobody.
    func forget() { state.withLock { $0.latest = nil } }

    /// The current sample: the last one if it is younger than half the interval, else the one
    /// being taken, else a new one.
    func sample() async -> Sample {
        let (ready, pending): (Sample?, Task<Sample, Never>?) = state.withLock { state in
            if let latest = state.latest, ContinuousClock.now - latest.time < interval / 2 { return (latest, nil) }
            if let taking = state.taking { return (nil, taking) }
            let previous = state.latest
            let taking = Task.detached { [self] in
                let sample = await take(after: previous)
                self.state.withLock { current in
                    current.latest = sample
                    current.taking = nil
                }
                return sample
            }
            state.taking = taking
            return (nil, taking)
        }
        if let ready { return ready }
        return await pending!.value
    }

    /// Whether `name` (lower-case UTF-8) contains `search` (the same).
    static func matches(_ name: [UInt8], _ search: [UInt8]) -> Bool {
        guard !search.isEmpty else { return true }
        guard name.count >= search.count else { return false }
        for start in 0...(name.count - search.count) where name[start] == search[0] {
            var index = 1
            while index < search.count && name[start + index] == search[index] { index += 1 }
            if index == search.count { return true }
        }
        return false
    }

    private func take(after previous: Sample?) async -> Sample {
        let statistics = await app.broker.statistics(includingChannels: false)
        let channels = await app.broker.channelStatistics()
        let server = await app.serverStatistics()
        let now = ContinuousClock.now
        var seconds = 0.0
        if let previous { seconds = (now - previous.time).secondsAsDouble }
        func rate(_ count: Int, since earlier: Int?) -> Double {
            guard seconds > 0, let earlier, count >= earlier else { return 0 }
            return Double(count - earlier) / seconds
        }
        var published: [String: Int] = [:]
        published.reserveCapacity(channels.count)
        var rows: [HubChannelStats] = []
        rows.reserveCapacity(channels.count)
        for channel in channels {
            published[channel.name] = channel.publishedEventCount
            rows.append(
                HubChannelStats(
                    name: channel.name, subscribers: channel.subscriberCount, published: channel.publishedEventCount,
                    eventsPerSecond: rate(channel.publishedEventCount, since: previous?.published[channel.name]),
                    historyEvents: channel.historyEventCount, historyBytes: channel.historyByteCount))
        }
        rows.sort {
            if $0.eventsPerSecond != $1.eventsPerSecond { return $0.eventsPerSecond > $1.eventsPerSecond }
            if $0.subscribers != $1.subscribers { return $0.subscribers > $1.subscribers }
            return $0.name < $1.name
        }
        let stats = HubStats(
            connections: server.connectionCount, connectionsByLoop: server.connectionCountsByLoop,
            subscribers: statistics.subscriptionCount, published: statistics.publishedEventCount,
            delivered: statistics.deliveredEventCount,
            deliveriesPerSecond: rate(statistics.deliveredEventCount, since: previous?.stats.delivered),
            channelCount: channels.count, channels: rows,
            latencyP50Milliseconds: server.deliveryLatency.p50.secondsAsDouble * 1000,
            latencyP99Milliseconds: server.deliveryLatency.p99.secondsAsDouble * 1000, latencyWrites: server.deliveryLatency.writeCount)
        let searchNames = rows.map { Array($0.name.lowercased().utf8) }
        return Sample(time: now, stats: stats, published: published, searchNames: searchNames)
    }
}
