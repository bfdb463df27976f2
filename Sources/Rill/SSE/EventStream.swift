public import HTTPTypes
public import RillPubSub

/// A Server-Sent Events response: `text/event-stream` fed from an `AsyncSequence` of events or
/// written by a closure.
///
/// ```swift
/// router.get("/ticks") { request, context in
///     EventStream(ticks)                       // any AsyncSequence<ServerSentEvent, _>
/// }
/// router.get("/countdown") { request, context in
///     EventStream { stream in
///         for n in (1...3).reversed() {
///             try await stream.send(ServerSentEvent(data: "\(n)", id: "\(n)"))
///             try await context.eventLoop.sleep(for: .seconds(1))
///         }
///     }
/// }
/// ```
///
/// On the wire: status 200, `Content-Type: text/event-stream; charset=utf-8`,
/// `Cache-Control: no-store`, `X-Accel-Buffering: no`, chunked, never compressed. The head and
/// an opening comment (or the configured `retry:`) leave at once, so clients reach OPEN before
/// the first event; a stream of a broker subscription adds its position to that block (`id:`
/// and `Subscription.startPosition`, unless a replay comes first). Each event is one chunk in
/// one socket write. Heartbeat comments go out only when the stream has been idle for the
/// configured interval.
///
/// When the client disconnects, the handler task is cancelled: the sequence's `for await` ends
/// (sequences must honour cancellation, as `AsyncStream` and broker subscriptions do). When the
/// server shuts down, the task is cancelled too and ``farewell`` (if any) is sent before the
/// stream closes.
///
/// To tell an `EventSource` to stop reconnecting, answer `204 No Content` instead of a stream
/// (return `HTTPResponse.Status.noContent`); any non-200 status ends its reconnect loop.
public struct EventStream: ResponseGenerator {
    /// Header fields added to the stream's response (the SSE fields are always set).
    public var headerFields: HTTPFields
    /// Overrides of the server's event-stream defaults for this stream.
    public var configuration: EventStreamConfiguration?
    /// Sent last when the server shuts down while the stream is open.
    public var farewell: ServerSentEvent?
    /// When the stream ends by itself, after its final event; nil (the default) leaves it to
    /// the request's ``RequestContext/eventStreamDeadline``, if any.
    public var deadline: EventStreamDeadline?

    enum Source: Sendable {
        case producer(@Sendable (inout EventStreamWriter) async throws -> Void)
        case subscription(SubscriptionClaim, leading: [ServerSentEvent])
        /// A broker subscription still to be made in the request's task (a synchronous
        /// `RequestContext.eventStream(for:)` that needs the authorization hook or a remote broker).
        case pending(@Sendable () async throws -> EventStream)
    }

    let source: Source

    /// A stream of the events of `events`, in order, until the sequence ends or the client leaves.
    public init<Events: AsyncSequence & Sendable>(
        _ events: Events, configuration: EventStreamConfiguration? = nil, farewell: ServerSentEvent? = nil,
        headerFields: HTTPFields = [:]
    ) where Events.Element == ServerSentEvent {
        self.init(configuration: configuration, farewell: farewell, headerFields: headerFields) { stream in
            do {
                for try await event in events {
                    try await stream.send(event)
                }
            } catch is CancellationError {
                // The client left or the server is shutting down: both end the stream normally.
            }
        }
    }

    /// A stream written by `body`; it ends when `body` returns.
    public init(
        configuration: EventStreamConfiguration? = nil, farewell: ServerSentEvent? = nil, headerFields: HTTPFields = [:],
        _ body: @escaping @Sendable (inout EventStreamWriter) async throws -> Void
    ) {
        self.headerFields = headerFields
        self.configuration = configuration
        self.farewell = farewell
        self.source = .producer(body)
    }

    /// A stream of a broker subscription's events (replay first, then live), relayed by the
    /// connection itself: no task waits per client, so an idle subscriber costs only its
    /// connection and its subscription. A client that falls more than
    /// ``EventStreamConfiguration/maxQueuedBytes`` behind is disconnected (the `.wait` policy does
    /// not apply: a broker never waits for one subscriber).
    ///
    /// If the stream is never sent (a middleware throws or replaces the response, the client
    /// left first), the subscription is cancelled when the last copy of the stream goes.
    ///
    /// - Parameters:
    ///   - subscription: the broker subscription to relay (from `Broker.subscribe`).
    ///   - leading: events sent before the subscription's own (for example a notice).
    ///   - configuration: overrides of the server's event-stream defaults for this stream.
    ///   - farewell: sent last when the server shuts down while the stream is open.
    ///   - headerFields: header fields added to the response (the SSE fields are always set).
    public init(
        _ subscription: Subscription, leading: [ServerSentEvent] = [], configuration: EventStreamConfiguration? = nil,
        farewell: ServerSentEvent? = nil, headerFields: HTTPFields = [:]
    ) {
        self.headerFields = headerFields
        self.configuration = configuration
        self.farewell = farewell
        self.source = .subscription(SubscriptionClaim(subscription), leading: leading)
    }

    /// A stream that `resolve` makes in the request's task; what the handler sets on this one
    /// (header fields, configuration, farewell, deadline) is carried over to it.
    init(pending resolve: @escaping @Sendable () async throws -> EventStream, configuration: EventStreamConfiguration?) {
        headerFields = [:]
        self.configuration = configuration
        source = .pending(resolve)
    }

    public func response(from request: Request, context: RequestContext) throws -> Response {
        let fields = Self.withStandardFields(headerFields)
        let override = configuration
        let farewell = self.farewell
        let deadline = self.deadline ?? context.eventStreamDeadline
        let loop = context.eventLoop
        switch source {
        case .subscription(let claim, let leading):
            let relay = SubscriptionRelay(
                claim: claim, leading: leading, configuration: override, farewell: farewell, deadline: deadline)
            return Response(status: .ok, headerFields: fields, body: ResponseBody(storage: .subscription(relay)))
        case .pending(let resolve):
            return pendingResponse(resolve, from: request, context: context)
        case .producer(let produce):
            return Response(
                status: .ok, headerFields: fields,
                body: ResponseBody(
                    storage: .eventStream { sink in
                        var writer = EventStreamWriter(sink: sink, configuration: override ?? sink.eventStreamDefaults)
                        try writer.open()
                        defer { sink.endEventStream() }
                        do {
                            if let deadline {
                                let opened = writer
                                let deadlinePassed = try await deadline.race(on: loop) {
                                    var writer = opened
                                    try await produce(&writer)
                                }
                                if deadlinePassed {
                                    if !sink.isClosed { try writer.sendNow(deadline.finalEvent) }
                                    return
                                }
                            } else {
                                try await produce(&writer)
                            }
                        } catch is CancellationError {
                            // Cancellation is how disconnects and shutdown reach the producer.
                        }
                        if let farewell, sink.isShuttingDown, !sink.isClosed {
                            try writer.sendNow(farewell)
                        }
                    }))
        }
    }

    /// A pending stream's response: resolved in the request's task (``Response/resolvingPending()``),
    /// where what the handler set on this stream is carried over to the one `resolve` makes.
    private func pendingResponse(
        _ resolve: @escaping @Sendable () async throws -> EventStream, from request: Request, context: RequestContext
    ) -> Response {
        let asSet = self
        return Response(
            status: .ok,
            body: ResponseBody(
                storage: .pending {
                    var stream = try await resolve()
                    for field in asSet.headerFields { stream.headerFields.append(field) }
                    stream.configuration = asSet.configuration
                    stream.farewell = asSet.farewell
                    stream.deadline = asSet.deadline
                    return try stream.response(from: request, context: context)
                }))
    }

    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!

    /// The fields every event stream's head carries: its type, no caching, and no buffering
    /// in a proxy (nginx honours `X-Accel-Buffering`).
    static let standardFields: [(HTTPField.Name, String)] = [
        (.contentType, "text/event-stream; charset=utf-8"), (.cacheControl, "no-store"), (accelBuffering, "no"),
    ]

    /// `fields` plus the standard fields. Fields that already hold their standard value (the
    /// shared sets ``fields(adding:_:)`` makes) are left alone, so the storage is not copied.
    static func withStandardFields(_ fields: HTTPFields) -> HTTPFields {
        if hasStandardFields(fields) { return fields }
        var fields = fields
        for (name, value) in standardFields where fields[name] != value { fields[name] = value }
        return fields
    }

    /// Whether each standard field occurs exactly once, with its standard value. One pass over
    /// the fields, with no allocation (`fields[name]` joins the values into a new string): the
    /// shared sets pass it on every stream.
    static func hasStandardFields(_ fields: HTTPFields) -> Bool {
        var matched = 0
        for field in fields {
            for (name, value) in standardFields where field.name == name {
                guard field.value == value else { return false }
                matched += 1
            }
        }
        return matched == standardFields.count
    }

    /// The standard fields plus `name: value`, built once by the caller and shared by every
    /// stream that uses it.
    static func fields(adding name: HTTPField.Name, _ value: String) -> HTTPFields {
        var fields = HTTPFields()
        fields[name] = value
        return withStandardFields(fields)
    }
}

extension Request {
    /// The id of the last event the client received: the `Last-Event-ID` header, or the
    /// `lastEventId` query parameter for clients that cannot set headers. Nil when absent or
    /// empty (a browser whose last event id is empty sends no header: an empty one names
    /// nothing).
    public var lastEventID: String? {
        if let header = headerFields[EventStream.lastEventIDField], !header.isEmpty { return header }
        if let query = query["lastEventId"], !query.isEmpty { return query }
        return nil
    }
}

extension EventStream {
    static let lastEventIDField = HTTPField.Name("Last-Event-ID")!
}
