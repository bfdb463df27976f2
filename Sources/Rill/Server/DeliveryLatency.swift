import Histogram

/// The server's publish-to-write latency of live events on event streams, over the last 5 to 10
/// seconds (``ServerStatistics/deliveryLatency``): from the publish of an event (for the Redis
/// broker, from its arrival from Redis) to its bytes handed to the connection's socket (or, on
/// HTTP/2, to the connection's session). One sample per write: events that share a write count
/// once, at the oldest one's latency. Replays are not counted.
///
/// What it shows is the server's own delay — the flush queue, other connections' writes ahead,
/// a loop busy with handlers — not the network's or the client's.
public struct DeliveryLatency: Sendable, Hashable {
    /// Writes measured in the window.
    public var writeCount: Int
    /// The median.
    public var p50: Duration
    /// The 99th percentile.
    public var p99: Duration
    /// The largest.
    public var max: Duration

    /// A summary: all zero by default (nothing measured).
    public init(writeCount: Int = 0, p50: Duration = .zero, p99: Duration = .zero, max: Duration = .zero) {
        self.writeCount = writeCount
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }

    /// The summary of samples in microseconds.
    init(microseconds histogram: Histogram<UInt32>) {
        guard histogram.totalCount > 0 else {
            self.init()
            return
        }
        self.init(
            writeCount: Int(histogram.totalCount),
            p50: .microseconds(Int64(histogram.valueAtPercentile(50))),
            p99: .microseconds(Int64(histogram.valueAtPercentile(99))),
            max: .microseconds(Int64(histogram.max)))
    }
}
