import CoreMetrics
import RillCore
import RillPubSub

/// The application's gauges and counters that mirror the servers' and the broker's plain
/// integer counters, updated by ``report(server:broker:)``: gauges are set, counters grow by
/// what their source grew since the last report.
///
/// Nothing on the hot paths touches these: a delivered event or a written byte only bumps an
/// integer on its loop; ``Application/reportMetrics()`` collects them (every
/// ``ServerConfiguration/metricsReportingInterval``, and when an exporter asks).
final class MetricsReporter: Sendable {
    private let connections: Gauge
    private let loopConnections: [Gauge]
    private let eventStreams: Gauge
    private let subscribers: Gauge
    private let channels: Gauge
    private let published: Counter
    private let delivered: Counter
    private let dropped: Counter
    private let slowClientDisconnects: Counter
    private let acceptErrors: Counter
    private let refusedConnections: Counter
    private let writeTimeouts: Counter
    /// ``MetricName/deliveryLatency``: the median, then the 99th percentile.
    private let deliveryLatency: (p50: Gauge, p99: Gauge)
    /// The source totals the counters were last brought up to.
    private let reported = SanitizerVisibleMutex<ReportedTotals>(ReportedTotals())

    /// The counters' sources as last reported.
    private struct ReportedTotals {
        var published = 0
        var delivered = 0
        var dropped = 0
        var slowClientDisconnects = 0
        var acceptErrors = 0
        var refusedConnections = 0
        var writeTimeouts = 0
    }

    /// Makes every metric now (a counter is exported at 0 before anything happens) for
    /// `loopCount` loops.
    init(loopCount: Int, factory: any MetricsFactory) {
        connections = Gauge(label: MetricName.connections, factory: factory)
        loopConnections = (0..<loopCount).map {
            Gauge(label: MetricName.loopConnections, dimensions: [("loop", String($0))], factory: factory)
        }
        eventStreams = Gauge(label: MetricName.eventStreams, factory: factory)
        subscribers = Gauge(label: MetricName.subscribers, factory: factory)
        channels = Gauge(label: MetricName.channels, factory: factory)
        published = Counter(label: MetricName.eventsPublished, factory: factory)
        delivered = Counter(label: MetricName.eventsDelivered, factory: factory)
        dropped = Counter(label: MetricName.eventsDropped, factory: factory)
        slowClientDisconnects = Counter(label: MetricName.slowClientDisconnects, factory: factory)
        acceptErrors = Counter(label: MetricName.acceptErrors, factory: factory)
        refusedConnections = Counter(label: MetricName.refusedConnections, factory: factory)
        writeTimeouts = Counter(label: MetricName.writeTimeouts, factory: factory)
        deliveryLatency = (
            Gauge(label: MetricName.deliveryLatency, dimensions: [("quantile", "0.5")], factory: factory),
            Gauge(label: MetricName.deliveryLatency, dimensions: [("quantile", "0.99")], factory: factory)
        )
        for gauge in [connections, eventStreams, subscribers, channels, deliveryLatency.p50, deliveryLatency.p99] + loopConnections {
            gauge.record(0)
        }
    }

    /// Brings every metric up to the servers' and the broker's counters. Any thread; reports
    /// made at once are serialized, so a counter never goes back.
    func report(server: ServerStatistics, broker: BrokerStatistics) {
        connections.record(server.connectionCount)
        for (gauge, count) in zip(loopConnections, server.connectionCountsByLoop) { gauge.record(count) }
        eventStreams.record(server.eventStreamCount)
        deliveryLatency.p50.record(server.deliveryLatency.p50.secondsAsDouble)
        deliveryLatency.p99.record(server.deliveryLatency.p99.secondsAsDouble)
        subscribers.record(broker.subscriptionCount)
        channels.record(broker.subscribedChannelCount)
        reported.withLock { last in
            Self.advance(published, from: &last.published, to: broker.publishedEventCount)
            Self.advance(delivered, from: &last.delivered, to: broker.deliveredEventCount)
            Self.advance(dropped, from: &last.dropped, to: broker.droppedEventCount)
            Self.advance(
                slowClientDisconnects, from: &last.slowClientDisconnects,
                to: broker.slowConsumerDisconnectCount + server.slowClientDisconnectCount)
            Self.advance(acceptErrors, from: &last.acceptErrors, to: server.acceptErrorCount)
            Self.advance(refusedConnections, from: &last.refusedConnections, to: server.refusedConnectionCount)
            Self.advance(writeTimeouts, from: &last.writeTimeouts, to: server.writeTimeoutCount)
        }
    }

    /// Increments `counter` by how much its source grew past `last`, and remembers `total`.
    private static func advance(_ counter: Counter, from last: inout Int, to total: Int) {
        if total > last { counter.increment(by: Int64(total - last)) }
        last = max(last, total)
    }
}
