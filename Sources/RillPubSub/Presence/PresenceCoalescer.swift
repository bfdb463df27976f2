/// Collects a process's join and leave changes per channel over a window and turns them into
/// few announcements — the policy that keeps 10,000 clients joining at once from sending each of
/// them 10,000 events.
///
/// Per channel and window: a join and a leave of the same `sub` cancel out (an anonymous join
/// cancels an anonymous leave); if what remains is at most
/// ``PresenceConfiguration/maxIndividualEventsPerWindow`` changes, each becomes one
/// ``PresenceAnnouncement/join(channel:sub:)`` or ``PresenceAnnouncement/leave(channel:sub:)``
/// (in the order of their first change), otherwise the channel gets one
/// ``PresenceAnnouncement/summary(channel:joined:left:)``. A pure value: the owner drains it
/// once per window.
///
/// ```swift
/// var coalescer = PresenceCoalescer(maxIndividualEventsPerWindow: 32)
/// coalescer.record(join: true, sub: "alice", channel: "chat")
/// let announcements = coalescer.drain()     // [.join(channel: "chat", sub: "alice")]
/// ```
public struct PresenceCoalescer: Sendable {
    /// The most individual announcements per channel and window.
    public let maxIndividualEventsPerWindow: Int

    /// A channel's changes in this window: the net change per identity, in first-change order.
    private struct Changes {
        var order: [String?] = []
        var net: [String?: Int] = [:]

        mutating func add(_ change: Int, for sub: String?) {
            if let current = net[sub] {
                net[sub] = current + change
            } else {
                order.append(sub)
                net[sub] = change
            }
        }
    }

    private var channels: [String: Changes] = [:]
    private var channelOrder: [String] = []

    /// Creates an empty coalescer.
    public init(maxIndividualEventsPerWindow: Int = PresenceConfiguration.defaultMaxIndividualEventsPerWindow) {
        self.maxIndividualEventsPerWindow = maxIndividualEventsPerWindow
    }

    /// Whether nothing is waiting.
    public var isEmpty: Bool { channels.isEmpty }

    /// Records that `sub` (nil: anonymous) joined (`join`) or left `channel`.
    public mutating func record(join: Bool, sub: String?, channel: String) {
        if channels[channel] == nil { channelOrder.append(channel) }
        channels[channel, default: Changes()].add(join ? 1 : -1, for: sub)
    }

    /// The window's announcements, and an empty coalescer for the next window.
    public mutating func drain() -> [PresenceAnnouncement] {
        defer {
            channels = [:]
            channelOrder = []
        }
        var announcements: [PresenceAnnouncement] = []
        for channel in channelOrder {
            guard let changes = channels[channel] else { continue }
            var joined = 0
            var left = 0
            for sub in changes.order {
                let net = changes.net[sub] ?? 0
                if net > 0 { joined += net } else { left -= net }
            }
            if joined + left == 0 { continue }
            if joined + left > maxIndividualEventsPerWindow {
                announcements.append(.summary(channel: channel, joined: joined, left: left))
                continue
            }
            for sub in changes.order {
                let net = changes.net[sub] ?? 0
                let announcement: PresenceAnnouncement = net > 0 ? .join(channel: channel, sub: sub) : .leave(channel: channel, sub: sub)
                for _ in 0..<abs(net) { announcements.append(announcement) }
            }
        }
        return announcements
    }
}
