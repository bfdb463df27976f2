/// Counters of the HTTP server, for metrics endpoints.
public struct ServerStatistics: Sendable, Hashable {
    /// Client connections open now.
    public var connectionCount: Int
    /// Connections refused because ``ServerConfiguration/maxConnections`` was reached.
    public var refusedConnectionCount: Int
    /// Event streams closed because their client fell more than
    /// ``EventStreamConfiguration/maxQueuedBytes`` behind.
    public var slowClientDisconnectCount: Int

    /// Creates counters.
    public init(connectionCount: Int = 0, refusedConnectionCount: Int = 0, slowClientDisconnectCount: Int = 0) {
        self.connectionCount = connectionCount
        self.refusedConnectionCount = refusedConnectionCount
        self.slowClientDisconnectCount = slowClientDisconnectCount
    }
}
