public import Prometheus
public import Rill
import Synchronization

/// What `GET /metrics` serves: the Prometheus registry the hub's application reports to
/// (swift-metrics through swift-prometheus: every `rill_…` metric of the framework, see
/// `MetricName`), brought up to date at each scrape.
///
/// Channel names are not exposed by default: they can be secrets (a per-user channel is a map
/// of who listens to what), and one label value per channel makes the series count unbounded.
/// With `maxChannelLabels` above 0 the channels with the most subscribers are named, no more:
/// `rill_channel_subscribers{channel="…"}`, a channel that left the top losing its series.
public final class HubMetrics: Sendable {
    /// The registry the application's metrics go to.
    public let registry: PrometheusCollectorRegistry
    /// How many channels, those with the most subscribers (ties by name), get a
    /// `rill_channel_subscribers{channel="…"}` sample; 0 names none.
    public let maxChannelLabels: Int
    /// The channel gauges in the registry now, by channel.
    private let channelGauges = Mutex<[String: Gauge]>([:])

    /// `rill_channel_subscribers`: the open subscriptions of a channel among the busiest.
    private static var channelSubscribers: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "rill_channel", unitName: "subscribers",
            helpText: "Open subscriptions of the channels with the most (--metrics-channels).")
    }

    /// The swift-metrics backend over `registry`, with request-duration buckets from 100 µs
    /// (the default ones start at 5 ms, slower than a whole request here) and a `# HELP` line
    /// for each of the framework's metrics.
    public static func factory(registry: PrometheusCollectorRegistry) -> HubMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[MetricName.requestDuration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        return HubMetricsFactory(base: factory)
    }

    /// Serves `registry`, naming up to `maxChannelLabels` channels.
    public init(registry: PrometheusCollectorRegistry, maxChannelLabels: Int = 0) {
        self.registry = registry
        self.maxChannelLabels = max(0, maxChannelLabels)
    }

    /// The Prometheus text exposition (version 0.0.4) of `app`'s metrics as of now.
    public func exposition(of app: Application) async -> [UInt8] {
        await app.reportMetrics()
        if maxChannelLabels > 0 { updateChannelGauges(await app.broker.statistics()) }
        return registry.emitToBuffer()
    }

    /// Sets the busiest channels' gauges and removes those of channels no longer among them.
    private func updateChannelGauges(_ statistics: BrokerStatistics) {
        let top = statistics.subscribersPerChannel.filter { $0.value > 0 }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(maxChannelLabels)
        channelGauges.withLock { gauges in
            var kept: [String: Gauge] = [:]
            for (channel, count) in top {
                let gauge =
                    gauges.removeValue(forKey: channel)
                    ?? registry.makeGauge(descriptor: Self.channelSubscribers, labels: [("channel", channel)])
                gauge.set(Double(count))
                kept[channel] = gauge
            }
            for gauge in gauges.values { registry.unregisterGauge(gauge) }
            gauges = kept
        }
    }
}
