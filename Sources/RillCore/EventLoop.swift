internal import CLibUV
import Dispatch
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One libuv event loop running on its own thread.
///
/// The loop owns a `uv_loop_t`; every libuv call for it happens on its thread. Work reaches the
/// thread in two ways: Swift tasks whose executor preference is ``executor`` and closures passed
/// to ``execute(_:)``. Both are drained in libuv's prepare and check phases, at most
/// ``LoopExecutor/jobsPerDrainBudget`` per drain, with I/O polled between drains.
///
/// Work submitted from another thread is bounded: at most ``maxPendingCrossThreadClosures``
/// closures wait for the loop, and none is accepted once ``shutdown()`` closed the loop's
/// wakeup handle. A refused closure is released without running, counted in
/// ``droppedClosureCount`` and logged (rate-limited), and ``execute(_:)`` returns false.
///
/// ```swift
/// let loop = try EventLoop(name: "rill-0")
/// let task = Task(executorPreference: loop.executor) {
///     try await loop.sleep(for: .milliseconds(10))   // a libuv timer, no thread hop
/// }
/// try await task.value
/// await loop.shutdown()
/// ```
///
/// - Important: handle lifetimes follow libuv's rules: a handle that was initialised must be
///   closed, and its memory is freed only in the close callback. ``shutdown()`` closes the loop's
///   own handles and reports any other handle still open in ``leakedHandleCount``.
public final class EventLoop: @unchecked Sendable {
    /// The executor that runs tasks on this loop's thread.
    public let executor: LoopExecutor
    /// The loop's name, also the thread's name (truncated to 15 bytes by the kernel).
    public let name: String

    let uvLoop: UnsafeMutablePointer<uv_loop_t>
    let timers: TimerQueue
    /// One read buffer for every connection of the loop, so an idle connection holds none.
    let sharedReadBuffer: UnsafeMutableRawBufferPointer
    static let sharedReadBufferBytes = 64 * 1024

    /// The default of ``maxPendingCrossThreadClosures``: 65,536 closures.
    public static let defaultMaxPendingCrossThreadClosures = 65_536
    /// The most closures submitted with ``execute(_:)`` from other threads that may wait for the
    /// loop; further ones are refused (see ``execute(_:)``).
    public var maxPendingCrossThreadClosures: Int { executor.maxPendingCrossThreadClosures }
    /// Closures ``execute(_:)`` refused (queue full, or the loop stopping or stopped) or that
    /// were still queued when the loop exited: released without running.
    public var droppedClosureCount: Int { dropped.load(ordering: .relaxed) }

    private let dropped = Atomic<Int>(0)
    private let logger: Logger
    private let state = Atomic<Int>(State.running.rawValue)
    private var thread = pthread_t()
    private let threadJoined = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)
    private let exitWaiters = SanitizerVisibleMutex<[CheckedContinuation<Void, Never>]?>([])
    private var shutdownObservers: [() -> Void] = []

    /// Handles that were still open when the loop shut down (0 when every handle was closed).
    public private(set) var leakedHandleCount = 0
    /// The result of `uv_loop_close` at exit: 0 when the loop had nothing left open.
    public private(set) var closeResult: Int32 = 0

    private enum State: Int { case running, stopping, stopped }

    private static let brokenPipesIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Creates the loop and starts its thread; returns once the loop is ready for work.
    ///
    /// - Parameters:
    ///   - name: the loop's and its thread's name.
    ///   - maxPendingCrossThreadClosures: the most closures from other threads that may wait
    ///     for the loop (default 65,536); at least 1.
    ///   - logger: where refused work is reported (rate-limited: the 1st, 2nd, 4th, 8th, …).
    ///
    /// The first loop of the process sets `SIGPIPE` to be ignored: libuv writes to sockets with
    /// `write(2)`, and a write to a connection the peer already reset must fail with `EPIPE`
    /// (handled as a closed connection), not kill the process.
    public init(
        name: String = "rill-loop", maxPendingCrossThreadClosures: Int = EventLoop.defaultMaxPendingCrossThreadClosures,
        logger: Logger = Logger(label: "rill.loop")
    ) throws(UVError) {
        precondition(maxPendingCrossThreadClosures >= 1, "maxPendingCrossThreadClosures must be at least 1")
        _ = Self.brokenPipesIgnored
        self.name = name
        self.logger = logger
        uvLoop = .allocate(capacity: 1)
        let rc = uv_loop_init(uvLoop)
        if rc < 0 {
            uvLoop.deallocate()
            throw UVError(rc, "uv_loop_init")
        }
        sharedReadBuffer = .allocate(byteCount: Self.sharedReadBufferBytes, alignment: 16)
        executor = LoopExecutor(
            loop: uvLoop, thread: pthread_self(), maxPendingCrossThreadClosures: maxPendingCrossThreadClosures)
        timers = TimerQueue(loop: uvLoop)
        uvLoop.pointee.data = Unmanaged.passUnretained(self).toOpaque()

        let started = DispatchSemaphore(value: 0)
        let box = Unmanaged.passRetained(
            ThreadBody { [self] in
                self.executor.install(on: self.uvLoop)
                self.timers.install()
                started.signal()
                self.run()
            }
        ).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { context in
                let body = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
                body.run()
                return nil
            }, box)
        precondition(created == 0, "pthread_create failed: \(created)")
        started.wait()
    }

    deinit {
        sharedReadBuffer.deallocate()
        uvLoop.deallocate()
    }

    private final class ThreadBody {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private func run() {
        rill_set_thread_name(String(name.prefix(15)))
        pthread_setspecific(Self.currentLoopKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.currentLoopKey, nil) }
        uv_run(uvLoop, UV_RUN_DEFAULT)
        // Queued by close callbacks after the final drain: nothing runs them any more.
        let leftovers = executor.discardLeftovers()
        if leftovers > 0 { noteDropped(leftovers, reason: "the loop had stopped") }
        closeResult = uv_loop_close(uvLoop)
        state.store(State.stopped.rawValue, ordering: .releasing)
        let waiters = exitWaiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            defer { waiters = nil }
            return waiters ?? []
        }
        executor.loopThreadWillFinish()
        exited.signal()
        for waiter in waiters { waiter.resume() }
    }

    /// Whether the calling thread is this loop's thread.
    public var inEventLoop: Bool { executor.isOnLoopThread }

    /// The loop whose thread is calling, or nil on any other thread.
    public static var current: EventLoop? {
        guard let pointer = pthread_getspecific(currentLoopKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Where each loop thread keeps its loop (a thread-specific value, set while it runs).
    private static let currentLoopKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// The CPUs this process may run on: its affinity mask (so `taskset -c 0` counts 1), at
    /// least 1. The default number of loops of a server.
    public static var availableCoreCount: Int { Int(rill_available_cpu_count()) }

    /// Fails with a clear message when not called on the loop's thread.
    public func preconditionInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inEventLoop, "must be called on event loop \(name)", file: file, line: line)
    }

    /// Runs `body` on the loop's thread, after the current work (never inline).
    ///
    /// Safe to call from any thread. From another thread it costs one wakeup of the loop,
    /// shared with every other submission made before the loop drains.
    ///
    /// - Returns: whether `body` was queued. From another thread it is refused when
    ///   ``maxPendingCrossThreadClosures`` closures are waiting already, or once the loop is
    ///   shutting down; it is then released without running, counted in
    ///   ``droppedClosureCount`` and logged. On the loop thread it is always queued.
    @discardableResult
    public func execute(_ body: @escaping @Sendable () -> Void) -> Bool {
        if inEventLoop {
            // Drained in this iteration's check phase or the next prepare phase, both before
            // the loop can block in poll.
            executor.enqueueLocalClosure(body)
            return true
        }
        switch executor.enqueueCrossThreadClosure(body) {
        case nil:
            return true
        case .full?:
            noteDropped(1, reason: "\(maxPendingCrossThreadClosures) closures were waiting already")
            return false
        case .stopped?:
            noteDropped(1, reason: "the loop is shutting down")
            return false
        }
    }

    /// Runs `body` on the loop's thread like ``execute(_:)``, but is not refused for a full
    /// queue — only once the loop is shutting down.
    ///
    /// For work that releases what the loop holds (cancelling a subscription or a waiter,
    /// closing a connection): dropping it under load would leak. Each call must stand for
    /// something already bounded (a task, a subscription, a connection); anything a peer or a
    /// producer can repeat at will belongs in ``execute(_:)``.
    ///
    /// - Returns: whether `body` was queued; false only when the loop is shutting down (counted
    ///   and logged like a refused ``execute(_:)``).
    @discardableResult
    public func executeBypassingLimit(_ body: @escaping @Sendable () -> Void) -> Bool {
        if inEventLoop {
            executor.enqueueLocalClosure(body)
            return true
        }
        guard executor.enqueueCrossThreadClosure(body, ignoringLimit: true) == nil else {
            noteDropped(1, reason: "the loop is shutting down")
            return false
        }
        return true
    }

    /// Counts dropped closures and logs the 1st, 2nd, 4th, 8th, … so an overload cannot
    /// flood the log.
    private func noteDropped(_ count: Int, reason: @autoclosure () -> String) {
        let before = dropped.add(count, ordering: .relaxed).oldValue
        let after = before + count
        // Log only when (before, after] holds a power of two: its bit length grew.
        guard after.leadingZeroBitCount < before.leadingZeroBitCount else { return }
        logger.warning(
            "event loop refused work from another thread",
            metadata: ["loop": "\(name)", "reason": "\(reason())", "dropped_total": "\(after)"])
    }

    /// Registers `body` to run on the loop thread when shutdown begins, before handles are
    /// closed: servers stop accepting and close their connections there.
    public func onShutdown(_ body: @escaping () -> Void) {
        preconditionInEventLoop()
        shutdownObservers.append(body)
    }

    /// Stops the loop: runs shutdown observers, closes the loop's handles, waits for the thread
    /// to exit and closes the `uv_loop_t`. Safe to call more than once and from any thread but
    /// the loop's own.
    public func shutdown() async {
        requestStop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyExited = exitWaiters.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if alreadyExited { continuation.resume() }
        }
        joinThreadOnce()
    }

    /// Joins the loop's thread, once: a second `pthread_join` of one thread is undefined
    /// behaviour (ThreadSanitizer aborts on it), and shutdown may be called more than once.
    private func joinThreadOnce() {
        guard !threadJoined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_join(thread, nil)
    }

    /// Blocking form of ``shutdown()`` for non-async callers. Must not run on the loop thread.
    public func shutdownAndWait() {
        precondition(!inEventLoop, "shutdownAndWait() would deadlock on the loop's own thread")
        requestStop()
        exited.wait()
        exited.signal()
        joinThreadOnce()
    }

    private func requestStop() {
        let (exchanged, _) = state.compareExchange(
            expected: State.running.rawValue, desired: State.stopping.rawValue, ordering: .acquiringAndReleasing)
        guard exchanged else { return }
        // Shutdown must never be refused for a full queue.
        executeBypassingLimit { [self] in self.closeEverything() }
    }

    private func closeEverything() {
        executor.closeInbox()
        let observers = shutdownObservers
        shutdownObservers.removeAll()
        for observer in observers { observer() }
        // What was accepted before the inbox closed, and what the observers queued, runs now,
        // while timers and sockets are still open.
        executor.runAllQueuedWork()
        // Give close callbacks and the observers' queued work a chance before counting leaks:
        // the walk below runs after the current iteration.
        timers.uninstall()
        executor.uninstall()
        var leaked = 0
        withUnsafeMutablePointer(to: &leaked) { counter in
            uv_walk(
                uvLoop,
                { handle, context in
                    guard let handle, uv_is_closing(handle) == 0 else { return }
                    context!.assumingMemoryBound(to: Int.self).pointee += 1
                    uv_close(handle, nil)
                }, counter)
        }
        leakedHandleCount = leaked
    }
}
