import RillCore

/// When an event stream ends by itself, and the last event it sends then: a stream opened with
/// an expiring credential ends when the credential does, and the client reconnects with a new
/// one and its `Last-Event-ID` (nothing is lost: the final event carries no id).
///
/// Set it on one stream (``EventStream/deadline``), or on the request's context
/// (``RequestContext/eventStreamDeadline``: a middleware that authenticates does this) for
/// every stream the request opens.
///
/// ```swift
/// var stream = try await context.eventStream(for: request)
/// stream.deadline = EventStreamDeadline(
///     .now + .seconds(300), finalEvent: ServerSentEvent(data: #"{"reason":"token expired"}"#, event: "rill-token-expired"))
/// ```
///
/// At the deadline the pending events leave, then the final event, then the response ends —
/// on HTTP/1.1 and HTTP/2, for a relayed subscription (a timer on the loop, no task) as for a
/// stream a task writes (the task is cancelled).
///
/// A class: streams, contexts and responses carry it as one optional pointer, so that the
/// streams without one (almost all) stay as small as before.
///
/// - Important: give the final event a `data:` line: an `EventSource` never dispatches an
///   event without data.
public final class EventStreamDeadline: Sendable {
    /// When the stream ends, on the continuous clock (unaffected by wall-clock changes).
    public let instant: ContinuousClock.Instant
    /// The last event, sent at the deadline before the response ends.
    public let finalEvent: ServerSentEvent

    /// A deadline at `instant`, announced with `finalEvent`.
    public init(_ instant: ContinuousClock.Instant, finalEvent: ServerSentEvent) {
        self.instant = instant
        self.finalEvent = finalEvent
    }

    /// How long from now until the deadline; zero once it passed.
    var remaining: Duration { max(.zero, instant - .now) }

    /// Runs `body` until it returns or the deadline passes — then `body` is cancelled. For
    /// streams a task writes; both run on `loop` (a child task keeps the executor preference).
    ///
    /// - Returns: true when the deadline passed first.
    /// - Throws: what `body` throws; `CancellationError` when the calling task is cancelled.
    func race(on loop: EventLoop, _ body: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        let delay = remaining
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return false
            }
            group.addTask {
                try await loop.sleep(for: delay)
                return true
            }
            let deadlinePassed = try await group.next() ?? false
            group.cancelAll()
            return deadlinePassed
        }
    }
}
