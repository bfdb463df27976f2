import RillCore
import RillSSE
import Synchronization

/// How a relayed stream ends besides its subscription: the farewell sent at shutdown and a
/// deadline (``EventStreamDeadline``) with its final event. One optional object per relay,
/// made only for the streams that have either: an idle relay without them carries one nil
/// pointer. An ending with a farewell and no deadline holds nothing of its own stream, so the
/// streams with the same farewell share one (a server that gives every stream its farewell,
/// as rill-hub does, pays no object and no encoding per stream); only a deadline's is per stream.
final class EventStreamEnding: @unchecked Sendable {
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
        guard deadline == nil, let farewell else { return try EventStreamEnding(farewell: farewell, deadline: deadline) }
        if let shared = lastFarewellOnly.withLock({ $0?.farewell == farewell ? $0?.ending : nil }) { return shared }
        let ending = try EventStreamEnding(farewell: farewell, deadline: nil)
        lastFarewellOnly.withLock { $0 = (farewell, ending) }
        return ending
    }

    /// The farewell-only ending made last, shared by the streams with the same farewell (it is
    /// immutable: ``arm(on:_:)`` and ``disarm()`` touch nothing without a deadline).
    private static let lastFarewellOnly = Mutex<(farewell: ServerSentEvent, ending: EventStreamEnding)?>(nil)

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
        guard let timer else { return }  // a shared farewell-only ending is never written to
        timer.cancel()
        self.timer = nil
    }
}
