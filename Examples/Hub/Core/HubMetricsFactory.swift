public import CoreMetrics
public import Prometheus
import Rill

/// swift-prometheus's metrics factory, with a `# HELP` line for every metric Rill names
/// (``Rill/MetricName/helpText(for:)``): swift-prometheus's own factory registers every
/// swift-metrics metric without one. Buckets and the registry are the wrapped factory's.
public struct HubMetricsFactory: MetricsFactory {
    /// The factory whose registry and buckets are used, and which destroys handlers.
    public let base: PrometheusMetricsFactory

    /// Reports to `base`'s registry with `base`'s buckets.
    public init(base: PrometheusMetricsFactory) { self.base = base }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        // The label is the whole name: no unit is appended (empty components are skipped).
        MetricNameDescriptor(metricName: label, unitName: "", helpText: MetricName.helpText(for: label) ?? "")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        base.registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        base.registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return base.registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        let buckets = base.valueHistogramBuckets[label] ?? base.defaultValueHistogramBuckets
        return base.registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        base.registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets = base.durationHistogramBuckets[label] ?? base.defaultDurationHistogramBuckets
        return base.registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { base.destroyFloatingPointCounter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
