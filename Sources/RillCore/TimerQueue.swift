internal import CLibUV

/// Every timer of one loop, in a binary min-heap driven by a single `uv_timer_t`.
///
/// Why not one `uv_timer_t` per timer: thousands of connections each with a heartbeat and a
/// timeout would mean thousands of handles (each ~150 bytes plus libuv's own heap). Here a timer
/// is one heap entry. Cancelling removes the entry at once (each timer knows its index): with
/// lazy removal, a connection's idle timeout replaced by a heartbeat stayed in the heap for the
/// whole timeout, so 15,000 connections/s of churn kept ~900,000 dead entries (≈65 MB) and every
/// heap operation walked them.
///
/// An entry is a ``TimerTarget``: a ``ScheduledTimer`` (a closure), or a long-lived object that
/// is its own timer — a connection, whose one timer is armed and re-armed for its whole life
/// without allocating a timer object and a closure context each time.
final class TimerQueue {
    private struct Entry {
        var deadlineMilliseconds: UInt64
        var sequence: UInt64
        var target: any TimerTarget
    }

    /// Unchecked exclusivity: loop-confined, and no heap operation calls out while it mutates
    /// the heap (a target fires only after its entry left it).
    @exclusivity(unchecked) private var heap: [Entry] = []
    private var nextSequence: UInt64 = 0
    private var armedDeadline: UInt64?
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private let loop: UnsafeMutablePointer<uv_loop_t>
    private var installed = false

    init(loop: UnsafeMutablePointer<uv_loop_t>) {
        self.loop = loop
        handle = .allocate(capacity: 1)
    }

    func install() {
        uv_timer_init(loop, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        // Timers alone do not keep the loop running; servers and pending work do.
        uv_unref(rill_timer_as_handle(handle))
        installed = true
    }

    func uninstall() {
        guard installed else { return }
        installed = false
        for entry in heap {
            entry.target.timerQueueSlot = -1
            (entry.target as? ScheduledTimer)?.callback = nil
        }
        heap.removeAll()
        uv_close(rill_timer_as_handle(handle)) { $0!.deallocate() }
    }

    var count: Int { heap.count }

    /// The loop's clock in milliseconds (libuv caches it once per iteration).
    var nowMilliseconds: UInt64 { uv_now(loop) }

    func schedule(after delay: Duration, _ callback: @escaping () -> Void) -> ScheduledTimer {
        let timer = ScheduledTimer(callback: callback)
        schedule(timer, at: nowMilliseconds + delay.millisecondsRoundingUp)
        return timer
    }

    func schedule(_ timer: ScheduledTimer, at deadline: UInt64) {
        timer.queue = self
        schedule(target: timer, at: deadline)
    }

    /// Schedules `target` to fire at `deadline`, or moves its deadline there if it is already
    /// scheduled.
    func schedule(target: any TimerTarget, at deadline: UInt64) {
        if target.timerQueueSlot >= 0 {
            reschedule(target, at: deadline)
            return
        }
        precondition(installed, "timer scheduled on a loop that is shut down")
        heap.append(Entry(deadlineMilliseconds: deadline, sequence: nextSequence, target: target))
        target.timerQueueSlot = heap.count - 1
        nextSequence &+= 1
        siftUp(heap.count - 1)
        rearm()
    }

    /// A pass of due timers is running (see ``fire()``).
    private var firing = false

    /// - Parameter minimumDelayMilliseconds: 1 when re-arming at the end of a pass: libuv runs
    ///   a timer restarted with no delay from its own callback again at once, in the same pass.
    private func rearm(minimumDelayMilliseconds: UInt64 = 0) {
        guard installed, !firing else { return }
        guard let first = heap.first else {
            if armedDeadline != nil {
                uv_timer_stop(handle)
                armedDeadline = nil
            }
            return
        }
        if armedDeadline == first.deadlineMilliseconds { return }
        armedDeadline = first.deadlineMilliseconds
        let now = nowMilliseconds
        let delay = max(minimumDelayMilliseconds, first.deadlineMilliseconds > now ? first.deadlineMilliseconds - now : 0)
        uv_timer_start(
            handle,
            { handle in
                Unmanaged<TimerQueue>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
            }, delay, 0)
    }

    private func fire() {
        armedDeadline = nil
        let now = nowMilliseconds
        // Entries scheduled (or moved) by the callbacks of this pass wait for the next one, so a
        // timer that schedules itself again with no delay cannot hold the loop in this pass
        // forever: I/O and queued work run between passes.
        let firstSequenceOfThisPass = nextSequence
        // No re-arming from the callbacks: the pass re-arms once, at its end.
        firing = true
        while let first = heap.first, first.deadlineMilliseconds <= now, first.sequence < firstSequenceOfThisPass {
            remove(at: 0)
            first.target.timerFired()
        }
        firing = false
        rearm(minimumDelayMilliseconds: 1)
    }

    /// Moves a pending timer's entry to `deadline` (ordered after the entries already due then).
    func reschedule(_ target: any TimerTarget, at deadline: UInt64) {
        let index = target.timerQueueSlot
        guard index >= 0, index < heap.count, heap[index].target === target else { return }
        heap[index].deadlineMilliseconds = deadline
        heap[index].sequence = nextSequence
        nextSequence &+= 1
        siftDown(index)
        siftUp(target.timerQueueSlot)
        rearm()
    }

    /// Removes a cancelled timer's entry and re-arms the libuv timer if the first one changed.
    func cancel(_ target: any TimerTarget) {
        let index = target.timerQueueSlot
        guard index >= 0, index < heap.count, heap[index].target === target else { return }
        remove(at: index)
        if index == 0 { rearm() }
    }

    private func remove(at index: Int) {
        heap[index].target.timerQueueSlot = -1
        let last = heap.removeLast()
        guard index < heap.count else { return }
        heap[index] = last
        last.target.timerQueueSlot = index
        siftDown(index)
        siftUp(index)
    }

    private func swapEntries(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].target.timerQueueSlot = a
        heap[b].target.timerQueueSlot = b
    }

    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.deadlineMilliseconds != b.deadlineMilliseconds
            ? a.deadlineMilliseconds < b.deadlineMilliseconds : a.sequence < b.sequence
    }

    private func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { return }
            swapEntries(child, parent)
            child = parent
        }
    }

    private func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count && precedes(heap[left + 1], heap[left]) { smallest = left + 1 }
            guard precedes(heap[smallest], heap[parent]) else { return }
            swapEntries(smallest, parent)
            parent = smallest
        }
    }
}

/// An object that a loop's timer queue fires by calling ``timerFired()``: one that owns a single
/// timer for a long life (a connection) conforms instead of holding a ``ScheduledTimer``, so
/// that arming it allocates nothing. Schedule it with `EventLoop.schedule(_:at:)`. Loop-confined.
package protocol TimerTarget: AnyObject {
    /// The target's place in the timer queue; -1 when not scheduled. Only the queue sets it;
    /// a conforming type stores it, starting at -1.
    var timerQueueSlot: Int { get set }
    /// The deadline passed. The target is no longer scheduled.
    func timerFired()
}

/// A callback scheduled on an `EventLoop`'s timer queue. Loop-confined.
public final class ScheduledTimer: TimerTarget, @unchecked Sendable {
    fileprivate(set) var callback: (() -> Void)?
    fileprivate unowned(unsafe) var queue: TimerQueue?
    @exclusivity(unchecked) package var timerQueueSlot = -1

    init(callback: @escaping () -> Void) { self.callback = callback }

    package func timerFired() {
        guard let callback else { return }
        self.callback = nil
        callback()
    }

    /// Whether the timer has neither fired nor been cancelled.
    public var isPending: Bool { callback != nil }

    /// Moves the deadline of a timer that has neither fired nor been cancelled to `delay` from
    /// now, earlier or later, without a new timer. Must be called on the loop's thread.
    /// - Returns: false, changing nothing, if the timer already fired or was cancelled.
    @discardableResult
    public func reschedule(after delay: Duration) -> Bool {
        guard callback != nil, let queue else { return false }
        queue.reschedule(self, at: queue.nowMilliseconds + delay.millisecondsRoundingUp)
        return true
    }

    /// Cancels the timer if it has not fired. Must be called on the loop's thread.
    public func cancel() {
        guard callback != nil else { return }
        callback = nil
        queue?.cancel(self)
    }
}
