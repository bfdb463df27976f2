/// How a subscription's start relates to the `Last-Event-ID` the client gave.
public enum ReplayStatus: Sendable, Hashable {
    /// No last event id: the subscription starts with live events.
    case live
    /// Every event after the last event id was still in the history and is replayed first.
    case complete
    /// The last event id is unknown or older than the history: events may have been lost. What
    /// the history still holds is replayed; the client should refresh its state.
    case gap
}
