import DequeModule

/// Relayed event streams that have events waiting to be written, written in FIFO order at the
/// end of the loop executor's drains, at most ``connectionsPerDrain`` per drain. Loop-confined.
///
/// A publish only appends its chunk (framed once per fan-out, shared) to each subscriber's pending bytes (no syscall)
/// and queues the connection here once; the socket writes happen after the publishing code
/// returned. While publishes arrive faster than one pass over the subscribers takes, the
/// events pending for a subscriber accumulate and leave in **one** `write(2)` — the cost of a
/// delivery falls as the load rises, instead of the loop falling behind one syscall per event.
/// At low rates nothing waits: the pass starts at the end of the same drain as the publish.
/// The small budget per drain lets the loop poll I/O (new requests, new publishes, disconnects)
/// between batches, so a fan-out to many thousands of streams never stalls the server, and
/// publishes that arrive meanwhile join the pending bytes of the streams not yet written.
///
/// A connection's pending bytes are bounded by its stream's `maxQueuedBytes` (slow-client
/// policy), counted together with what libuv still holds for it. Publishers are held back by
/// ``admitPublish()`` and ``waitForEarlierWrites(ticket:)``: `Application.publish` returns once
/// everything queued before the previous publish was written (``publishDepth``).
final class EventStreamFlushQueue: PublishBackpressure, @unchecked Sendable {
    /// Connections written per drain before the loop polls I/O again (the executor drains up to
    /// three times per loop iteration): about 50–100 µs of `write(2)` on loopback. Small, so a
    /// pass over even 100 streams spans iterations and a publish read meanwhile joins the
    /// writes still to come (measured: 16 → 3.1 µs per delivery to 100 streams, 64 → 5.3 µs).
    static let connectionsPerDrain = 16

    private var queue = Deque<HTTPConnection>()
    /// Connections ever queued, and ever taken off the queue: FIFO, so once `written` reaches
    /// a value of `enqueued`, everything queued before that moment was written.
    private(set) var enqueuedTotal = 0
    private var writtenTotal = 0
    private var waiters = Deque<(ticket: Int, continuation: CheckedContinuation<Void, Never>)>()

    /// Queues `connection` for one write of its pending event bytes.
    func enqueue(_ connection: HTTPConnection) {
        queue.append(connection)
        enqueuedTotal += 1
    }

    /// Writes the pending bytes of up to ``connectionsPerDrain`` connections, oldest first;
    /// returns whether some still wait.
    func flush() -> Bool {
        var budget = Self.connectionsPerDrain
        while budget > 0, let connection = queue.popFirst() {
            connection.flushQueuedEvents()
            writtenTotal += 1
            budget -= 1
        }
        while let first = waiters.first, first.ticket <= writtenTotal {
            waiters.removeFirst()
            first.continuation.resume()
        }
        return !queue.isEmpty
    }

    /// How many publishes' writes an awaiting publisher may have outstanding: with 2, a publish
    /// returns once everything queued before the *previous* publish was written, so the writes
    /// of one publish overlap the next one's (that is what lets several events share a write)
    /// while the publisher stays within about two passes over the subscribers. Measured on
    /// 10,000 × 200 back-to-back: depth 1 gave 4.8 µs per delivery, p99 130 ms; depth 2
    /// 3.0 µs, p99 109 ms; no limit 1.4 µs but p99 1.2 s (Benchmarks/RESULTS.md).
    static let publishDepth = 2
    private var recentTickets = Deque<Int>()

    /// A publish is about to queue writes: returns the ticket to wait for once it did — the
    /// queue's position before the publish `publishDepth - 1` publishes ago (this one for 1).
    func admitPublish() -> Int {
        recentTickets.append(enqueuedTotal)
        if recentTickets.count > Self.publishDepth { recentTickets.removeFirst() }
        return recentTickets.first!
    }

    /// Returns once every connection queued before `ticket` (an ``enqueuedTotal`` taken earlier)
    /// was written. Loop thread.
    func waitForEarlierWrites(ticket: Int) async {
        guard ticket > writtenTotal else { return }
        await withCheckedContinuation { continuation in
            waiters.append((ticket, continuation))
        }
    }

    /// Lets every waiter go (the server stopped).
    func releaseWaiters() {
        while let waiter = waiters.popFirst() { waiter.continuation.resume() }
    }
}
