import RillPubSub

/// What a connection needs to relay a broker subscription as an event stream.
struct SubscriptionRelay: Sendable {
    let subscription: Subscription
    let leading: [ServerSentEvent]
    let configuration: EventStreamConfiguration?
    let farewell: ServerSentEvent?
}
