import RillCore

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
    /// If set, the first bytes of the stream are `retry: <ms>`, the client's reconnection delay,
    /// spread by ``retryJitter``.
    public var retry: Duration?
    /// How far each stream's ``retry`` is spread, as a fraction: a stream sends `retry` times a
    /// factor drawn uniformly from `1 - retryJitter ... 1 + retryJitter`, so that clients that
    /// lost the server at the same instant do not all return at the same instant. 0 sends
    /// `retry` exactly. Default 0.25 (±25 %).
    public var retryJitter: Double
    /// The most bytes queued for one client before ``slowClientPolicy`` applies.
    public var maxQueuedBytes: Int
    /// What to do past ``maxQueuedBytes``.
    public var slowClientPolicy: SlowClientPolicy
    /// The most distinct channels one `Application.eventStream(for:context:)` stream may name
    /// (repeats count once); more get 400 with a JSON error. Each channel costs a replay and a
    /// subscriber-list entry, so this bounds what one request can make the server do.
    public var maxChannelsPerStream: Int
    /// The most distinct channel patterns (`?pattern=chat/*`) one stream may name; more get 400
    /// with a JSON error. A pattern is matched against the channel of every publish, so this
    /// bounds what one request adds to every publish. Default 8.
    public var maxPatternsPerStream: Int
    /// Whether a stream of a broker subscription opens with its position (`id: ~N` in its
    /// first block, no data: `Subscription.startPosition`), so that a client that reconnects
    /// before its first event resumes from where the stream started rather than coming back
    /// live without what was published meanwhile. Conforming clients (`EventSource`,
    /// sseclient-py, rill.js) dispatch nothing for such a block; turn it off for a client that
    /// wrongly reports it as an empty event. Default true.
    public var opensWithPosition: Bool

    /// Creates a configuration; defaults: 15 s heartbeats, no `retry` (±25 % when set), 256 KiB
    /// cap, disconnect, 32 channels and 8 patterns per stream, streams that open with their
    /// position.
    public init(
        heartbeatInterval: Duration = .seconds(15), retry: Duration? = nil, retryJitter: Double = 0.25,
        maxQueuedBytes: Int = 256 * 1024, slowClientPolicy: SlowClientPolicy = .disconnect, maxChannelsPerStream: Int = 32,
        maxPatternsPerStream: Int = 8, opensWithPosition: Bool = true
    ) {
        precondition((0...1).contains(retryJitter), "retryJitter is a fraction from 0 to 1")
        self.heartbeatInterval = heartbeatInterval
        self.retry = retry
        self.retryJitter = retryJitter
        self.maxQueuedBytes = maxQueuedBytes
        self.slowClientPolicy = slowClientPolicy
        self.maxChannelsPerStream = maxChannelsPerStream
        self.maxPatternsPerStream = maxPatternsPerStream
        self.opensWithPosition = opensWithPosition
    }
}

extension EventStreamConfiguration {
    /// ``retry`` spread by ``retryJitter`` for one stream (whole milliseconds, at least 1), or
    /// nil when no `retry` is configured.
    package func jitteredRetry<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration? {
        jitteredRetryMilliseconds(using: &generator).map { .milliseconds($0) }
    }

    /// ``jitteredRetry(using:)`` in whole milliseconds.
    package func jitteredRetryMilliseconds<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Int64? {
        guard let retry else { return nil }
        let milliseconds = retry.secondsAsDouble * 1000
        let factor = retryJitter > 0 ? Double.random(in: (1 - retryJitter)...(1 + retryJitter), using: &generator) : 1
        // Saturating: a retry of centuries must not trap converting to 64 bits.
        let jittered = (milliseconds * factor).rounded()
        return jittered < Double(Int64.max) ? max(1, Int64(jittered)) : .max
    }
}
