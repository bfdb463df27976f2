import RillCore
import RillHTTP
import RillPubSub

/// Relays a broker subscription as an event stream's body with no task per client: the
/// subscription pushes each event here (its sink), the event joins the pending bytes, and the
/// server's ``EventStreamFlushQueue`` writes them — several events in one write when they
/// arrive faster than a pass over the subscribers takes. Owned by its connection for the
/// stream's life; loop-confined.
///
/// ```
///  broker ─deliver─► Subscription ─sink─► receive(_:) ─► backlog ─┐ (one write per flush)
///                         ▲ takeReplay                              ▼
///                         └──── pumpReplay ◄── drain notice ◄── transport
/// ```
///
/// Bounds: what the transport holds plus the pending bytes may not exceed the stream's
/// ``EventStreamConfiguration/maxQueuedBytes`` (a slow client is disconnected); a replay is
/// read from the broker's history in pieces as the client reads, within half of that.
///
/// Generic over its host — an HTTP/1.1 connection, or an HTTP/2 stream whose "transport" is its
/// share of the connection — so that each is specialized, with no dynamic dispatch per event.
final class EventStreamRelay<Host: EventStreamRelayHost>: SubscriptionSink {
    /// unowned(unsafe): the host owns the relay and outlives it (it lets go of it when the
    /// subscription ended, and a closing host cancels the subscription first).
    unowned(unsafe) let connection: Host
    let subscription: Subscription
    /// The stream's queued-bytes limit (see the type's bounds).
    let maxQueuedBytes: Int
    /// The farewell sent at shutdown and the deadline, if the stream has either.
    let ending: EventStreamEnding?
    /// Events not yet written: they leave together, in one write (a `writev`), when the flush
    /// queue reaches the connection or, if the transport has a backlog, when it drained. Each is
    /// the array every stream of the fan-out shares (its chunk, or its encoding), not a copy: a
    /// thousand slow readers of a channel hold its events once.
    private var backlog = ByteChunkQueue()
    /// Encoded events waiting for the transport to take them.
    var backlogByteCount: Int { backlog.byteCount }
    /// When the oldest event in ``backlog`` was published (``BrokerEvent/publishedAtNanoseconds``):
    /// its write records the server's publish-to-write latency.
    private var backlogPublishedAtNanoseconds: UInt64 = 0
    /// Pending bytes at which an event checks the stream's limits (see ``updateCheckBytes()``;
    /// at most ``earlyWriteBytes``). 32 bits, so that the latency's timestamp fits in the same
    /// allocation size class as before it.
    private var checkBytes: Int32 = 1
    // The one-byte properties last (a class's layout follows the declarations): every idle
    // stream carries a relay.
    /// Whether the response is chunked (HTTP/1.1) rather than ended by the close (HTTP/1.0).
    let chunked: Bool
    /// The connection waits in the server's flush queue.
    private(set) var isQueuedForFlush = false

    init(connection: Host, subscription: Subscription, maxQueuedBytes: Int, chunked: Bool, ending: EventStreamEnding?) {
        self.connection = connection
        self.subscription = subscription
        self.maxQueuedBytes = maxQueuedBytes
        self.chunked = chunked
        self.ending = ending
    }

    private var transport: Host.RelayTransport { connection.relayTransport }
    private var server: HTTPServer { connection.server }

    /// Takes the subscription's events from now on; a pending replay starts once the head and
    /// the opening left. Live events published during the replay wait in the subscription,
    /// behind it, up to what the replay window leaves of the stream's limit.
    func start() {
        updateCheckBytes()
        // The subscription holds the relay (its sink) until it ends; the relay holds the
        // subscription, so the two live until then, and the connection ends the subscription
        // when it closes.
        subscription.attach(self, maxHeldBytes: max(0, maxQueuedBytes - Self.replayWindowBytes(maxQueuedBytes)))
        // The writes are being coalesced now, so the transport's queue does not show the head
        // yet: a drain notice comes at once.
        if subscription.hasPendingReplay { transport.notifyWhenQueuedBytes(atMost: 0) }
        ending?.arm(on: server.loop) { [weak self] in self?.deadlinePassed() }
    }

    // MARK: Live events

    /// A published event: appended to the pending events (its chunk, framed once per fan-out and
    /// shared, not copied), written by the server's flush queue — or once the transport drained,
    /// if it still holds a backlog.
    func receive(_ event: BrokerEvent) {
        guard !connection.isClosed else { return }
        // Once per event per stream: the (unowned) server is loaded once, not once per use.
        let server = self.server
        server.relayedEventCount += 1
        let wasEmpty = backlog.isEmpty
        // The array every stream of the fan-out shares, not a copy (joining the events of one
        // flush into one array measured no cheaper: 2.98 against 3.07 µs per delivery, within
        // the noise, while a slow reader then held 9.5 KB of copies instead of 2 KB).
        backlog.append(chunked ? server.chunkFramer.chunk(of: event.encodedBytes) : event.encodedBytes)
        if wasEmpty {
            backlogPublishedAtNanoseconds = event.publishedAtNanoseconds
            if !isQueuedForFlush {
                if transport.queuedBytes > 0 {
                    transport.notifyWhenQueuedBytes(atMost: 0)
                } else {
                    isQueuedForFlush = true
                    connection.enqueueForFlush()
                }
            }
        }
        if backlog.byteCount >= Int(checkBytes) { checkQueue() }
    }

    /// The subscription ended (see ``HTTPConnection/relayEnded(_:error:)``).
    func subscriptionEnded(_ error: SubscriptionError?) {
        ending?.disarm()
        connection.relayEnded(self, error: error)
    }

    /// The flush queue reached the connection: the pending events leave now.
    func flushFromQueue() {
        isQueuedForFlush = false
        flush()
    }

    /// The transport drained to the threshold asked for: pending events, or the replay's
    /// next pieces.
    func transportDrained() { flush() }

    /// Writes the pending live events — or, while the subscription still replays (none are
    /// pending then), the next pieces of its replay.
    func flush() {
        guard !backlog.isEmpty, !connection.isClosed else {
            if subscription.hasPendingReplay { pumpReplay() }
            return
        }
        server.relayedWriteCount += 1
        connection.noteEventWrite()
        switch backlog.removeAll() {
        case .none: break
        case .one(let bytes): transport.write(bytes)
        case .many(let chunks): transport.write(contentsOf: chunks)
        }
        server.deliveryLatency.record(publishedAtNanoseconds: backlogPublishedAtNanoseconds)
        updateCheckBytes()
    }

    /// Bounds what the stream holds. Pending bytes waiting only for their turn in the flush
    /// queue (the transport had no backlog) are written at once past ``earlyWriteBytes``, or
    /// past the stream's limit: a burst is not a slow client. What is still held then, in the
    /// transport and pending, beyond ``maxQueuedBytes`` is a slow client.
    private func checkQueue() {
        let pending = backlog.byteCount
        if isQueuedForFlush && transport.queuedBytes == 0 && (pending >= Self.earlyWriteBytes || pending > maxQueuedBytes) {
            flush()
        }
        if transport.queuedBytes + backlog.byteCount > maxQueuedBytes {
            connection.disconnectSlowClient()
        } else {
            updateCheckBytes()
            connection.relayHoldsMore()
        }
    }

    /// After a write: how many pending bytes call for ``checkQueue()``. The transport's queue
    /// only shrinks until the next write, so a threshold from the queue as it is now is safe,
    /// and a published event costs no look at the transport.
    private func updateCheckBytes() {
        guard maxQueuedBytes > 0 else { return }
        checkBytes = Int32(truncatingIfNeeded: min(Self.earlyWriteBytes - 1, max(0, maxQueuedBytes - transport.queuedBytes)) + 1)
    }

    /// Pending bytes written without waiting for the flush queue: batching gains nothing
    /// beyond this size, and it bounds the memory a burst holds per stream.
    static var earlyWriteBytes: Int { 16 * 1024 }

    // MARK: Replay

    /// How much of a stream's queued-bytes limit its replay may fill: half, so that live events
    /// held behind it have the other half. At least 1: one event at a time.
    static func replayWindowBytes(_ maxQueuedBytes: Int) -> Int { max(1, maxQueuedBytes / 2) }

    /// Pieces of replay written per drain notice, so that one fast reader's long replay does not
    /// hold the loop: the next ones follow at the next notice.
    static var replayPiecesPerDrain: Int { 4 }

    /// Writes the replay while the transport holds less than the replay window, in pieces taken
    /// from the broker's history as the client reads (never the whole replay at once), and asks
    /// to be called again when it drained. When the replay is over the subscription hands over
    /// the live events it held meanwhile, in order.
    private func pumpReplay() {
        let window = Self.replayWindowBytes(maxQueuedBytes)
        var pieces = 0
        while transport.queuedBytes < window, pieces < Self.replayPiecesPerDrain {
            let events = subscription.takeReplay(maxBytes: window - transport.queuedBytes)
            // Ended: the history dropped events before they were replayed (or the client left).
            guard connection.isRelaying(self), !connection.isClosed, !events.isEmpty else { return }
            writeReplayPiece(events)
            pieces += 1
        }
        if subscription.hasPendingReplay {
            transport.notifyWhenQueuedBytes(atMost: window / 2)
        } else {
            // The last piece emptied the replay: the live events held behind it follow.
            subscription.releaseHeldEvents()
        }
    }

    /// Writes `events` in one write, as one chunk (a lone event's shared chunk): the history's
    /// own arrays, not a copy of them, behind a chunk header of its own.
    private func writeReplayPiece(_ events: [BrokerEvent]) {
        server.relayedEventCount += events.count
        server.relayedWriteCount += 1
        connection.noteEventWrite()
        if events.count == 1 {
            transport.write(chunked ? server.chunkFramer.chunk(of: events[0].encodedBytes) : events[0].encodedBytes)
        } else {
            var size = 0
            for event in events { size += event.encodedBytes.count }
            var piece: [[UInt8]] = []
            piece.reserveCapacity(events.count + 2)
            if chunked {
                var header: [UInt8] = []
                HTTPResponseSerializer.writeChunkHeader(size: size, into: &header)
                piece.append(header)
            }
            for event in events { piece.append(event.encodedBytes) }
            if chunked { piece.append(HTTPResponseSerializer.chunkTrailer) }
            transport.write(contentsOf: piece)
        }
        updateCheckBytes()
    }

    // MARK: Ending

    /// Shutdown began: the pending events, then the farewell; the subscription ends.
    func serverIsShuttingDown() {
        flush()
        if let farewell = ending?.farewell { connection.writeEvents(farewell) }
        subscription.cancel()
    }

    /// The stream's deadline passed: the pending events, then the final event; the
    /// subscription ends, and with it the response (the client reconnects).
    private func deadlinePassed() {
        guard connection.isRelaying(self), !connection.isClosed else { return }
        flush()
        if let finalEvent = ending?.finalEvent { connection.writeEvents(finalEvent) }
        subscription.cancel()
    }
}
