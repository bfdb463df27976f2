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

/// The storage key of ``RequestContext/eventStreamDeadline``.
enum EventStreamDeadlineKey: RequestContext.Storage.Key {
    typealias Value = EventStreamDeadline
}
