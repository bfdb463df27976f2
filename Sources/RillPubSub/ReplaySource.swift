package import DequeModule

/// The rest of a subscription's replay, produced on demand so that a long replay is never
/// copied per subscriber: the in-memory broker reads it from its history as the client drains.
/// Loop thread only.
package protocol ReplaySource: AnyObject {
    /// Appends the next replay events, oldest first: about `maxBytes` of wire bytes, at least
    /// one event unless it returns `.finished` or `.lost`.
    func produce(maxBytes: Int, into events: inout Deque<BrokerEvent>) -> ReplayProgress
}

/// What ``ReplaySource/produce(maxBytes:into:)`` achieved.
package enum ReplayProgress {
    /// Events were appended; more may follow.
    case more
    /// The replay is over (events may have been appended).
    case finished
    /// The history dropped events of the replay before they were produced: the subscriber
    /// must reconnect and be told of the gap.
    case lost
}
