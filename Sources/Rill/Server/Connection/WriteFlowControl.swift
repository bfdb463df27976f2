import RillCore

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

/// A sink whose writer waits with a ``WriteFlowControl``: an HTTP/1.1 connection (drain notices
/// from its transport) or an HTTP/2 stream (its session reports what it took). Loop-confined.
protocol FlowControlledSink: AnyObject, Sendable {
    /// The waiting writer, if any.
    var flowControl: WriteFlowControl { get set }
    /// Whether the client is gone: a writer fails at once.
    var isClosed: Bool { get }
    /// The loop the sink lives on.
    var sinkLoop: EventLoop { get }
    /// Asks for a drain notice once the queue fell to `lowWaterMarkBytes`.
    func requestDrainNotice(atMost lowWaterMarkBytes: Int)
}

extension FlowControlledSink {
    /// Suspends the writer until the sink drained to `lowWaterMarkBytes` (or failed, or the
    /// task was cancelled).
    func suspendUntilDrained(lowWaterMarkBytes: Int) async throws {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                if isClosed {
                    continuation.resume(throwing: ConnectionClosedError())
                    return
                }
                flowControl.wait(continuation)
                requestDrainNotice(atMost: lowWaterMarkBytes)
            }
        } onCancel: {
            // Clean-up: must not be lost to a full cross-thread queue.
            sinkLoop.executeBypassingLimit { [self] in self.flowControl.fail(CancellationError()) }
        }
    }
}
