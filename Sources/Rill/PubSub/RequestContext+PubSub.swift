public import RillPubSub

/// Publishing and subscribing from a handler, without capturing the application: the context
/// carries its application's broker, authorization hook and publish backpressure.
///
/// ```swift
/// let router = Router()
/// router.get("/stream") { request, context in           // ?channel=…, Last-Event-ID replay
///     try await context.eventStream(for: request)
/// }
/// router.post("/send") { request, context in
///     try await context.publish(["message": request.bodyText], event: "notify")
/// }
/// let app = try Application(router: router)
/// ```
extension RequestContext {
    /// Publishes `data` to `channel`, as ``Application/publish(_:event:id:retry:channel:authorizing:)``
    /// does: a `String` as it is, anything else as JSON; held back while the server still
    /// writes earlier events.
    ///
    /// - Parameters:
    ///   - data: the event's data: a `String` as it is, any other value encoded as JSON.
    ///   - event: the event type (`event:` line); nil for a plain `message`.
    ///   - id: the event's id; nil lets the broker assign the next one.
    ///   - retry: the reconnection delay to send (`retry:` line), if any.
    ///   - channel: the channel to publish to.
    ///   - request: when given, the channel authorization hook must allow `.publish` for it
    ///     (403 if not); leave it out for a publish the server makes on its own behalf.
    /// - Throws: ``HTTPError`` 400 for an invalid event or channel, 403 when not allowed, 503 when
    ///   the broker is closed or unreachable; 500 for a context that belongs to no application.
    @discardableResult
    public func publish(
        _ data: some Encodable & Sendable, event: String? = nil, id: String? = nil, retry: Duration? = nil,
        channel: String = Application.defaultChannel, authorizing request: Request? = nil
    ) async throws -> PublishReceipt {
        try await applicationPubSub().publish(
            data, event: event, id: id, retry: retry, channel: channel, authorizing: request.map { ($0, self) })
    }

    /// Checks, without publishing, that the channel authorization hook allows `request` to
    /// publish to `channel` — say in ``RouterGroup/checkBeforeBody(_:)``, so that a publisher
    /// the hook refuses is answered before its body is read.
    ///
    /// - Throws: ``HTTPError`` 403 when not allowed (as ``publish(_:channel:authorizing:)``
    ///   would); 500 for a context that belongs to no application.
    public func authorizePublish(to channel: String, for request: Request) async throws {
        try await applicationPubSub().authorize(request, context: self, channels: [channel], access: .publish)
    }

    /// Publishes a complete event to `channel` (see ``publish(_:event:id:retry:channel:authorizing:)``).
    @discardableResult
    public func publish(
        _ event: ServerSentEvent, channel: String = Application.defaultChannel, authorizing request: Request? = nil
    ) async throws -> PublishReceipt {
        try await applicationPubSub().publish(event, channel: channel, authorizing: request.map { ($0, self) })
    }

    /// An SSE stream of the channels `request` names with `?channel=` and the patterns it
    /// names with `?pattern=` (or `channels` and `patterns`), resuming after its
    /// `Last-Event-ID`: ``Application/eventStream(for:context:channels:patterns:configuration:)``
    /// from a handler.
    ///
    /// - Throws: ``HTTPError`` 400 for too many or invalid channels or patterns, 403 when the
    ///   authorization hook refuses one, 503 when the broker cannot subscribe; 500 for a
    ///   context that belongs to no application.
    public func eventStream(
        for request: Request, channels: [String]? = nil, patterns: [ChannelPattern]? = nil,
        configuration: EventStreamConfiguration? = nil
    ) async throws -> EventStream {
        try await applicationPubSub().eventStream(
            for: request, context: self, channels: channels, patterns: patterns, configuration: configuration)
    }

    /// The same stream from a handler that does not `await` (a synchronous handler, which the
    /// server calls inline on the connection's loop with no task): Swift picks this form in a
    /// closure without `await`.
    ///
    /// ```swift
    /// router.get("/events") { request, context in try context.eventStream(for: request) }
    /// ```
    ///
    /// With the in-memory broker and no authorization hook (`Application.authorizeChannels`),
    /// it subscribes at once, on the loop. Otherwise — the hook is asynchronous, a Redis broker
    /// answers over the network — it returns the stream pending and the server subscribes in the
    /// request's task before it writes the head. Either way the response is the same: statuses
    /// (400 here, 403 and 503 from the pending part), `Rill-Replay`, replay and header fields,
    /// and route or router middleware sees the subscribed stream's head.
    public func eventStream(
        for request: Request, channels: [String]? = nil, patterns: [ChannelPattern]? = nil,
        configuration: EventStreamConfiguration? = nil
    ) throws -> EventStream {
        try applicationPubSub().eventStreamAtOnce(
            for: request, context: self, channels: channels, patterns: patterns, configuration: configuration)
    }

    private func applicationPubSub() throws -> PubSub {
        guard let pubSub else {
            throw HTTPError(
                .internalServerError, message: "this request context belongs to no application: publish and subscribe through the Application")
        }
        return pubSub
    }
}
