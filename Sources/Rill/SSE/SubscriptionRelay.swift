import RillPubSub

/// What a connection needs to relay a broker subscription as an event stream.
struct SubscriptionRelay: Sendable {
    let claim: SubscriptionClaim
    let leading: [ServerSentEvent]
    let configuration: EventStreamConfiguration?
    let farewell: ServerSentEvent?

    var subscription: Subscription { claim.subscription }
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
