/// A byte stream a connection speaks over: TCP (``TCPStream``) today, TLS over TCP later, and a
/// scripted stand-in in unit tests. The HTTP connection knows only this. Loop-confined: every
/// member is used on the loop thread, every delegate call comes on it.
///
/// Writing is fire-and-forget: ``write(_:)-(UnsafeRawBufferPointer)`` takes a copy of what it
/// cannot send at once, in order, and ``queuedBytes`` is the backpressure signal; completion
/// is asked for with ``notifyWhenQueuedBytes(atMost:)`` (``TransportDelegate/transportDidDrain(_:)``
/// follows once that much left), not per write — so a write allocates nothing when the peer
/// keeps up.
public protocol Transport: AnyObject {
    /// The receiver of read, drain and close notifications.
    var delegate: (any TransportDelegate)? { get set }
    /// The peer's address, if known.
    var remoteAddress: SocketAddress? { get }
    /// Bytes written that the peer has not taken yet (not yet handed to the kernel, for TCP).
    var queuedBytes: Int { get }
    /// Whether ``close()`` or ``closeAfterFlush(lingering:)`` was called.
    var isClosing: Bool { get }
    /// The application protocol the peer and the transport agreed on (TLS's ALPN: `"h2"`,
    /// `"http/1.1"`), nil when none was (always, for plain TCP).
    var applicationProtocol: String? { get }
    /// The first write error, if a write failed (the transport closes itself then); an
    /// `ETIMEDOUT` one when the write timeout gave up on a peer that stopped reading.
    var writeError: UVError? { get }

    /// Starts (or resumes) delivering received bytes to the delegate.
    func startReading()
    /// Pauses reading: the peer's further bytes wait in the kernel (TCP flow control).
    func stopReading()
    /// Sends `bytes`, in order after everything written before.
    func write(_ bytes: UnsafeRawBufferPointer)
    /// Sends `bytes`, in order after everything written before.
    func write(_ bytes: [UInt8])
    /// Sends `chunks` one after the other, as if they were one array, in order after
    /// everything written before. A transport may keep the arrays themselves rather than copies
    /// of what it cannot send at once (arrays are values: what the caller does with its own
    /// copies later changes nothing), so bytes shared by many connections — an event fanned out
    /// to every subscriber — are held once however many peers lag.
    func write(contentsOf chunks: [[UInt8]])
    /// Until the matching ``endCoalescingWrites()``, writes are gathered and leave in one.
    func beginCoalescingWrites()
    /// Sends what was gathered since ``beginCoalescingWrites()``.
    func endCoalescingWrites()
    /// Asks for one ``TransportDelegate/transportDidDrain(_:)`` once ``queuedBytes`` is at most
    /// `threshold` (on the next loop iteration if it already is).
    func notifyWhenQueuedBytes(atMost threshold: Int)
    /// Sends what is queued, shuts the write side down, discards the peer's input until it
    /// closes or `lingering` passed, then closes: a response is not lost to a reset.
    func closeAfterFlush(lingering: Duration)
    /// Closes now; queued writes are dropped. ``TransportDelegate/transportDidClose(_:)``
    /// follows once the transport is gone.
    func close()
    /// Closes now and resets the connection: nothing queued anywhere is delivered, and what the
    /// kernel holds for the peer is freed at once (TCP: an RST). For a peer that stopped
    /// reading (a slow client cut off, a write that timed out).
    func abort()
}

extension Transport {
    /// None: a plain byte stream negotiates no application protocol.
    public var applicationProtocol: String? { nil }

    /// ``write(contentsOf:)`` as one write of the chunks joined (a transport that must copy
    /// anyway, such as TLS, loses nothing by it).
    public func write(contentsOf chunks: [[UInt8]]) {
        switch chunks.count {
        case 0: return
        case 1: write(chunks[0])
        default: write(Array(chunks.joined()))
        }
    }

    /// ``closeAfterFlush(lingering:)`` with the default linger, 2 seconds.
    public func closeAfterFlush() { closeAfterFlush(lingering: .seconds(2)) }
}

/// What a ``Transport`` tells its owner. Every method is called on the loop thread.
public protocol TransportDelegate: AnyObject {
    /// Bytes arrived. The buffer is lent (for TCP, the loop's shared read buffer): use or copy
    /// it before returning.
    func transport(_ transport: any Transport, didRead bytes: UnsafeRawBufferPointer)
    /// The peer finished sending (`error` is nil) or the read side failed (reset, timeout).
    func transport(_ transport: any Transport, didEndReadingWith error: UVError?)
    /// Queued bytes fell to the threshold set with ``Transport/notifyWhenQueuedBytes(atMost:)``.
    func transportDidDrain(_ transport: any Transport)
    /// The transport is closed and freed; it does nothing more.
    func transportDidClose(_ transport: any Transport)
}
