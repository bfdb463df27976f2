/// Counters of the HTTP server, for metrics endpoints.
public struct ServerStatistics: Sendable, Hashable {
    /// Client connections open now.
    public var connectionCount: Int
    /// Client connections open now on each event loop, in the order of
    /// `Application.eventLoops` (how evenly the kernel spreads them).
    public var connectionCountsByLoop: [Int] = []
    /// Event streams open now: HTTP/1.1 responses and HTTP/2 streams that opened one and have
    /// not ended (counted when the statistics are taken, by walking the loop's connections).
    public var eventStreamCount = 0
    /// Connections refused because ``ServerConfiguration/maxConnections`` was reached.
    public var refusedConnectionCount: Int
    /// Event streams closed because their client fell more than
    /// ``EventStreamConfiguration/maxQueuedBytes`` behind.
    public var slowClientDisconnectCount: Int
    /// Broker events handed to relayed event streams (`Application.eventStream`), one per
    /// event per stream.
    public var relayedEventCount: Int
    /// Socket writes that carried those events. Events that reach a stream faster than the
    /// server writes to all streams share a write, so under load this grows slower than
    /// ``relayedEventCount``; their ratio is the events per write.
    public var relayedWriteCount: Int
    /// Connections closed because their queued response bytes made no progress for
    /// ``ServerConfiguration/writeTimeout`` (a client that stopped reading).
    public var writeTimeoutCount: Int
    /// Connections the listener failed to accept (`accept(2)` errors such as EMFILE or ENFILE
    /// that libuv reported), counted and logged at most once per 10 seconds.
    public var acceptErrorCount: Int
    /// Times the server gave memory a burst had freed back to the kernel
    /// (``ServerConfiguration/freedMemoryCheckInterval``).
    public var freedMemoryReturnCount: Int
    /// The publish-to-write latency of live events on event streams over the last 5 to 10
    /// seconds, all loops together.
    public var deliveryLatency = DeliveryLatency()

    /// Creates counters.
    public init(
        connectionCount: Int = 0, refusedConnectionCount: Int = 0, slowClientDisconnectCount: Int = 0,
        relayedEventCount: Int = 0, relayedWriteCount: Int = 0, writeTimeoutCount: Int = 0, acceptErrorCount: Int = 0,
        freedMemoryReturnCount: Int = 0
    ) {
        self.writeTimeoutCount = writeTimeoutCount
        self.connectionCount = connectionCount
        self.refusedConnectionCount = refusedConnectionCount
        self.slowClientDisconnectCount = slowClientDisconnectCount
        self.relayedEventCount = relayedEventCount
        self.relayedWriteCount = relayedWriteCount
        self.acceptErrorCount = acceptErrorCount
        self.freedMemoryReturnCount = freedMemoryReturnCount
    }

    /// The counters of several loops' servers added up (``connectionCountsByLoop`` appended).
    static func sum(_ parts: [ServerStatistics]) -> ServerStatistics {
        var total = ServerStatistics()
        for part in parts {
            total.connectionCount += part.connectionCount
            total.connectionCountsByLoop.append(contentsOf: part.connectionCountsByLoop)
            total.eventStreamCount += part.eventStreamCount
            total.refusedConnectionCount += part.refusedConnectionCount
            total.slowClientDisconnectCount += part.slowClientDisconnectCount
            total.relayedEventCount += part.relayedEventCount
            total.relayedWriteCount += part.relayedWriteCount
            total.writeTimeoutCount += part.writeTimeoutCount
            total.acceptErrorCount += part.acceptErrorCount
            total.freedMemoryReturnCount += part.freedMemoryReturnCount
        }
        return total
    }
}
