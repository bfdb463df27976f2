/// What a ``PresenceRegistry`` hands its announcer at the end of a coalescing window: the
/// changes to announce, and the channels whose notice histories must say that they missed
/// changes (``Broker/markEventsLost(in:includingUnpublished:)``), once the announcements are
/// published.
public struct PresenceWindow: Sendable, Equatable {
    /// The window's coalesced changes.
    public var announcements: [PresenceAnnouncement]
    /// In a registry that announces only watched channels: channels with more unheard changes
    /// (no stream of this process watching) after the first of the window, which
    /// ``PresenceRegistry/onUnheardChange(_:)`` reported at once. Empty otherwise.
    public var unheardChannels: [String]
    /// In a registry that announces every channel (a store shared by processes): channels whose
    /// last watching stream in this process ended in the window; unless a stream elsewhere
    /// still watches, their notice histories lose what the announcements cannot tell. Empty
    /// otherwise.
    public var abandonedChannels: [String]

    /// Creates a window's hand-over.
    public init(announcements: [PresenceAnnouncement], unheardChannels: [String] = [], abandonedChannels: [String] = []) {
        self.announcements = announcements
        self.unheardChannels = unheardChannels
        self.abandonedChannels = abandonedChannels
    }

    /// Whether there is nothing to hand over.
    public var isEmpty: Bool { announcements.isEmpty && unheardChannels.isEmpty && abandonedChannels.isEmpty }
}
