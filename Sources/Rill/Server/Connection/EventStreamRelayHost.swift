import RillCore
import RillPubSub

/// What an ``EventStreamRelay`` relays through: an HTTP/1.1 connection (its transport, its place
/// in the server's flush queue) or an HTTP/2 stream (its share of the connection). Loop-confined.
protocol EventStreamRelayHost: AnyObject {
    /// Where the relay's bytes go: something with a queue, writes and a drain notice.
    associatedtype RelayTransport: RelayWritable
    /// The server (statistics, the shared chunk framer).
    var server: HTTPServer { get }
    /// What the relay writes to.
    var relayTransport: RelayTransport { get }
    /// Whether the client is gone.
    var isClosed: Bool { get }
    /// Whether `relay` is the current one (an ended one must not act).
    func isRelaying(_ relay: EventStreamRelay<Self>) -> Bool
    /// Waits for the server's flush queue (HTTP/1.1), or flushes now (an HTTP/2 stream, whose
    /// connection's send already waits for it): the relay's `flushFromQueue()` follows.
    func enqueueForFlush()
    /// An event was written: the heartbeat is due one interval from now.
    func noteEventWrite()
    /// The slow-client policy's disconnect.
    func disconnectSlowClient()
    /// The relay holds more than before and stays within its own limit: an HTTP/2 stream has
    /// its connection weigh what all its streams hold (``HTTP2Configuration/maxQueuedResponseBytes``).
    func relayHoldsMore()
    /// The relayed subscription ended.
    func relayEnded(_ relay: EventStreamRelay<Self>, error: SubscriptionError?)
    /// Writes encoded events (the farewell).
    func writeEvents(_ bytes: [UInt8])
}

extension EventStreamRelayHost {
    /// An HTTP/1.1 connection holds one stream: its own limit is all there is.
    func relayHoldsMore() {}
}

/// The writing side a relay needs of its host's transport.
protocol RelayWritable: AnyObject {
    /// Bytes written that the client has not taken yet.
    var queuedBytes: Int { get }
    /// Sends `bytes`, in order after everything written before.
    func write(_ bytes: [UInt8])
    /// Sends `chunks` one after the other, in order after everything written before, keeping
    /// the arrays rather than copies of them (events shared by every stream they go to).
    func write(contentsOf chunks: [[UInt8]])
    /// Asks for one drain notice (the relay's `transportDrained()`) once at most `threshold`
    /// bytes are queued.
    func notifyWhenQueuedBytes(atMost threshold: Int)
}
