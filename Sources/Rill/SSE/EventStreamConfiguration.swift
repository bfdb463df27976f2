/// How event streams behave: heartbeats, the reconnection hint, the slow-client cap.
///
/// Server-wide defaults live in ``ServerConfiguration/eventStream``; an ``EventStream`` may
/// override them.
public struct EventStreamConfiguration: Sendable {
    /// What happens when a client falls behind by more than ``maxQueuedBytes``.
    public enum SlowClientPolicy: Sendable, Equatable {
        /// Close the stream; the client reconnects with `Last-Event-ID` and replays what it
        /// missed. Memory per client stays bounded and nobody else waits. The default.
        case disconnect
        /// Suspend the producer until the client drained to the server's low-water mark. Only
        /// for streams whose producer may wait (a per-client generator, not a shared fan-out).
        case wait
    }

    /// A comment is sent when the stream has been silent this long; every event resets it.
    /// `.zero` disables heartbeats.
    public var heartbeatInterval: Duration
    /// If set, the first bytes of the stream are `retry: <ms>`, the client's reconnection delay.
    public var retry: Duration?
    /// The most bytes queued for one client before ``slowClientPolicy`` applies.
    public var maxQueuedBytes: Int
    /// What to do past ``maxQueuedBytes``.
    public var slowClientPolicy: SlowClientPolicy
    /// The most distinct channels one `Application.eventStream(for:context:)` stream may name
    /// (repeats count once); more get 400 with a JSON error. Each channel costs a replay and a
    /// subscriber-list entry, so this bounds what one request can make the server do.
    public var maxChannelsPerStream: Int

    /// Creates a configuration; defaults: 15 s heartbeats, no `retry`, 256 KiB cap, disconnect,
    /// 32 channels per stream.
    public init(
        heartbeatInterval: Duration = .seconds(15), retry: Duration? = nil, maxQueuedBytes: Int = 256 * 1024,
        slowClientPolicy: SlowClientPolicy = .disconnect, maxChannelsPerStream: Int = 32
    ) {
        self.heartbeatInterval = heartbeatInterval
        self.retry = retry
        self.maxQueuedBytes = maxQueuedBytes
        self.slowClientPolicy = slowClientPolicy
        self.maxChannelsPerStream = maxChannelsPerStream
    }
}
