internal import CLibUV
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The executor of one `EventLoop`: a task executor, and through ``serialExecutor`` a serial
/// executor, that run every job on the loop's thread, inside libuv's prepare and check phases.
///
/// A task started with `Task(executorPreference: loop.executor)` runs its body, every
/// nonisolated async function it awaits and its structured children (`async let`, task groups)
/// on the loop thread, with no hop through the global concurrent executor.
///
/// - Jobs enqueued on the loop thread go to a plain array: no lock, no syscall.
/// - Jobs enqueued from other threads go to a locked queue, and one `uv_async_send` wakes the
///   loop when that queue turns non-empty (libuv coalesces sends, so the whole queue is drained).
/// - Each drain has a budget; when jobs remain, an idle handle keeps the loop from blocking in
///   poll so I/O is still serviced between batches.
/// - A job keeps the role it was enqueued for. One enqueued on the task executor (a nonisolated
///   task with the loop as its preference) runs as nonisolated code, so each nonisolated async
///   function it calls continues inline; run as if isolated to the loop's serial executor, each
///   such call would cost the runtime a switch and one more trip through the queue (9 jobs per
///   plain HTTP request instead of 1). One enqueued on ``serialExecutor`` (an actor whose
///   `unownedExecutor` is the loop) runs isolated to it.
///
/// - Important: unstructured `Task {}` and `Task.detached` inside a handler do not inherit the
///   preference; pass `executorPreference: loop.executor` explicitly.
public final class LoopExecutor: TaskExecutor, @unchecked Sendable {
    /// The most jobs one drain runs before it lets libuv poll for I/O again.
    public static let jobsPerDrainBudget = 4096

    /// A job and the role it was enqueued for.
    struct QueuedJob {
        let job: UnownedJob
        /// Enqueued on ``serialExecutor``: runs isolated to it.
        let isolated: Bool
    }

    private var local: [QueuedJob] = []
    private var running: [QueuedJob] = []
    private let remote = Mutex<[QueuedJob]>([])
    private let hasRemote = Atomic<Bool>(false)
    private var loopThread: pthread_t

    let asyncHandle: UnsafeMutablePointer<uv_async_t>
    let prepareHandle: UnsafeMutablePointer<uv_prepare_t>
    let checkHandle: UnsafeMutablePointer<uv_check_t>
    let idleHandle: UnsafeMutablePointer<uv_idle_t>
    private var idleActive = false

    /// How many jobs were enqueued from threads other than the loop's (each may cost a wakeup).
    public let crossThreadEnqueueCount = Atomic<Int>(0)
    /// Jobs enqueued on the loop thread (loop-confined; for tests that count hops).
    package private(set) var localEnqueueCount = 0

    /// The loop as a serial executor, for an actor that should live on the loop thread:
    ///
    /// ```swift
    /// actor Counter {
    ///     let loop: EventLoop
    ///     nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }
    /// }
    /// ```
    public let serialExecutor = LoopSerialExecutor()

    /// The loop whose `execute` closures run in the same drain as the jobs.
    private unowned(unsafe) var closureSource: EventLoop?
    /// Work that runs at the end of every drain, after the jobs (see
    /// ``EventLoop/addDrainObserver(_:)``).
    private var drainObservers: [(id: Int, body: () -> Bool)] = []
    private var nextDrainObserverID = 0

    init(loop: UnsafeMutablePointer<uv_loop_t>, thread: pthread_t) {
        loopThread = thread
        asyncHandle = .allocate(capacity: 1)
        prepareHandle = .allocate(capacity: 1)
        checkHandle = .allocate(capacity: 1)
        idleHandle = .allocate(capacity: 1)
        local.reserveCapacity(256)
        running.reserveCapacity(256)
        serialExecutor.owner = self
    }

    /// Registers the handles on the loop. Called on the loop thread before `uv_run`.
    func install(on loop: UnsafeMutablePointer<uv_loop_t>) {
        loopThread = pthread_self()
        let context = Unmanaged.passUnretained(self).toOpaque()
        uv_async_init(loop, asyncHandle) { handle in
            LoopExecutor.from(handle!.pointee.data).drain()
        }
        asyncHandle.pointee.data = context
        uv_prepare_init(loop, prepareHandle)
        prepareHandle.pointee.data = context
        uv_prepare_start(prepareHandle) { handle in LoopExecutor.from(handle!.pointee.data).drain() }
        uv_check_init(loop, checkHandle)
        checkHandle.pointee.data = context
        uv_check_start(checkHandle) { handle in LoopExecutor.from(handle!.pointee.data).drain() }
        // Prepare and check handles must not keep the loop alive on their own; the async
        // handle does that until the loop is shut down.
        uv_unref(rill_prepare_as_handle(prepareHandle))
        uv_unref(rill_check_as_handle(checkHandle))
        uv_idle_init(loop, idleHandle)
        idleHandle.pointee.data = context
    }

    /// Closes the executor's handles. Called on the loop thread during shutdown; the memory is
    /// freed in the close callbacks.
    func uninstall() {
        uv_close(rill_async_as_handle(asyncHandle)) { $0!.deallocate() }
        uv_close(rill_prepare_as_handle(prepareHandle)) { $0!.deallocate() }
        uv_close(rill_check_as_handle(checkHandle)) { $0!.deallocate() }
        uv_close(rill_idle_as_handle(idleHandle)) { $0!.deallocate() }
    }

    private static func from(_ pointer: UnsafeMutableRawPointer?) -> LoopExecutor {
        Unmanaged<LoopExecutor>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// Whether the calling thread is this loop's thread.
    @inline(__always)
    public var isOnLoopThread: Bool { pthread_equal(pthread_self(), loopThread) != 0 }

    /// Enqueues a job of a task whose executor preference is this loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(QueuedJob(job: UnownedJob(job), isolated: false))
    }

    func enqueue(_ job: QueuedJob) {
        if isOnLoopThread {
            localEnqueueCount &+= 1
            local.append(job)
            return
        }
        crossThreadEnqueueCount.add(1, ordering: .relaxed)
        let wasEmpty = remote.withLock { queue in
            defer { queue.append(job) }
            return queue.isEmpty
        }
        if wasEmpty {
            hasRemote.store(true, ordering: .releasing)
            uv_async_send(asyncHandle)
        }
    }

    /// The loop's serial executor (see ``serialExecutor``).
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        serialExecutor.asUnownedSerialExecutor()
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Stops the process unless called on the loop's thread.
    public func checkIsolated() {
        precondition(isOnLoopThread, "expected to run on the event loop's thread")
    }

    func setClosureSource(_ loop: EventLoop) { closureSource = loop }

    /// Wakes the loop from another thread.
    func wakeUp() {
        hasRemote.store(true, ordering: .releasing)
        uv_async_send(asyncHandle)
    }

    func addDrainObserver(_ body: @escaping () -> Bool) -> Int {
        nextDrainObserverID += 1
        drainObservers.append((nextDrainObserverID, body))
        return nextDrainObserverID
    }

    func removeDrainObserver(_ id: Int) {
        drainObservers.removeAll { $0.id == id }
    }

    /// Runs queued jobs until the queue is empty or the budget is spent, then the drain
    /// observers.
    func drain() {
        closureSource?.drainClosures()
        if hasRemote.load(ordering: .acquiring) {
            hasRemote.store(false, ordering: .relaxed)
            remote.withLock { queue in
                local.append(contentsOf: queue)
                queue.removeAll(keepingCapacity: true)
            }
        }
        var budget = Self.jobsPerDrainBudget
        let serial = asUnownedSerialExecutor()
        let taskExecutor = asUnownedTaskExecutor()
        while !local.isEmpty && budget > 0 {
            swap(&local, &running)
            budget -= running.count
            for queued in running {
                if queued.isolated {
                    queued.job.runSynchronously(isolatedTo: serial, taskExecutor: taskExecutor)
                } else {
                    queued.job.runSynchronously(on: taskExecutor)
                }
            }
            running.removeAll(keepingCapacity: true)
        }
        var observersHaveMore = false
        for observer in drainObservers where observer.body() { observersHaveMore = true }
        // Work left over: keep poll from blocking so the next iteration runs it after I/O.
        let pending = observersHaveMore || !local.isEmpty || hasRemote.load(ordering: .relaxed) || (closureSource?.hasPendingClosures ?? false)
        if pending && !idleActive {
            idleActive = true
            uv_idle_start(idleHandle) { handle in LoopExecutor.from(handle!.pointee.data).drain() }
        } else if !pending && idleActive {
            idleActive = false
            uv_idle_stop(idleHandle)
        }
    }
}

/// The serial-executor role of a ``LoopExecutor``: its jobs go to the same queue and run
/// isolated to it, on the loop's thread.
public final class LoopSerialExecutor: SerialExecutor, @unchecked Sendable {
    /// Set once, by the owner's initializer, before the executor is shared.
    fileprivate unowned(unsafe) var owner: LoopExecutor!

    init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        owner.enqueue(LoopExecutor.QueuedJob(job: UnownedJob(job), isolated: true))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func isSameExclusiveExecutionContext(other: LoopSerialExecutor) -> Bool { self === other }

    public func checkIsolated() { owner.checkIsolated() }

    public func isIsolatingCurrentContext() -> Bool? { owner.isOnLoopThread }
}
