public import RillCore

#if canImport(Glibc)
    import Glibc
#endif

/// This process's presence: per channel, its subscriptions and the identities behind them, and
/// the join and leave changes waiting to be announced (coalesced by ``PresenceCoalescer``).
///
/// Every stream joins when it subscribes and leaves when its subscription ends
/// (``join(_:channels:)`` returns the ``PresenceLease`` that leaves). Safe from any thread: one
/// lock, held for O(channels of the stream) per join or leave. A ``PresenceStore`` answers
/// queries from it (and, for Redis, mirrors it for other processes).
///
/// Which changes are announced: with ``announcesUnwatchedChannels`` (a store shared by several
/// processes, where a stream elsewhere may watch), every channel's; otherwise only those of
/// channels that a stream of this process watches (`presence=1`), so that an application that
/// never asks for notices publishes none. A change nobody heard must still reach the notice
/// history as a loss, so that a watcher coming back with `Last-Event-ID` is told `gap`, not
/// `complete`: such a registry reports a channel's first unheard change of a window at once
/// (``onUnheardChange(_:)``, and whether the last watcher just left), and the later ones at the
/// window's end (``PresenceWindow/unheardChannels``); one that announces every channel reports
/// the channels its last watcher left (``PresenceWindow/abandonedChannels``). A watcher's own
/// position always precedes the first mark; a client that resumes from a position taken
/// elsewhere (another channel's event, a non-watching stream's opening) after that mark may miss
/// a later change of the same window, until the window's end marks it.
///
/// Memory: one entry per channel with subscribers and one per identity on it; a channel with
/// no subscribers left is forgotten.
public final class PresenceRegistry: Sendable {
    /// The coalescing window and the individual-event limit.
    public let configuration: PresenceConfiguration
    /// Whether changes of channels no stream of this process watches are announced too.
    public let announcesUnwatchedChannels: Bool
    /// Whether the changed channels are recorded for ``takeChangedChannels()`` (a store that
    /// mirrors the registry); without one nothing would ever take them.
    private let tracksChangedChannels: Bool

    /// A channel's subscriptions in this process.
    package struct Channel: Sendable {
        /// All its subscriptions, anonymous ones included.
        package var connections = 0
        /// Identified members by `sub`.
        package var members: [String: Presence.Member] = [:]
        /// Its subscriptions that receive its presence notices.
        package var watchers = 0
        /// Whether a change nobody heard was reported in this window (at once).
        var hasUnheardChange = false
        /// Whether a later unheard change waits in `State.unheard` for the window's end.
        var hasLaterUnheardChange = false
    }

    private struct State {
        var channels: [String: Channel] = [:]
        var coalescer: PresenceCoalescer
        /// Channels changed since ``takeChangedChannels()`` last ran.
        var changed: Set<String> = []
        /// Channels with unheard changes after the first of this window (reported at once).
        var unheard: Set<String> = []
        /// Channels whose last watching stream ended in this window (a registry that announces
        /// every channel).
        var abandoned: Set<String> = []
        /// Channels whose first unheard change of this window was reported (their flags are
        /// reset when the window ends).
        var reported: Set<String> = []
        var hasReported: Bool { !reported.isEmpty }
        var announcer: (@Sendable (PresenceWindow) -> Void)?
        var unheardChangeHandler: (@Sendable ([String], Bool) -> Void)?
        var announcingLoop: EventLoop?
        var flushScheduled = false
    }

    private let state: SanitizerVisibleMutex<State>

    /// Creates an empty registry.
    ///
    /// - Parameters:
    ///   - configuration: the coalescing window and the individual-event limit.
    ///   - announcesUnwatchedChannels: announce the changes of every channel (a store shared
    ///     with other processes), not only of those a stream of this process watches.
    ///   - tracksChangedChannels: record which channels changed, for a store that mirrors the
    ///     registry with ``takeChangedChannels()``.
    public init(
        configuration: PresenceConfiguration = .init(), announcesUnwatchedChannels: Bool = false, tracksChangedChannels: Bool = false
    ) {
        self.configuration = configuration
        self.announcesUnwatchedChannels = announcesUnwatchedChannels
        self.tracksChangedChannels = tracksChangedChannels
        state = SanitizerVisibleMutex(State(coalescer: PresenceCoalescer(maxIndividualEventsPerWindow: configuration.maxIndividualEventsPerWindow)))
    }

    /// Starts announcing: from now on changes are coalesced, and once per window with changes,
    /// `announce` gets the window's ``PresenceWindow`` on `loop` (its timer runs there).
    public func announce(on loop: EventLoop, _ announce: @escaping @Sendable (PresenceWindow) -> Void) {
        state.withLock {
            $0.announcingLoop = loop
            $0.announcer = announce
        }
    }

    /// In a registry that announces only watched channels: `body` gets, at once and on the
    /// thread of the change (outside the registry's lock), the channels whose change no stream
    /// of this process heard — the first such change of each channel in a window — and whether
    /// it was the end of the channel's last watching stream (its notices may never have been
    /// published). Never called with ``announcesUnwatchedChannels``.
    public func onUnheardChange(_ body: @escaping @Sendable (_ channels: [String], _ watcherLeft: Bool) -> Void) {
        state.withLock { $0.unheardChangeHandler = body }
    }

    /// Records that a subscription of `sub` (nil: anonymous) to `channels` began, `watching`
    /// their presence notices or not; the lease records its end.
    public func join(_ sub: String?, channels: [String], watching: Bool = false) -> PresenceLease {
        record(sub, channels: channels, watching: watching)
        return PresenceLease(registry: self, sub: sub, channels: channels, watching: watching)
    }

    /// Records that an anonymous subscription to `channels` that does not watch presence
    /// notices began; the lease ``makeSharedAnonymousLease()`` made records its end.
    package func joinAnonymously(channels: [String]) {
        record(nil, channels: channels, watching: false)
    }

    /// The one lease every anonymous, non-watching subscription of this registry shares
    /// (released with the subscription's channels); its maker keeps it.
    package func makeSharedAnonymousLease() -> PresenceLease {
        PresenceLease(registry: self, sub: nil, channels: nil, watching: false)
    }

    private func record(_ sub: String?, channels: [String], watching: Bool) {
        let now = Self.unixMilliseconds()
        var unheard = UnheardChanges()
        let schedule = state.withLock { state -> EventLoop? in
            for name in channels {
                var channel = state.channels[name] ?? Channel()
                channel.connections += 1
                if watching { channel.watchers += 1 }
                var announce = sub == nil
                if let sub {
                    if var member = channel.members[sub] {
                        member.connections += 1
                        channel.members[sub] = member
                    } else {
                        channel.members[sub] = Presence.Member(sub: sub, connections: 1, sinceUnixMilliseconds: now)
                        announce = true
                    }
                }
                if announce { coalesce(join: true, sub: sub, channel: name, &channel, &state, watcherLeft: false, &unheard) }
                state.channels[name] = channel
                if tracksChangedChannels { state.changed.insert(name) }
            }
            return Self.flushToSchedule(&state)
        }
        unheard.report()
        if let schedule { scheduleFlush(on: schedule) }
    }

    /// Records the end of a subscription that ``join(_:channels:watching:)`` recorded.
    func leave(_ sub: String?, channels: [String], watching: Bool) {
        var unheard = UnheardChanges()
        let schedule = state.withLock { state -> EventLoop? in
            for name in channels {
                guard var channel = state.channels[name] else { continue }
                channel.connections -= 1
                if watching { channel.watchers -= 1 }
                var announce = sub == nil
                if let sub, var member = channel.members[sub] {
                    member.connections -= 1
                    if member.connections == 0 {
                        channel.members[sub] = nil
                        announce = true
                    } else {
                        channel.members[sub] = member
                    }
                }
                let watcherLeft = watching && channel.watchers == 0
                if watcherLeft && announcesUnwatchedChannels && state.announcer != nil { state.abandoned.insert(name) }
                if announce || watcherLeft {
                    coalesce(
                        join: false, sub: announce ? sub : nil, channel: name, &channel, &state, watcherLeft: watcherLeft, &unheard,
                        announce: announce)
                }
                state.channels[name] = channel.connections > 0 ? channel : nil
                if tracksChangedChannels { state.changed.insert(name) }
            }
            return Self.flushToSchedule(&state)
        }
        unheard.report()
        if let schedule { scheduleFlush(on: schedule) }
    }

    /// The unheard changes of one join or leave, reported once the lock is released.
    private struct UnheardChanges {
        var handler: (@Sendable ([String], Bool) -> Void)?
        var first: [String] = []
        var watcherLeft: [String] = []

        func report() {
            guard let handler else { return }
            if !first.isEmpty { handler(first, false) }
            if !watcherLeft.isEmpty { handler(watcherLeft, true) }
        }
    }

    /// Records a change of `channel` (`announce` false: only its last watcher's end) for the
    /// window's announcements if it is announced (an announcer is set, and the channel is
    /// watched or every channel is announced), else as a change nobody heard: the first of
    /// the window (or a watcher's end) to report at once, a later one at the window's end.
    /// Under the lock.
    private func coalesce(
        join: Bool, sub: String?, channel name: String, _ channel: inout Channel, _ state: inout State, watcherLeft: Bool,
        _ unheard: inout UnheardChanges, announce: Bool = true
    ) {
        guard state.announcer != nil else { return }
        if announcesUnwatchedChannels || channel.watchers > 0 {
            if announce { state.coalescer.record(join: join, sub: sub, channel: name) }
        } else if watcherLeft || !channel.hasUnheardChange {
            channel.hasUnheardChange = true
            state.reported.insert(name)
            unheard.handler = state.unheardChangeHandler
            if watcherLeft { unheard.watcherLeft.append(name) } else { unheard.first.append(name) }
        } else if !channel.hasLaterUnheardChange {
            channel.hasLaterUnheardChange = true
            state.unheard.insert(name)
        }
    }

    /// The loop to schedule a flush on, when changes wait and none is scheduled yet.
    private static func flushToSchedule(_ state: inout State) -> EventLoop? {
        guard !state.flushScheduled, !state.coalescer.isEmpty || !state.unheard.isEmpty || !state.abandoned.isEmpty || state.hasReported,
            let loop = state.announcingLoop
        else { return nil }
        state.flushScheduled = true
        return loop
    }

    private func scheduleFlush(on loop: EventLoop) {
        let window = configuration.coalescingWindow
        let arm: @Sendable () -> Void = { [self] in
            _ = loop.schedule(after: window) { [self] in self.flush() }
        }
        if loop.inEventLoop {
            arm()
        } else if !loop.executeBypassingLimit(arm) {
            // The loop stopped: nothing is announced any more.
            state.withLock { $0.flushScheduled = false }
        }
    }

    /// Announces the window's changes.
    private func flush() {
        let (window, announcer) = state.withLock { state in
            state.flushScheduled = false
            let window = PresenceWindow(
                announcements: state.coalescer.drain(), unheardChannels: Array(state.unheard), abandonedChannels: Array(state.abandoned))
            state.unheard = []
            state.abandoned = []
            for name in state.reported {
                state.channels[name]?.hasUnheardChange = false
                state.channels[name]?.hasLaterUnheardChange = false
            }
            state.reported = []
            return (window, state.announcer)
        }
        if let announcer, !window.isEmpty { announcer(window) }
    }

    /// This process's presence of `channel`: its subscriptions and every identified member.
    package func local(_ channel: String) -> Channel {
        state.withLock { $0.channels[channel] } ?? Channel()
    }

    /// Every channel with subscribers in this process.
    package func channelNames() -> [String] {
        state.withLock { Array($0.channels.keys) }
    }

    /// The channels changed since the previous call, each with its state now (nil: no
    /// subscriber left), for a store that mirrors the registry.
    package func takeChangedChannels() -> [(name: String, channel: Channel?)] {
        state.withLock { state in
            defer { state.changed = [] }
            return state.changed.map { ($0, state.channels[$0]) }
        }
    }

    /// Milliseconds since 1970 (UTC), from the system's real-time clock.
    package static func unixMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
