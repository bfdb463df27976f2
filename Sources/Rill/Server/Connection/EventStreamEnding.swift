import RillCore
import RillSSE

/// How a relayed stream ends besides its subscription: the farewell sent at shutdown and a
/// deadline (``EventStreamDeadline``) with its final event. One optional object per relay,
/// made only for the few streams that have either: an idle relay without them carries one nil
/// pointer, as it did for the farewell alone.
final class EventStreamEnding {
    /// The encoded farewell event, sent when the server shuts down.
    let farewell: [UInt8]?
    /// The deadline's encoded final event; nil without a deadline.
    let finalEvent: [UInt8]?
    /// When the stream ends, if it has a deadline.
    let deadline: ContinuousClock.Instant?
    /// The loop timer armed for the deadline while the stream runs.
    private var timer: ScheduledTimer?

    /// The ending of a stream with `farewell` and `deadline`; nil when it has neither (checked
    /// before anything is allocated: a class's failable initializer allocates the object first
    /// and frees it again when it returns nil, on every stream).
    ///
    /// - Throws: `ServerSentEventError` for an event that cannot be encoded.
    static func make(farewell: ServerSentEvent?, deadline: EventStreamDeadline?) throws -> EventStreamEnding? {
        guard farewell != nil || deadline != nil else { return nil }
        return try EventStreamEnding(farewell: farewell, deadline: deadline)
    }

    private init(farewell: ServerSentEvent?, deadline: EventStreamDeadline?) throws {
        self.farewell = try farewell?.encoded()
        self.finalEvent = try deadline?.finalEvent.encoded()
        self.deadline = deadline?.instant
    }

    /// Arms the deadline's timer on `loop` (loop thread): `expire` runs when it passes.
    func arm(on loop: EventLoop, _ expire: @escaping () -> Void) {
        guard let deadline else { return }
        timer = loop.schedule(after: max(.zero, deadline - .now), expire)
    }

    /// The stream ended first: the timer goes (it would hold its closure until the deadline).
    func disarm() {
        timer?.cancel()
        timer = nil
    }
}
