/// The deadline of the event streams a request opens, set by a middleware that authenticates
/// with an expiring credential.
extension RequestContext {
    /// Every ``EventStream`` this request's handler returns ends at this deadline (unless the
    /// stream sets its own ``EventStream/deadline``). Nil (the default): no deadline.
    ///
    /// ```swift
    /// var context = context
    /// context.eventStreamDeadline = EventStreamDeadline(expiry, finalEvent: expiredEvent)
    /// return try await next(request, context)
    /// ```
    ///
    /// Kept in ``storage``, so a context that sets none carries nothing for it.
    public var eventStreamDeadline: EventStreamDeadline? {
        get { storage[EventStreamDeadlineKey.self] }
        set { storage[EventStreamDeadlineKey.self] = newValue }
    }
}

extension RequestContext {
    /// Makes the request's event streams end at `deadline` unless an earlier deadline is set
    /// already: middlewares that each bound a stream's life (a token's expiry, a maximum age)
    /// combine, and the earliest wins with its final event.
    public mutating func limitEventStreams(to deadline: EventStreamDeadline) {
        if let current = eventStreamDeadline, current.instant <= deadline.instant { return }
        eventStreamDeadline = deadline
    }
}

/// The storage key of ``RequestContext/eventStreamDeadline``.
enum EventStreamDeadlineKey: RequestContext.Storage.Key {
    typealias Value = EventStreamDeadline
}
