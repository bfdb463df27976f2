import HTTPTypes
import Logging
import RillCore
import RillPubSub

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Publishing and subscribing for one application: its broker, its channel authorization hook
/// and the backpressure of the server that writes its event streams. Behind both
/// `Application.publish`/`eventStream(for:context:)` and the same calls on a handler's
/// ``RequestContext``, so routes need not capture the application.
final class PubSub: Sendable {
    let broker: any Broker
    /// `broker` when it is the in-memory one, which can subscribe synchronously on its loops.
    private let inMemoryBroker: InMemoryBroker?
    let logger: Logger
    let defaultStreamConfiguration: EventStreamConfiguration
    /// Who is subscribed where (PubSub+Presence.swift).
    let presence: any PresenceStore
    /// The presence lease every anonymous stream that does not watch presence notices shares.
    let anonymousPresenceLease: PresenceLease

    private let state = SanitizerVisibleMutex<State>(State())

    private struct State {
        var authorizer: ChannelAuthorizer?
        /// Each running server's, by its loop.
        var backpressures: [ObjectIdentifier: any PublishBackpressure] = [:]
    }

    init(broker: any Broker, logger: Logger, defaultStreamConfiguration: EventStreamConfiguration) {
        self.broker = broker
        inMemoryBroker = broker as? InMemoryBroker
        self.logger = logger
        self.defaultStreamConfiguration = defaultStreamConfiguration
        presence = Self.presenceStore(for: broker)
        anonymousPresenceLease = presence.registry.makeSharedAnonymousLease()
    }

    var authorizer: ChannelAuthorizer? { state.withLock { $0.authorizer } }

    func setAuthorizer(_ authorizer: ChannelAuthorizer?) {
        state.withLock { $0.authorizer = authorizer }
    }

    /// The server on `loop` that writes this application's event streams there registers how a
    /// publisher on that loop waits for its writes (nil when it stops).
    func setBackpressure(_ backpressure: (any PublishBackpressure)?, on loop: EventLoop) {
        state.withLock { $0.backpressures[ObjectIdentifier(loop)] = backpressure }
    }

    /// Publishes `data` — a `String` as it is, anything else as JSON.
    func publish(
        _ data: some Encodable & Sendable, event: String?, id: String?, retry: Duration?, channel: String,
        authorizing request: (Request, RequestContext)?
    ) async throws -> PublishReceipt {
        let text: String
        if let string = data as? String {
            text = string
        } else {
            text = String(decoding: try JSONEncoder().encode(data), as: UTF8.self)
        }
        return try await publish(ServerSentEvent(data: text, event: event, id: id, retry: retry), channel: channel, authorizing: request)
    }

    /// The prefix of the event names the server itself sends: presence notices (`rill-join`,
    /// `rill-leave`, `rill-presence`) and what a stream says about itself (`rill-history-gap`,
    /// `rill-reconnect`, `rill-token-expired`), which clients such as rill.js obey.
    static let reservedEventNamePrefix = "rill-"

    /// 400 when a publisher's event has a name of the server's own: a published
    /// `rill-reconnect` stored in the history would send every rill.js client of the channel
    /// reconnecting, replaying it and reconnecting again.
    static func refuseReservedEventName(_ event: ServerSentEvent) throws {
        guard let name = event.event, name.utf8.starts(with: reservedEventNamePrefix.utf8) else { return }
        throw HTTPError(.badRequest, message: "event names starting with '\(reservedEventNamePrefix)' are reserved for the server's own events")
    }

    /// Inlined into its callers (`Application`'s and `RequestContext`'s): one async frame less
    /// per publish, which the task allocator would otherwise have to grow a slab for.
    @inline(__always)
    func publish(_ event: ServerSentEvent, channel: String, authorizing request: (Request, RequestContext)?) async throws -> PublishReceipt {
        try Self.refuseReservedChannels([channel])  // presence notices are the server's own
        try Self.refuseReservedEventName(event)
        if let (request, context) = request {
            try await authorize(request, context: context, channels: [channel], access: .publish)
        }
        // Backpressure: on a loop, wait until what its server queued for event streams before
        // this publish was written (see `Application.publish(_:channel:authorizing:)`).
        let backpressure = EventLoop.current.flatMap { loop in state.withLock { $0.backpressures[ObjectIdentifier(loop)] } }
        let ticket = backpressure?.admitPublish() ?? 0
        let receipt: PublishReceipt
        do {
            receipt = try await broker.publish(event, to: channel)
        } catch let error as BrokerError {
            throw error.httpError
        }
        await backpressure?.waitForEarlierWrites(ticket: ticket)
        return receipt
    }

    func post(_ event: ServerSentEvent, channel: String) {
        let logger = self.logger
        do {
            try Self.refuseReservedChannels([channel])
            try Self.refuseReservedEventName(event)
        } catch {
            logger.error("publishing to channel refused", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return
        }
        broker.post(event, to: channel) { error in
            logger.error("publishing to channel failed", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
    }

    /// Inlined into its callers, as ``publish(_:channel:authorizing:)``: measured, the extra
    /// async frame cost a malloc per stream (the task allocator growing a slab).
    @inline(__always)
    func eventStream(
        for request: Request, context: RequestContext, channels: [String]?, patterns: [ChannelPattern]?,
        configuration: EventStreamConfiguration?
    ) async throws -> EventStream {
        let asked = try streamRequest(for: request, channels: channels, patterns: patterns, configuration: configuration)
        return try await subscribe(asked, for: request, context: context)
    }

    /// The synchronous form, for handlers that do not suspend (they run inline, with no task):
    /// with no authorization hook, on one of an in-memory broker's loops, the stream subscribes
    /// at once; otherwise (the hook is async, a remote broker answers later) it is returned
    /// pending and the framework subscribes in the request's task before the head is written —
    /// the same response, statuses and errors either way.
    func eventStreamAtOnce(
        for request: Request, context: RequestContext, channels: [String]?, patterns: [ChannelPattern]?,
        configuration: EventStreamConfiguration?
    ) throws -> EventStream {
        let asked = try streamRequest(for: request, channels: channels, patterns: patterns, configuration: configuration)
        if let inMemoryBroker, inMemoryBroker.isOnOneOfItsLoops, authorizer == nil {
            let subscription: Subscription
            do {
                subscription = try inMemoryBroker.subscribeOnLoop(
                    to: asked.subscribed, matching: asked.patterns, lastEventID: request.lastEventID)
            } catch let error as BrokerError {
                throw error.httpError
            }
            return stream(of: subscription, asked: asked, for: request, context: context)
        }
        var stream = EventStream(pending: { [self] in try await subscribe(asked, for: request, context: context) }, configuration: configuration)
        stream.deadline = context.eventStreamDeadline
        return stream
    }

    /// What a stream request names, checked (the 400s) before any authorization or subscription.
    struct StreamRequest: Sendable {
        /// The channels named (distinct, non-empty; the default channel when nothing is named).
        var names: [String]
        /// `names` plus their presence-notice channels when the request asks for them.
        var subscribed: [String]
        var patterns: [ChannelPattern]
        var configuration: EventStreamConfiguration?
    }

    @inline(__always)
    private func streamRequest(
        for request: Request, channels: [String]?, patterns: [ChannelPattern]?, configuration: EventStreamConfiguration?
    ) throws -> StreamRequest {
        // One event id, or none: two fields would be read as the joined "a, b", an id no
        // event has (a gap and a replay of everything).
        if request.headerFields[EventStream.lastEventIDField] != nil, request.headerFields[values: EventStream.lastEventIDField].count > 1 {
            throw HTTPError(.badRequest, message: "a request may carry one Last-Event-ID field")
        }
        // What the handler fixed replaces the query, both channels and patterns.
        let fromQuery = channels == nil && patterns == nil
        var names = channels ?? (fromQuery ? request.query.values(for: "channel") : [])
        // `?channel=` names no channel: a client whose variable was empty must hear so, not be
        // given the default channel's events.
        guard !names.contains(where: \.isEmpty) else { throw HTTPError(.badRequest, message: "an empty channel name") }
        names = Self.distinct(names)
        let streamConfiguration = configuration ?? defaultStreamConfiguration
        let patterns = try patterns ?? (fromQuery ? Self.patterns(in: request, limit: streamConfiguration.maxPatternsPerStream) : [])
        if names.isEmpty && patterns.isEmpty { names = [Application.defaultChannel] }
        let limit = streamConfiguration.maxChannelsPerStream
        guard names.count <= limit else {
            throw HTTPError(.badRequest, message: "a stream may name at most \(limit) distinct channels; this one names \(names.count)")
        }
        // Presence: reserved names refused; `presence=1` adds the channels' presence notices.
        try Self.refuseReservedChannels(names)
        let subscribed = try Self.subscribedChannels(names, presenceNotices: Self.wantsPresenceNotices(request))
        return StreamRequest(names: names, subscribed: subscribed, patterns: patterns, configuration: configuration)
    }

    /// Authorizes and subscribes what `asked` names (the 403s and 503s).
    @inline(__always)
    private func subscribe(_ asked: StreamRequest, for request: Request, context: RequestContext) async throws -> EventStream {
        try await authorize(request, context: context, channels: asked.names, access: .subscribe)
        if !asked.patterns.isEmpty {
            try await authorize(request, context: context, channels: asked.patterns.map(\.description), access: .subscribeToPattern)
        }
        let subscription: Subscription
        do {
            subscription = try await broker.subscribe(to: asked.subscribed, matching: asked.patterns, lastEventID: request.lastEventID)
        } catch let error as BrokerError {
            throw error.httpError
        }
        // The client may have left while the broker subscribed: nothing would ever cancel it.
        guard !Task.isCancelled else {
            subscription.cancel()
            throw CancellationError()
        }
        return stream(of: subscription, asked: asked, for: request, context: context)
    }

    /// The event stream of a new subscription: presence tracked, the replay status in the head,
    /// a gap announced first.
    private func stream(of subscription: Subscription, asked: StreamRequest, for request: Request, context: RequestContext) -> EventStream {
        trackPresence(
            of: subscription, channels: asked.names, identity: context.presenceIdentity, watching: asked.subscribed.count > asked.names.count)
        let status = subscription.replayStatus
        var leading: [ServerSentEvent] = []
        if status == .gap {
            var payload = "{\"lastEventId\":"
            JSONString.append(request.lastEventID ?? "", to: &payload)
            payload += "}"
            leading.append(ServerSentEvent(data: payload, event: "rill-history-gap"))
        }
        var stream = EventStream(subscription, leading: leading, configuration: asked.configuration, headerFields: status.headerFields)
        // The context this call got (a handler may have authenticated into its own copy).
        stream.deadline = context.eventStreamDeadline
        return stream
    }

    /// The distinct patterns of the request's `?pattern=` values (empty ones ignored).
    ///
    /// - Throws: ``HTTPError`` 400 for a malformed pattern or more than `limit` of them.
    static func patterns(in request: Request, limit: Int) throws -> [ChannelPattern] {
        var texts = request.query.values(for: "pattern")
        guard !texts.isEmpty else { return [] }
        texts.removeAll { $0.isEmpty }
        texts = distinct(texts)
        guard texts.count <= limit else {
            throw HTTPError(.badRequest, message: "a stream may name at most \(limit) distinct patterns; this one names \(texts.count)")
        }
        var patterns: [ChannelPattern] = []
        for text in texts {
            do throws(ChannelPatternError) {
                patterns.append(try ChannelPattern(text))
            } catch {
                throw HTTPError(.badRequest, message: error.description)
            }
        }
        return patterns
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
        guard let authorizer else { return }
        for channel in channels where try await !authorizer(request, context, channel, access) {
            let what =
                switch access {
                case .subscribe: "subscribing to channel"
                case .subscribeToPattern: "subscribing to pattern"
                case .publish: "publishing to channel"
                }
            throw HTTPError(.forbidden, message: "\(what) '\(channel)' is not allowed")
        }
    }
}

/// How a publisher on the loop is held back while the server still writes earlier events
/// (``EventStreamFlushQueue`` implements it). Loop thread only.
protocol PublishBackpressure: AnyObject, Sendable {
    /// A publish is about to queue writes: the ticket to wait for once it did.
    func admitPublish() -> Int
    /// Returns once the writes queued before `ticket` left.
    func waitForEarlierWrites(ticket: Int) async
}
