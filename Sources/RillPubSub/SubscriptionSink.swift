/// The consumer of a subscription in push mode (`Subscription.attach(_:maxHeldBytes:)`): the
/// subscription calls it synchronously on its loop for every live event, and once when it ends.
/// A relaying connection conforms, so attaching allocates nothing. Loop-confined.
package protocol SubscriptionSink: AnyObject {
    /// A live event, in order.
    func receive(_ event: BrokerEvent)
    /// The subscription ended: nil for a cancellation or a normal end. Called once; the
    /// subscription lets go of the sink right before.
    func subscriptionEnded(_ error: SubscriptionError?)
}

/// A sink made of two closures (tests, and consumers with no object of their own).
final class ClosureSink: SubscriptionSink {
    private let onReceive: (BrokerEvent) -> Void
    private let onEnded: (SubscriptionError?) -> Void

    init(receive: @escaping (BrokerEvent) -> Void, ended: @escaping (SubscriptionError?) -> Void) {
        onReceive = receive
        onEnded = ended
    }

    func receive(_ event: BrokerEvent) { onReceive(event) }
    func subscriptionEnded(_ error: SubscriptionError?) { onEnded(error) }
}
