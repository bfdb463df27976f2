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
///   The send happens under the queue's lock, which shutdown takes before it closes the wakeup
///   handle: nothing is ever sent to a closed handle. A job enqueued from another thread after
///   the loop stopped is dropped (its task never resumes) and counted in ``droppedJobCount``.
/// - Each drain has a budget, ``jobsPerDrainBudget``, shared by jobs and `EventLoop.execute`
///   closures; when work remains, an idle handle keeps the loop from blocking in poll so I/O
///   is still serviced between batches.
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
    /// The most jobs and `EventLoop.execute` closures one drain runs (whole batches: a batch
    /// that crosses it completes) before it lets libuv poll for I/O again.
    public static let jobsPerDrainBudget = 4096

    /// A job and the role it was enqueued for.
    struct QueuedJob {
        let job: UnownedJob
        /// Enqueued on ``serialExecutor``: runs isolated to it.
        let isolated: Bool
    }

    /// What other threads submitted and the loop has not taken yet.
    struct CrossThreadInbox {
        var jobs: [QueuedJob] = []
        /// `EventLoop.execute` closures; those before `closureHead` were taken already.
        var closures: [@Sendable () -> Void] = []
        var closureHead = 0
        /// False once the loop closes its wakeup handle: later submissions are refused.
        var isOpen = true

        var pendingClosureCount: Int { closures.count - closureHead }
        var isEmpty: Bool { jobs.isEmpty && closureHead == closures.count }
    }

    /// Why a closure submitted from another thread was not queued.
    enum Refusal {
        /// The loop is stopping or stopped.
        case stopped
        /// ``EventLoop/maxPendingCrossThreadClosures`` closures are waiting already.
        case full
    }

    private var local: [QueuedJob] = []
    private var running: [QueuedJob] = []
    private var localClosures: [() -> Void] = []
    private var runningClosures: [() -> Void] = []
    private let remote = SanitizerVisibleMutex<CrossThreadInbox>(CrossThreadInbox())
    private let hasRemote = Atomic<Bool>(false)
    /// Set on the loop thread when shutdown closes the handles: no idle handle or observer after.
    private var isUninstalled = false
    let maxPendingCrossThreadClosures: Int
    private var loopThread: pthread_t
    private let loopThreadFinished = Atomic<Bool>(false)

    let asyncHandle: UnsafeMutablePointer<uv_async_t>
    let prepareHandle: UnsafeMutablePointer<uv_prepare_t>
    let checkHandle: UnsafeMutablePointer<uv_check_t>
    let idleHandle: UnsafeMutablePointer<uv_idle_t>
    private var idleActive = false

    /// How many jobs were enqueued from threads other than the loop's (each may cost a wakeup).
    public let crossThreadEnqueueCount = Atomic<Int>(0)
    /// Jobs enqueued from another thread after the loop stopped, or left queued when it exited:
    /// never run, so their tasks never resume (0 unless work outlives its loop).
    public let droppedJobCount = Atomic<Int>(0)
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

    /// Work that runs at the end of every drain, after the jobs (see
    /// ``EventLoop/addDrainObserver(_:)``).
    private var drainObservers: [(id: Int, body: () -> Bool)] = []
    private var nextDrainObserverID = 0

    init(loop: UnsafeMutablePointer<uv_loop_t>, thread: pthread_t, maxPendingCrossThreadClosures: Int) {
        loopThread = thread
        self.maxPendingCrossThreadClosures = maxPendingCrossThreadClosures
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

    /// Shutdown, first step (loop thread): from now on work from other threads is refused —
    /// the inbox is closed under the lock every wakeup is sent under, so no thread touches the
    /// wakeup handle after this — and what was accepted before moves to the loop-thread queues.
    func closeInbox() {
        remote.withLock { inbox in
            inbox.isOpen = false
            local.append(contentsOf: inbox.jobs)
            for index in inbox.closureHead..<inbox.closures.count { localClosures.append(inbox.closures[index]) }
            inbox = CrossThreadInbox(isOpen: false)
        }
        hasRemote.store(false, ordering: .relaxed)
    }

    /// Shutdown, second step: runs every queued closure and job, with no budget, while the
    /// loop's handles are still open. Called from a closure the drain runs (it leaves the
    /// drain's own batch alone).
    func runAllQueuedWork() {
        let serial = asUnownedSerialExecutor()
        let taskExecutor = asUnownedTaskExecutor()
        // Bounded: work that keeps queueing more is dropped (and counted) when the loop exits.
        var rounds = 0
        while (!localClosures.isEmpty || !local.isEmpty) && rounds < 64 {
            rounds += 1
            let closures = localClosures
            localClosures = []
            for body in closures { body() }
            let jobs = local
            local = []
            for queued in jobs {
                if queued.isolated {
                    queued.job.runSynchronously(isolatedTo: serial, taskExecutor: taskExecutor)
                } else {
                    queued.job.runSynchronously(on: taskExecutor)
                }
            }
        }
    }

    /// Closes the executor's handles: the last step of shutdown, on the loop thread. The memory
    /// is freed in the close callbacks. Work queued after this is dropped and counted.
    func uninstall() {
        isUninstalled = true
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
    ///
    /// False on every thread once the loop thread has finished: glibc gives a finished thread's
    /// `pthread_t` to the next thread created, which must not pass for the loop's.
    public var isOnLoopThread: Bool {
        !loopThreadFinished.load(ordering: .acquiring) && pthread_equal(pthread_self(), loopThread) != 0
    }

    /// Called on the loop thread as it finishes, before the threads waiting for it wake (see
    /// ``isOnLoopThread``).
    func loopThreadWillFinish() {
        loopThreadFinished.store(true, ordering: .releasing)
    }

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
        let accepted = remote.withLock { inbox -> Bool in
            guard inbox.isOpen else { return false }
            let wasEmpty = inbox.isEmpty
            inbox.jobs.append(job)
            if wasEmpty { wakeUpLocked() }
            return true
        }
        if !accepted { droppedJobCount.add(1, ordering: .relaxed) }
    }

    /// Queues an `EventLoop.execute` closure submitted on the loop thread. No lock.
    func enqueueLocalClosure(_ body: @escaping () -> Void) {
        localClosures.append(body)
    }

    /// Queues a closure submitted from another thread; nil when queued, else why not.
    func enqueueCrossThreadClosure(_ body: @escaping @Sendable () -> Void, ignoringLimit: Bool = false) -> Refusal? {
        remote.withLock { inbox -> Refusal? in
            guard inbox.isOpen else { return .stopped }
            guard ignoringLimit || inbox.pendingClosureCount < maxPendingCrossThreadClosures else { return .full }
            let wasEmpty = inbox.isEmpty
            inbox.closures.append(body)
            if wasEmpty { wakeUpLocked() }
            return nil
        }
    }

    /// Wakes the loop. Called with the inbox locked and open, so the handle is alive: shutdown
    /// closes the inbox under the same lock before it closes the handle.
    private func wakeUpLocked() {
        hasRemote.store(true, ordering: .releasing)
        uv_async_send(asyncHandle)
    }

    /// Releases what can no longer run once the loop thread left `uv_run`, counting it;
    /// returns the closures released. Called on the loop thread as it exits.
    func discardLeftovers() -> Int {
        let closures = localClosures.count
        droppedJobCount.add(local.count, ordering: .relaxed)
        local.removeAll()
        localClosures.removeAll()
        return closures
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

    func addDrainObserver(_ body: @escaping () -> Bool) -> Int {
        nextDrainObserverID += 1
        drainObservers.append((nextDrainObserverID, body))
        return nextDrainObserverID
    }

    func removeDrainObserver(_ id: Int) {
        drainObservers.removeAll { $0.id == id }
    }

    /// Runs queued closures, then jobs, until both are empty or the budget is spent, then the
    /// drain observers. Closures from other threads are taken no more than the budget allows;
    /// the rest stay queued, in order, for the next drain.
    func drain() {
        var budget = Self.jobsPerDrainBudget
        if hasRemote.load(ordering: .acquiring) {
            hasRemote.store(false, ordering: .relaxed)
            let room = max(0, budget - localClosures.count)
            remote.withLock { inbox in
                if !inbox.jobs.isEmpty {
                    local.append(contentsOf: inbox.jobs)
                    inbox.jobs.removeAll(keepingCapacity: true)
                }
                let end = inbox.closureHead + min(room, inbox.pendingClosureCount)
                // Element by element: an array cast between function types that differ only in
                // `@Sendable` fails at run time.
                for index in inbox.closureHead..<end { localClosures.append(inbox.closures[index]) }
                inbox.closureHead = end
                if end == inbox.closures.count {
                    inbox.closures.removeAll(keepingCapacity: true)
                    inbox.closureHead = 0
                } else {
                    // Left for the next drain; compact once the taken prefix is the larger part.
                    if end > inbox.closures.count / 2 {
                        inbox.closures.removeFirst(end)
                        inbox.closureHead = 0
                    }
                    hasRemote.store(true, ordering: .relaxed)
                }
            }
        }
        while !localClosures.isEmpty && budget > 0 {
            swap(&localClosures, &runningClosures)
            budget -= runningClosures.count
            for body in runningClosures { body() }
            runningClosures.removeAll(keepingCapacity: true)
        }
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
        if isUninstalled { return }
        var observersHaveMore = false
        for observer in drainObservers where observer.body() { observersHaveMore = true }
        // Work left over: keep poll from blocking so the next iteration runs it after I/O.
        let pending = observersHaveMore || !local.isEmpty || !localClosures.isEmpty || hasRemote.load(ordering: .relaxed)
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
