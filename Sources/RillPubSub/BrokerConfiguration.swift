/// Bounds and policies of a broker. Every bound is explicit.
public struct BrokerConfiguration: Sendable {
    /// What a subscription does when its buffer is full because its consumer is slower than
    /// the publishers.
    public enum OverflowPolicy: Sendable, Equatable {
        /// End the subscription with ``SubscriptionError/slowConsumer``; over HTTP the client
        /// is disconnected and reconnects with `Last-Event-ID` to replay from history. The
        /// default: it bounds memory and loses nothing the history still holds.
        case disconnect
        /// Drop the oldest buffered event to make room (counted in
        /// ``BrokerStatistics/droppedEventCount``).
        case dropOldest
    }

    /// Events kept per channel for replay (0 keeps none).
    public var historyCount: Int
    /// Events older than this leave the history.
    public var historyMaxAge: Duration
    /// Events one subscription may hold before its consumer takes them.
    public var subscriberBufferCount: Int
    /// What happens when that buffer is full.
    public var overflowPolicy: OverflowPolicy
    /// The in-memory broker's history budget over all channels, in bytes (each stored event
    /// counts its wire bytes plus ``BrokerEvent/storageOverheadBytes``). Past it, the oldest
    /// events of the least recently published channels leave the history; a client that later
    /// replays from them is told `gap`.
    public var maxHistoryBytes: Int
    /// The most channels the in-memory broker holds history for. A publish that gives one more
    /// channel history forgets the history of the least recently published server channel
    /// (presence notices), else of the least recently published channel without subscribers
    /// (later replays from it report `gap`); when every channel with history has subscribers,
    /// it fails with ``BrokerError/channelLimitReached(_:)`` (HTTP 503). Subscribing never
    /// does: a channel with subscribers and no history is bounded by the subscriptions.
    public var maxChannels: Int
    /// The most events the in-memory broker queues for one event loop that has not yet taken
    /// them (a loop stalled by a handler that blocks it, while others publish). Past it, that
    /// loop's subscriptions to the channels whose events did not fit end as slow consumers (their
    /// clients reconnect and replay from the history) rather than the queue growing without bound.
    public var maxPendingCrossLoopEvents: Int
    /// The most bytes of events (their encoded bytes + 96 each, as the history counts them) the
    /// broker queues for one event loop that has not yet taken them: past it, as past
    /// ``maxPendingCrossLoopEvents``, that loop's subscriptions to the channels whose events did
    /// not fit end as slow consumers. Large events would otherwise keep a stalled loop's queue
    /// growing with every byte published (65,536 events of 1 MiB are 64 GiB).
    public var maxPendingCrossLoopBytes: Int
    /// The most distinct patterns (`?pattern=`, ``ChannelPattern``) subscribed to at once in this
    /// process, over all subscriptions. A subscription that adds a pattern past it fails with
    /// ``BrokerError/patternLimitReached(_:)`` (HTTP 503); patterns already in use are shared
    /// and cost nothing more. What it bounds: the in-memory broker's pattern index (a publish
    /// stays a few µs at 10,000), and the Redis broker's `PSUBSCRIBE`s — Redis matches every
    /// published message against every subscribed glob of every client, so each one costs all
    /// publishers on that Redis. Default 10,000.
    public var maxPatterns = 10_000
    /// The in-memory broker's first sequence number: the id of its first event published
    /// without one (each later event takes the next number, across all channels). nil, the
    /// default, takes the wall clock when the broker is made, in microseconds since 1970
    /// (`1764864000000000` and up, exact as a JavaScript number until the year 2255): ids then
    /// keep increasing across restarts, so a client that reconnects to a new process with an
    /// id of the old one is told `gap` — the old process's later events are gone, and the new
    /// process's `7` is not the old one's — rather than resuming silently past events it never
    /// had. That holds while the process published fewer than a million events per second on
    /// average over its life and the clock did not step back across the restart. A fixed number
    /// (such as 1) gives short ids that start over with each process: for tests, and for
    /// services whose clients never outlive the process. Never 0 (an id's position before the
    /// first event).
    public var firstSequenceNumber: UInt64?
    /// The most channels with history the in-memory broker looks at to replay a pattern
    /// subscription from a `Last-Event-ID` (newest first, those published since the client's
    /// event; under the broker's lock, which every publish takes). A replay that would need
    /// more replays the channels looked at and reports `gap`, so that a client resuming a `**`
    /// pattern from long ago cannot hold every publish back while it reads 100,000 channels.
    /// Default 4,096 (about 2 ms at most).
    public var maxPatternReplayScannedChannels = 4096
    /// How presence notices are coalesced and how long shared presence entries live (see
    /// ``PresenceConfiguration``; its defaults unless set).
    public var presence = PresenceConfiguration()

    /// Creates a configuration; defaults: 1,000 events or 1 hour of history per channel, 256
    /// buffered events per subscriber, disconnect on overflow, 64 MiB of history in all,
    /// 100,000 channels, 65,536 events and 64 MiB queued per loop, 10,000 distinct patterns,
    /// sequence numbers from the clock.
    public init(
        historyCount: Int = 1000, historyMaxAge: Duration = .seconds(3600), subscriberBufferCount: Int = 256,
        overflowPolicy: OverflowPolicy = .disconnect, maxHistoryBytes: Int = 64 * 1024 * 1024, maxChannels: Int = 100_000,
        maxPendingCrossLoopEvents: Int = 65_536, maxPendingCrossLoopBytes: Int = 64 * 1024 * 1024, firstSequenceNumber: UInt64? = nil
    ) {
        precondition(historyCount >= 0 && subscriberBufferCount >= 1, "history count ≥ 0 and buffer count ≥ 1")
        precondition(maxHistoryBytes >= 0 && maxChannels >= 1, "history bytes ≥ 0 and channels ≥ 1")
        precondition(maxPendingCrossLoopEvents >= 1 && maxPendingCrossLoopBytes >= 1, "at least one event may wait for a loop")
        precondition(firstSequenceNumber != 0, "sequence numbers start at 1 or later")
        self.firstSequenceNumber = firstSequenceNumber
        self.maxPendingCrossLoopEvents = maxPendingCrossLoopEvents
        self.maxPendingCrossLoopBytes = maxPendingCrossLoopBytes
        self.historyCount = historyCount
        self.historyMaxAge = historyMaxAge
        self.subscriberBufferCount = subscriberBufferCount
        self.overflowPolicy = overflowPolicy
        self.maxHistoryBytes = maxHistoryBytes
        self.maxChannels = maxChannels
    }
}
