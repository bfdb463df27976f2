import RillCore
import RillPubSub

/// What a connection needs to relay a broker subscription as an event stream.
struct SubscriptionRelay: Sendable {
    let claim: SubscriptionClaim
    let leading: [ServerSentEvent]
    let configuration: EventStreamConfiguration?
    let farewell: ServerSentEvent?
    /// When the stream ends by itself, with its final event.
    let deadline: EventStreamDeadline?

    var subscription: Subscription { claim.subscription }

    /// Sends the subscription's events to `sink` by iterating it — replay first, then live —
    /// until the subscription ends or the task is cancelled; for sinks with no relay of their
    /// own (the live connection relays without a task). The subscription ends with it.
    func iterate(into sink: any ResponseBodySink) async throws {
        claim.claim()
        defer { subscription.cancel() }
        var writer = EventStreamWriter(sink: sink, configuration: configuration ?? sink.eventStreamDefaults)
        try writer.open(position: subscription.openingPosition)
        defer { sink.endEventStream() }
        for event in leading { try writer.sendNow(event) }
        do {
            if let deadline, let loop = EventLoop.current {
                let opened = writer
                let subscription = self.subscription
                let deadlinePassed = try await deadline.race(on: loop) {
                    var writer = opened
                    try await Self.send(subscription, to: &writer)
                }
                if deadlinePassed {
                    if !sink.isClosed { try writer.sendNow(deadline.finalEvent) }
                    return
                }
            } else {
                try await Self.send(subscription, to: &writer)
            }
        } catch is CancellationError {
            // The client left, or the server is shutting down. (A slow consumer or a closed
            // broker ends the stream with its error: the client reconnects.)
        }
        if let farewell, sink.isShuttingDown, !sink.isClosed { try writer.sendNow(farewell) }
    }

    /// Sends `subscription`'s events through `writer` until it ends.
    private static func send(_ subscription: Subscription, to writer: inout EventStreamWriter) async throws {
        for try await event in subscription {
            // A broker never waits for one subscriber: the `.wait` policy does not apply.
            try writer.sendNow(encoded: event.encodedBytes)
        }
    }
}

/// Owns a subscription on its way from `EventStream` to the connection that relays it. If it
/// is dropped before a connection claimed it — a middleware threw or replaced the response,
/// the handler discarded its stream, the connection closed first — the subscription is
/// cancelled, never left subscribed with nobody to end it.
final class SubscriptionClaim: @unchecked Sendable {
    let subscription: Subscription
    /// Set on the loop by the connection that relays (or cancels) the subscription; read in
    /// `deinit`, after the last reference went (ARC orders the two).
    private var claimed = false

    init(_ subscription: Subscription) { self.subscription = subscription }

    /// The connection takes over the subscription's lifetime.
    func claim() { claimed = true }

    deinit {
        if !claimed { subscription.cancel() }
    }
}
