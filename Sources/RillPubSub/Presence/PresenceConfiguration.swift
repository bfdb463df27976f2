/// Bounds and timings of presence: how join and leave notices are coalesced, and how long a
/// process's entries live in a shared store (Redis) without being refreshed. Every bound is
/// explicit.
///
/// ```swift
/// var broker = BrokerConfiguration()
/// broker.presence = PresenceConfiguration(coalescingWindow: .milliseconds(500))
/// let app = try Application(router: router, broker: .inMemory(broker))
/// ```
public struct PresenceConfiguration: Sendable, Equatable {
    /// Join and leave notices of a channel are collected over this window and then sent
    /// together; a join and a leave of the same `sub` within one window cancel out.
    public var coalescingWindow: Duration
    /// The most individual `rill-join`/`rill-leave` events a channel's subscribers receive per
    /// window from one process; past it they receive one `rill-presence` summary instead.
    public var maxIndividualEventsPerWindow: Int
    /// A shared store (Redis): how often each process renews its liveness and rewrites the
    /// entries that changed.
    public var refreshInterval: Duration
    /// A shared store (Redis): how long a process counts as alive after its last refresh, so
    /// the entries of a process that died without saying goodbye disappear from queries. At
    /// least twice ``refreshInterval``. The entries themselves stay in Redis 40 times as long
    /// (at least 1 s; renewed while the process runs) and then expire.
    public var entryTimeToLive: Duration

    /// The default window: one second.
    public static let defaultCoalescingWindow = Duration.seconds(1)
    /// The default number of individual events per channel and window: 32.
    public static let defaultMaxIndividualEventsPerWindow = 32
    /// The default refresh interval of a shared store: 5 seconds.
    public static let defaultRefreshInterval = Duration.seconds(5)
    /// The default lifetime of unrefreshed entries in a shared store: 15 seconds.
    public static let defaultEntryTimeToLive = Duration.seconds(15)

    /// Creates a configuration; the defaults: a 1 s window, 32 individual events per channel
    /// and window, refresh every 5 s, entries expire 15 s after the last refresh.
    public init(
        coalescingWindow: Duration = defaultCoalescingWindow, maxIndividualEventsPerWindow: Int = defaultMaxIndividualEventsPerWindow,
        refreshInterval: Duration = defaultRefreshInterval, entryTimeToLive: Duration = defaultEntryTimeToLive
    ) {
        precondition(coalescingWindow > .zero && maxIndividualEventsPerWindow >= 0, "a positive window and ≥ 0 individual events")
        precondition(refreshInterval > .zero && entryTimeToLive >= refreshInterval * 2, "entries live at least two refreshes")
        self.coalescingWindow = coalescingWindow
        self.maxIndividualEventsPerWindow = maxIndividualEventsPerWindow
        self.refreshInterval = refreshInterval
        self.entryTimeToLive = entryTimeToLive
    }
}
