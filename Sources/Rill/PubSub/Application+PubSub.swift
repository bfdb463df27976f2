import HTTPTypes
public import RillPubSub

extension Application {
    /// The channel used when a request names none, as in flask-sse.
    public static let defaultChannel = "sse"

    /// Publishes `data` to `channel` — flask-sse's `publish`, callable from any task or
    /// thread. A `String` is sent as it is, anything else as JSON. In a handler,
    /// ``RequestContext/publish(_:event:id:retry:channel:authorizing:)`` does the same without
    /// capturing the application.
    ///
    /// ```swift
    /// let receipt = try await app.publish(["price": 42], event: "quote", channel: "stocks")
    /// ```
    ///
    /// - Parameters:
    ///   - data: the event's data: a `String` as it is, any other value encoded as JSON.
    ///   - event: the event type (`event:` line); nil for a plain `message`.
    ///   - id: the event's id; nil lets the broker assign the next one.
    ///   - retry: the reconnection delay to send (`retry:` line), if any.
    ///   - channel: the channel to publish to.
    ///   - request: when given, the channel authorization hook must allow `.publish` (403 if not).
    /// - Returns: the assigned id and how many subscribers were reached.
    @discardableResult
    public func publish(
        _ data: some Encodable & Sendable, event: String? = nil, id: String? = nil, retry: Duration? = nil,
        channel: String = Application.defaultChannel, authorizing request: (Request, RequestContext)? = nil
    ) async throws -> PublishReceipt {
        try await pubSub.publish(data, event: event, id: id, retry: retry, channel: channel, authorizing: request)
    }

    /// Publishes a complete event to `channel`.
    ///
    /// Returns once the broker took the event. Backpressure: called on the loop (as handlers
    /// are) while the server is still writing earlier events to many streams, it returns once
    /// what was queued before the previous publish was written — so a publisher that awaits
    /// each publish stays within about two passes over the subscribers, which bounds latency
    /// and memory, while events published meanwhile share the streams' writes.
    /// ``post(_:channel:)`` never waits.
    @discardableResult
    public func publish(
        _ event: ServerSentEvent, channel: String = Application.defaultChannel, authorizing request: (Request, RequestContext)? = nil
    ) async throws -> PublishReceipt {
        try await pubSub.publish(event, channel: channel, authorizing: request)
    }

    /// Publishes from any thread or synchronous context without waiting (a background job, a
    /// timer, a database listener). Failures are logged.
    public func post(_ event: ServerSentEvent, channel: String = Application.defaultChannel) {
        pubSub.post(event, channel: channel)
    }

    /// Sets the hook that allows or denies subscribing and publishing per request and channel.
    /// Denied requests get 403 with a JSON error. Without a hook everything is allowed.
    public func authorizeChannels(_ authorizer: @escaping ChannelAuthorizer) {
        pubSub.setAuthorizer(authorizer)
    }

    /// An SSE stream of the channels the request names with `?channel=` and of every channel
    /// matched by the patterns it names with `?pattern=` (both repeatable; ``defaultChannel``
    /// when it names neither), resuming after the client's `Last-Event-ID` (header or
    /// `lastEventId` query parameter). In a handler,
    /// `RequestContext.eventStream(for:)` does the same
    /// without capturing the application.
    ///
    /// Patterns (`ChannelPattern`): `*` matches within one `/`-separated segment, `**` any
    /// number of segments (`chat/*`, `users/42/**`). Each event reaches the stream once,
    /// however many of its channels and patterns match it; a replay covers the channels the
    /// patterns match that still hold history, in id order with the named channels'.
    ///
    /// `channels` and `patterns`, when either is given, replace what the query names — both
    /// of it, so a client cannot widen a stream its handler fixed by adding `?pattern=**`.
    ///
    /// Replay: events the broker's history holds after the client's last id come first, then
    /// live events, with no gap and no duplicate. The `Rill-Replay` response header says
    /// `live`, `complete` or `gap`; on a gap the stream starts with an event of type
    /// `rill-history-gap` whose data is `{"lastEventId":"…"}`, so a client knows to refresh.
    ///
    /// A subscriber that falls behind is disconnected (the broker's overflow policy) and
    /// reconnects with `Last-Event-ID`. The replay goes out as the client reads, within the
    /// stream's ``EventStreamConfiguration/maxQueuedBytes``; live events published meanwhile
    /// follow it, held within the same limit.
    ///
    /// Channels named twice count once (the first occurrence keeps its place); more than
    /// ``EventStreamConfiguration/maxChannelsPerStream`` distinct channels, more than
    /// ``EventStreamConfiguration/maxPatternsPerStream`` distinct patterns, or a malformed
    /// pattern get 400, before the authorization hook runs. The hook is asked about each
    /// channel with ``ChannelAccess/subscribe`` and about each pattern (as written) with
    /// ``ChannelAccess/subscribeToPattern``.
    public func eventStream(
        for request: Request, context: RequestContext, channels: [String]? = nil, patterns: [ChannelPattern]? = nil,
        configuration: EventStreamConfiguration? = nil
    ) async throws -> EventStream {
        try await pubSub.eventStream(for: request, context: context, channels: channels, patterns: patterns, configuration: configuration)
    }

    static let replayField = HTTPField.Name("Rill-Replay")!
}

extension ReplayStatus {
    /// An event stream's head fields for this status, built once (no copy per stream).
    var headerFields: HTTPFields {
        switch self {
        case .live: Self.liveFields
        case .complete: Self.completeFields
        case .gap: Self.gapFields
        }
    }

    private static let liveFields = EventStream.fields(adding: Application.replayField, ReplayStatus.live.headerValue)
    private static let completeFields = EventStream.fields(adding: Application.replayField, ReplayStatus.complete.headerValue)
    private static let gapFields = EventStream.fields(adding: Application.replayField, ReplayStatus.gap.headerValue)

    var headerValue: String {
        switch self {
        case .live: "live"
        case .complete: "complete"
        case .gap: "gap"
        }
    }
}

extension BrokerError {
    var httpError: HTTPError {
        switch self {
        case .invalidEvent, .invalidChannel: HTTPError(.badRequest, message: description)
        case .closed, .backend, .channelLimitReached, .patternLimitReached:
            // Passing: the broker reconnects (backoff up to 5 s by default), another process
            // takes over, channels and patterns are released as streams end.
            HTTPError(.serviceUnavailable, message: description, headerFields: [.retryAfter: Self.retryAfterSeconds])
        }
    }

    /// What a 503 for a broker that cannot serve now suggests (`Retry-After`, seconds).
    static let retryAfterSeconds = "2"
}
