import HTTPTypes
public import RillPubSub

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Application {
    /// The channel used when a request names none, as in flask-sse.
    public static let defaultChannel = "sse"

    /// Publishes `data` as JSON to `channel` — flask-sse's `publish`, callable from any route,
    /// task or thread context.
    ///
    /// ```swift
    /// router.post("/send") { request, context in
    ///     let message = try request.decode(Message.self)
    ///     try await app.publish(["message": message.text], event: "notify", channel: "users.42")
    ///     return HTTPResponse.Status.accepted
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - request: when given, the channel authorization hook must allow `.publish` (403 if not).
    /// - Returns: the assigned id and how many subscribers were reached.
    @discardableResult
    public func publish(
        _ data: some Encodable & Sendable, event: String? = nil, id: String? = nil, retry: Duration? = nil,
        channel: String = Application.defaultChannel, authorizing request: (Request, RequestContext)? = nil
    ) async throws -> PublishReceipt {
        let text: String
        if let string = data as? String {
            text = string
        } else {
            text = String(decoding: try JSONEncoder().encode(data), as: UTF8.self)
        }
        return try await publish(ServerSentEvent(data: text, event: event, id: id, retry: retry), channel: channel, authorizing: request)
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
        if let (request, context) = request {
            try await authorize(request, context: context, channels: [channel], access: .publish)
        }
        // Backpressure: on the loop, wait until what the server queued for event streams
        // before this publish was written (see the doc comment).
        let flushQueue = eventLoop.inEventLoop ? server?.eventStreamFlushQueue : nil
        let ticket = flushQueue?.admitPublish() ?? 0
        let receipt: PublishReceipt
        do {
            receipt = try await broker.publish(event, to: channel)
        } catch let error as BrokerError {
            throw error.httpError
        }
        await flushQueue?.waitForEarlierWrites(ticket: ticket)
        return receipt
    }

    /// Publishes from any thread or synchronous context without waiting (a background job, a
    /// timer, a database listener). Failures are logged.
    public func post(_ event: ServerSentEvent, channel: String = Application.defaultChannel) {
        let logger = self.logger
        broker.post(event, to: channel) { error in
            logger.error("publishing to channel failed", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
    }

    /// Sets the hook that allows or denies subscribing and publishing per request and channel.
    /// Denied requests get 403 with a JSON error. Without a hook everything is allowed.
    public func authorizeChannels(_ authorizer: @escaping ChannelAuthorizer) {
        setChannelAuthorizer(authorizer)
    }

    /// An SSE stream of the channels the request names with `?channel=` (repeatable; default
    /// ``defaultChannel``), resuming after the client's `Last-Event-ID` (header or
    /// `lastEventId` query parameter).
    ///
    /// ```swift
    /// router.get("/stream") { request, context in try await app.eventStream(for: request, context: context) }
    /// ```
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
    /// ``EventStreamConfiguration/maxChannelsPerStream`` distinct channels get 400, before the
    /// authorization hook runs.
    public func eventStream(
        for request: Request, context: RequestContext, channels: [String]? = nil, configuration: EventStreamConfiguration? = nil
    ) async throws -> EventStream {
        var names = channels ?? request.query.values(for: "channel")
        names.removeAll { $0.isEmpty }
        names = Self.distinct(names)
        if names.isEmpty { names = [Self.defaultChannel] }
        let limit = (configuration ?? self.configuration.eventStream).maxChannelsPerStream
        guard names.count <= limit else {
            throw HTTPError(.badRequest, message: "a stream may name at most \(limit) distinct channels; this one names \(names.count)")
        }
        try await authorize(request, context: context, channels: names, access: .subscribe)
        let subscription: Subscription
        do {
            subscription = try await broker.subscribe(to: names, lastEventID: request.lastEventID)
        } catch let error as BrokerError {
            throw error.httpError
        }
        // The client may have left while the broker subscribed: nothing would ever cancel it.
        guard !Task.isCancelled else {
            subscription.cancel()
            throw CancellationError()
        }
        let status = subscription.replayStatus
        var leading: [ServerSentEvent] = []
        if status == .gap {
            var payload = "{\"lastEventId\":"
            JSONString.append(request.lastEventID ?? "", to: &payload)
            payload += "}"
            leading.append(ServerSentEvent(data: payload, event: "rill-history-gap"))
        }
        return EventStream(subscription, leading: leading, configuration: configuration, headerFields: status.headerFields)
    }

    /// `names` without repeats, in the order of their first occurrence.
    /// Every stream goes through here, most with one channel: no allocation then, and a
    /// linear scan rather than a hash set for short lists.
    static func distinct(_ names: [String]) -> [String] {
        if names.count < 2 { return names }
        if names.count <= 16 {
            var result: [String] = []
            result.reserveCapacity(names.count)
            for name in names where !result.contains(name) { result.append(name) }
            return result
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    func authorize(_ request: Request, context: RequestContext, channels: [String], access: ChannelAccess) async throws {
        guard let authorizer = channelAuthorizer else { return }
        for channel in channels where try await !authorizer(request, context, channel, access) {
            throw HTTPError(.forbidden, message: "\(access == .publish ? "publishing to" : "subscribing to") channel '\(channel)' is not allowed")
        }
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
        case .closed, .backend, .channelLimitReached: HTTPError(.serviceUnavailable, message: description)
        }
    }
}
