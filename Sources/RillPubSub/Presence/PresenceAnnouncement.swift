/// What the subscribers of a channel with presence notices are told after a coalescing window
/// (see ``PresenceCoalescer``).
public enum PresenceAnnouncement: Sendable, Equatable {
    /// `sub` (nil: an anonymous client) joined `channel`: `event: rill-join`.
    case join(channel: String, sub: String?)
    /// `sub` (nil: an anonymous client) left `channel`: `event: rill-leave`.
    case leave(channel: String, sub: String?)
    /// More changed in the window than ``PresenceConfiguration/maxIndividualEventsPerWindow``:
    /// `joined` clients joined and `left` left (net, after cancelling); clients fetch the
    /// presence again. `event: rill-presence`.
    case summary(channel: String, joined: Int, left: Int)

    /// The channel the announcement is about.
    public var channel: String {
        switch self {
        case .join(let channel, _), .leave(let channel, _), .summary(let channel, _, _): channel
        }
    }
}
