/// The names of the metrics Rill reports through swift-metrics (see the "Metrics" article).
///
/// Names carry their unit; labels are bounded (a method from a fixed set, a status code, a
/// protocol, a loop index), never a path or a channel name.
public enum MetricName {
    /// Counter: responses by `method` (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT,
    /// TRACE or `other`), `status` (the code) and `protocol` (`http1`, `h2`).
    public static let httpRequests = "rill_http_requests_total"
    /// Timer (a histogram in Prometheus) by `protocol`: from the complete request to its
    /// response head written (a byte body goes with the head; a stream's time is until it opened).
    public static let requestDuration = "rill_request_duration_seconds"
    /// Gauge: open client connections, all loops.
    public static let connections = "rill_connections"
    /// Gauge by `loop` (`0`, `1`, … as in the thread name `rill-loop-N`): open client
    /// connections on each event loop; they add up to ``connections``.
    public static let loopConnections = "rill_loop_connections"
    /// Gauge: open event streams (HTTP/1.1 responses and HTTP/2 streams).
    public static let eventStreams = "rill_event_streams"
    /// Gauge: open broker subscriptions, over all channels.
    public static let subscribers = "rill_subscribers"
    /// Gauge: channels with at least one subscriber.
    public static let channels = "rill_channels"
    /// Counter: events published.
    public static let eventsPublished = "rill_events_published_total"
    /// Counter: events handed to subscribers (one per subscriber per event).
    public static let eventsDelivered = "rill_events_delivered_total"
    /// Counter: events dropped from full subscriber buffers.
    public static let eventsDropped = "rill_events_dropped_total"
    /// Counter: subscribers disconnected for falling behind (too many bytes queued on the
    /// socket, or a full broker buffer).
    public static let slowClientDisconnects = "rill_slow_client_disconnects_total"
    /// Counter: connections the listener failed to accept (out of file descriptors and similar).
    public static let acceptErrors = "rill_accept_errors_total"
    /// Counter: connections refused with a 503 over ``ServerConfiguration/maxConnections``.
    public static let refusedConnections = "rill_refused_connections_total"
    /// Counter: connections closed by ``ServerConfiguration/writeTimeout``.
    public static let writeTimeouts = "rill_write_timeouts_total"
    /// Gauge by `quantile` (`0.5`, `0.99`): the publish-to-write latency of live events on
    /// event streams over the last 5 to 10 seconds (``ServerStatistics/deliveryLatency``); 0
    /// when nothing was written.
    public static let deliveryLatency = "rill_delivery_latency_seconds"

    /// A one-line description of each metric above, for a backend that shows one (Prometheus's
    /// `# HELP` line); nil for any other name.
    ///
    /// ```swift
    /// MetricName.helpText(for: MetricName.connections)  // "Open client connections, all event loops."
    /// ```
    public static func helpText(for name: String) -> String? { helpTexts[name] }

    private static let helpTexts: [String: String] = [
        httpRequests: "Responses by method, status code and protocol (http1, h2).",
        requestDuration: "Seconds from a complete request to its response head written, by protocol.",
        connections: "Open client connections, all event loops.",
        loopConnections: "Open client connections of each event loop.",
        eventStreams: "Open event streams (HTTP/1.1 responses and HTTP/2 streams).",
        subscribers: "Open broker subscriptions over all channels.",
        channels: "Channels with at least one subscriber.",
        eventsPublished: "Events published.",
        eventsDelivered: "Events handed to subscribers (one per subscriber per event).",
        eventsDropped: "Events dropped from full subscriber buffers.",
        slowClientDisconnects: "Subscribers disconnected for falling behind.",
        acceptErrors: "Connections the listener failed to accept (out of file descriptors and similar).",
        refusedConnections: "Connections refused with 503 over the connection limit.",
        writeTimeouts: "Connections closed because their queued bytes made no progress within the write timeout.",
        deliveryLatency: "Publish-to-write latency of live events over the last 5 to 10 seconds, by quantile (0.5, 0.99).",
    ]
}
