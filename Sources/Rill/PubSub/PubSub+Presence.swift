import RillCore
import RillPubSub

/// Presence: every stream joins its channels' presence when it subscribes and leaves when its
/// subscription ends; `?presence=1` adds each channel's reserved presence channel, on which
/// the coalesced `rill-join`, `rill-leave` and `rill-presence` events are published through
/// the broker (so Redis carries them to every process).
extension PubSub {
    /// The prefix of the reserved channels that carry presence notices: `rill-presence/chat`
    /// carries those of `chat`. Requests can neither subscribe nor publish to such a name.
    static let presenceChannelPrefix = ChannelPattern.serverChannelPrefix

    /// The longest channel name, in UTF-8 bytes, whose presence notices a stream can receive: a
    /// channel name has at most 256 bytes, and the reserved channel adds its prefix.
    static let maxChannelBytesWithPresenceNotices = 256 - presenceChannelPrefix.utf8.count

    /// Whether `channel`'s name is short enough for a reserved channel of its presence notices.
    static func hasPresenceNotices(_ channel: String) -> Bool { channel.utf8.count <= maxChannelBytesWithPresenceNotices }

    /// The reserved channel of `channel`'s presence notices.
    static func presenceChannel(of channel: String) -> String { presenceChannelPrefix + channel }

    /// The store of an application over `broker`: the broker's own (Redis), else in memory.
    static func presenceStore(for broker: any Broker) -> any PresenceStore {
        (broker as? any PresenceStoreProvider)?.makePresenceStore() ?? InMemoryPresenceStore()
    }

    /// Starts publishing the coalesced presence notices, with the window's timer on `loop`.
    /// Only the channels some stream watches get notices (a shared store asks which, once per
    /// window): anonymous streams on thousands of invented channels must not make every process
    /// write thousands of notice histories nobody reads. A change nobody heard marks its notice
    /// channel as having lost events (``Broker/markEventsLost(in:includingUnpublished:)``), so
    /// that a watcher that comes back with `Last-Event-ID` is told `gap` and reads the presence
    /// again, instead of `complete`: in one process at once (the first such change of a window;
    /// later ones once the window's notices are published), over a shared store once the
    /// window's notices are published (the channels no stream anywhere watches). A channel whose
    /// notices were never published is marked only when its last watcher left. A failed notice
    /// is logged at most once per ``presenceFailureLogIntervalMilliseconds``.
    func announcePresence(on loop: EventLoop) {
        let broker = self.broker
        let logger = self.logger
        let store = presence
        let failureLog = LogThrottle(intervalMilliseconds: Self.presenceFailureLogIntervalMilliseconds)
        let markLost: @Sendable ([String], Bool) -> Void = { names, includingUnpublished in
            let channels = names.filter(Self.hasPresenceNotices(_:)).map(Self.presenceChannel(of:))
            if !channels.isEmpty { broker.markEventsLost(in: channels, includingUnpublished: includingUnpublished) }
        }
        presence.registry.onUnheardChange(markLost)
        // The store owns the registry, which keeps this closure: weak, or the three (and the
        // broker and its loops) would keep each other alive after the application is gone.
        presence.registry.announce(on: loop) { [weak store] window in
            guard let store else { return }
            let eligible = window.announcements.filter { Self.hasPresenceNotices($0.channel) }
            var seen = Set<String>()
            let names = eligible.map(\.channel).filter { seen.insert($0).inserted }
            let asked = names + window.abandonedChannels.filter { seen.insert($0).inserted }
            guard !asked.isEmpty else { return markLost(window.unheardChannels, false) }
            store.watchedChannels(among: asked) { watched in
                for announcement in eligible where watched.contains(announcement.channel) {
                    let channel = Self.presenceChannel(of: announcement.channel)
                    broker.post(Self.event(for: announcement), to: channel) { error in
                        guard failureLog.allows() else { return }
                        logger.warning(
                            "publishing a presence notice failed (further failures within 10 s are not logged)",
                            metadata: ["channel": "\(channel)", "error": "\(error)"])
                    }
                }
                // After the notices: a notice channel they made is marked too.
                markLost(window.unheardChannels + names.filter { !watched.contains($0) }, false)
                markLost(window.abandonedChannels.filter { !watched.contains($0) }, true)
            }
        }
    }

    /// At most one warning per this many milliseconds for failed presence notices (a Redis
    /// outage fails every one of them).
    static let presenceFailureLogIntervalMilliseconds: Int64 = 10_000

    /// The event of `announcement`: JSON data, as every event the server emits on its own.
    static func event(for announcement: PresenceAnnouncement) -> ServerSentEvent {
        var data = "{\"channel\":"
        JSONString.append(announcement.channel, to: &data)
        let name: String
        switch announcement {
        case .join(_, let sub):
            appendSub(sub, to: &data)
            name = "rill-join"
        case .leave(_, let sub):
            appendSub(sub, to: &data)
            name = "rill-leave"
        case .summary(_, let joined, let left):
            data += ",\"joined\":\(joined),\"left\":\(left)"
            name = "rill-presence"
        }
        data += "}"
        return ServerSentEvent(data: data, event: name)
    }

    private static func appendSub(_ sub: String?, to data: inout String) {
        data += ",\"sub\":"
        if let sub { JSONString.append(sub, to: &data) } else { data += "null" }
    }

    /// 400 when a request names a reserved presence channel itself.
    static func refuseReservedChannels(_ names: [String]) throws {
        for name in names where name.utf8.starts(with: presenceChannelPrefix.utf8) {
            throw HTTPError(
                .badRequest, message: "channel '\(name)' is reserved: open a stream with 'presence=1' to receive its presence notices")
        }
    }

    /// Whether the request asks for presence notices (`presence=1`; `0` or absent: no).
    ///
    /// - Throws: ``HTTPError`` 400 for any other value.
    static func wantsPresenceNotices(_ request: Request) throws -> Bool {
        switch request.query["presence"] {
        case nil, "0", "false": return false
        case "1", "true": return true
        case let value?: throw HTTPError(.badRequest, message: "'presence' must be 1 or 0, not '\(value)'")
        }
    }

    /// The channels a stream subscribes to: `names`, plus their presence channels when asked.
    ///
    /// - Throws: ``HTTPError`` 400 when asked for the notices of a channel whose name is longer
    ///   than ``maxChannelBytesWithPresenceNotices``.
    static func subscribedChannels(_ names: [String], presenceNotices: Bool) throws -> [String] {
        guard presenceNotices else { return names }
        let limit = maxChannelBytesWithPresenceNotices
        if let long = names.first(where: { $0.utf8.count > limit }) {
            throw HTTPError(
                .badRequest, message: "presence notices are sent for channels of at most \(limit) bytes; '\(long.prefix(32))…' has \(long.utf8.count)"
            )
        }
        return names + names.map(presenceChannel(of:))
    }

    /// Joins `names`' presence as `identity` for as long as `subscription` lasts (`watching`:
    /// it receives their presence notices).
    func trackPresence(of subscription: Subscription, channels names: [String], identity: String?, watching: Bool) {
        let lease: PresenceLease
        if identity == nil && !watching {
            // Most streams: no lease of their own (every byte of an idle stream counts).
            presence.registry.joinAnonymously(channels: names)
            lease = anonymousPresenceLease
        } else {
            lease = presence.registry.join(identity, channels: names, watching: watching)
        }
        let loop = subscription.eventLoop
        if loop.inEventLoop {
            // The usual case (a handler on its loop): no closure to allocate.
            Self.attach(lease, to: subscription, channels: names)
        } else if !loop.executeBypassingLimit({ Self.attach(lease, to: subscription, channels: names) }) {
            lease.release(subscriptionChannels: names)
        }
    }

    /// Gives `subscription` its lease, or releases the lease if the subscription already ended.
    /// Loop thread.
    private static func attach(_ lease: PresenceLease, to subscription: Subscription, channels: [String]) {
        if subscription.isActive { subscription.presenceLease = lease } else { lease.release(subscriptionChannels: channels) }
    }

    /// The presence of `channel`, authorized for `request` like a subscription when given.
    func presence(of channel: String, limit: Int, authorizing request: (Request, RequestContext)?) async throws -> Presence {
        do {
            try InMemoryBroker.validate(channel: channel)
        } catch {
            throw error.httpError
        }
        try Self.refuseReservedChannels([channel])
        if let (request, context) = request {
            try await authorize(request, context: context, channels: [channel], access: .subscribe)
        }
        do {
            return try await presence.presence(of: channel, limit: limit)
        } catch let error as BrokerError {
            throw error.httpError
        }
    }
}
