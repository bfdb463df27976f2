/// Write backpressure for one connection's response, as uvicorn's `FlowControl`: a writer
/// suspends while more than the high-water mark is queued for the client and resumes once it
/// drained to the low-water mark; closing the connection fails the waiting writer. It holds
/// the waiting writer; the connection asks the transport for the drain notice. The marks are
/// the server's (``ServerConfiguration/writeHighWaterMarkBytes`` and
/// ``ServerConfiguration/writeLowWaterMarkBytes``), passed in rather than stored per connection.
struct WriteFlowControl {
    private var waiter: UnsafeContinuation<Void, any Error>?

    /// Whether a writer must wait with `queuedBytes` queued.
    static func mustWait(queuedBytes: Int, highWaterMarkBytes: Int) -> Bool { queuedBytes > highWaterMarkBytes }

    /// `writer` waits for the drain notice (one writer at a time: a response has one body).
    mutating func wait(_ writer: UnsafeContinuation<Void, any Error>) {
        precondition(waiter == nil, "two writers wait on one connection")
        waiter = writer
    }

    /// The queue drained to the low-water mark: the waiting writer goes on.
    mutating func drained() {
        guard let writer = waiter else { return }
        waiter = nil
        writer.resume()
    }

    /// The waiting writer fails with `error` (the connection closed, the writer was cancelled).
    /// Generic, so that no error box is allocated when nobody waits (every connection's close
    /// comes through here).
    mutating func fail<Failure: Error>(_ error: Failure) {
        guard let writer = waiter else { return }
        waiter = nil
        writer.resume(throwing: error)
    }
}
