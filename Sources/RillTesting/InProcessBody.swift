import Dispatch
import Rill
import RillCore

/// The sink of a streamed response body in `.router` mode: the body (a writer closure, an
/// `EventStream`, a relayed subscription) runs in a task of its own on the application's loop,
/// as on the live server, and what it writes is collected here for the test to read — all of
/// it for a plain request, or as it comes for an ``SSETestStream``.
///
/// No socket: nothing is ever queued (``queuedBytes`` is 0, writes never wait) and no
/// heartbeat is written. Closing it is the client leaving: the body's task is cancelled.
final class InProcessBody: ResponseBodySink, @unchecked Sendable {
    let eventStreamDefaults: EventStreamConfiguration
    private let state = SanitizerVisibleMutex(State())
    /// Signalled on every write and at the end, for a reader blocked on its dedicated thread.
    private let arrived = DispatchSemaphore(value: 0)

    private struct State {
        var received: [UInt8] = []
        var ended = false
        var closed = false
        var task: Task<Void, Never>?
    }

    init(eventStreamDefaults: EventStreamConfiguration) {
        self.eventStreamDefaults = eventStreamDefaults
    }

    /// Starts writing `body` here, in a task on `loop`.
    func start(_ body: ResponseBody, on loop: EventLoop) {
        let task = Task(executorPreference: loop.executor) { [self] in
            // A body that throws ends like a live one cut short: the test reads what came.
            try? await body.write(to: self)
            state.withLock { $0.ended = true }
            arrived.signal()
        }
        let cancelNow = state.withLock { state -> Bool in
            state.task = task
            return state.closed
        }
        if cancelNow { task.cancel() }
    }

    /// Blocks until bytes arrived (returns them) or the body ended (returns `[]`), at most
    /// `timeout`. Run it on a dedicated thread.
    ///
    /// - Throws: ``TestClientError/timedOut(waitingFor:)``.
    func receive(timeout: Duration) throws -> [UInt8] {
        try receive(until: DispatchTime.now() + .milliseconds(Int(clamping: timeout.wholeMilliseconds)))
    }

    private func receive(until deadline: DispatchTime) throws -> [UInt8] {
        while true {
            let (bytes, ended) = state.withLock { state in
                defer { state.received = [] }
                return (state.received, state.ended)
            }
            if !bytes.isEmpty || ended { return bytes }
            if arrived.wait(timeout: deadline) == .timedOut {
                throw TestClientError.timedOut(waitingFor: "the next bytes of a streamed body")
            }
        }
    }

    /// Blocks until the body ended and returns everything it wrote, at most `timeout` in all;
    /// on timeout the body is cancelled.
    func receiveAll(timeout: Duration) throws -> [UInt8] {
        let deadline = DispatchTime.now() + .milliseconds(Int(clamping: timeout.wholeMilliseconds))
        var all: [UInt8] = []
        do {
            while true {
                let bytes = try receive(until: deadline)
                if bytes.isEmpty { return all }
                all.append(contentsOf: bytes)
                if DispatchTime.now() >= deadline { throw TestClientError.timedOut(waitingFor: "the end of a streamed body") }
            }
        } catch {
            close()
            throw TestClientError.timedOut(waitingFor: "the end of a streamed body (an endless stream? read it with client.sse)")
        }
    }

    /// The client leaves: the body's task is cancelled and later writes throw.
    func close() {
        let task = state.withLock { state in
            state.closed = true
            return state.task
        }
        task?.cancel()
    }

    // MARK: ResponseBodySink (the body's task, on the loop)

    var isClosed: Bool { state.withLock { $0.closed } }
    var queuedBytes: Int { 0 }
    var isShuttingDown: Bool { false }

    func writeBodyChunk(_ bytes: [UInt8]) async throws {
        guard append(bytes) else { throw ConnectionClosedError() }
    }

    func waitUntilWritable() async throws {
        if isClosed { throw ConnectionClosedError() }
    }

    func beginEventStream(_ configuration: EventStreamConfiguration) {}

    func writeEvents(_ bytes: [UInt8]) { append(bytes) }

    func endEventStream() {}

    func disconnectSlowClient() { close() }

    /// Collects `bytes`; false once closed.
    @discardableResult
    private func append(_ bytes: [UInt8]) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.received.append(contentsOf: bytes)
            return true
        }
        if accepted { arrived.signal() }
        return accepted
    }
}

/// The in-process bodies a `.router` test client started, closed when the test ends (an
/// endless stream the test did not close must not outlive the application's loop).
final class InProcessBodies: Sendable {
    private let bodies = SanitizerVisibleMutex<[InProcessBody]>([])

    func add(_ body: InProcessBody) { bodies.withLock { $0.append(body) } }

    func closeAll() {
        for body in bodies.withLock({ $0 }) { body.close() }
    }
}
