internal import CLibUV

/// Every timer of one loop, in a binary min-heap driven by a single `uv_timer_t`.
///
/// Why not one `uv_timer_t` per timer: thousands of connections each with a heartbeat and a
/// timeout would mean thousands of handles (each ~150 bytes plus libuv's own heap). Here a timer
/// is one heap entry; cancelling marks it and the heap drops it when it reaches the top.
final class TimerQueue {
    private struct Entry {
        var deadlineMilliseconds: UInt64
        var sequence: UInt64
        var timer: ScheduledTimer
    }

    private var heap: [Entry] = []
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
        for entry in heap { entry.timer.callback = nil }
        heap.removeAll()
        uv_close(rill_timer_as_handle(handle)) { $0!.deallocate() }
    }

    var count: Int { heap.count }

    /// The loop's clock in milliseconds (libuv caches it once per iteration).
    var nowMilliseconds: UInt64 { uv_now(loop) }

    func schedule(after delay: Duration, _ callback: @escaping () -> Void) -> ScheduledTimer {
        let timer = ScheduledTimer(callback: callback)
        schedule(timer, at: nowMilliseconds + Self.milliseconds(roundingUp: delay))
        return timer
    }

    func schedule(_ timer: ScheduledTimer, at deadline: UInt64) {
        precondition(installed, "timer scheduled on a loop that is shut down")
        timer.queue = self
        heap.append(Entry(deadlineMilliseconds: deadline, sequence: nextSequence, timer: timer))
        nextSequence &+= 1
        siftUp(heap.count - 1)
        rearm()
    }

    static func milliseconds(roundingUp duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 { return 0 }
        let fraction = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return UInt64(seconds) * 1000 + UInt64(max(0, fraction))
    }

    private func rearm() {
        guard installed else { return }
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
        let delay = first.deadlineMilliseconds > now ? first.deadlineMilliseconds - now : 0
        uv_timer_start(handle, { handle in
            Unmanaged<TimerQueue>.fromOpaque(handle!.pointee.data).takeUnretainedValue().fire()
        }, delay, 0)
    }

    private func fire() {
        armedDeadline = nil
        let now = nowMilliseconds
        while let first = heap.first, first.deadlineMilliseconds <= now {
            popFirst()
            if let callback = first.timer.callback {
                first.timer.callback = nil
                callback()
            }
        }
        // Drop cancelled entries sitting on top so the timer is not armed for nothing.
        while let first = heap.first, first.timer.callback == nil { popFirst() }
        rearm()
    }

    /// Removes cancelled entries from the top and re-arms the libuv timer if needed.
    func didCancel() {
        var changed = false
        while let first = heap.first, first.timer.callback == nil {
            popFirst()
            changed = true
        }
        if changed { rearm() }
    }

    private func popFirst() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
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
            heap.swapAt(child, parent)
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
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}

/// A callback scheduled on an `EventLoop`'s timer queue. Loop-confined.
public final class ScheduledTimer: @unchecked Sendable {
    fileprivate(set) var callback: (() -> Void)?
    fileprivate unowned(unsafe) var queue: TimerQueue?

    init(callback: @escaping () -> Void) { self.callback = callback }

    /// Whether the timer has neither fired nor been cancelled.
    public var isPending: Bool { callback != nil }

    /// Cancels the timer if it has not fired. Must be called on the loop's thread.
    public func cancel() {
        guard callback != nil else { return }
        callback = nil
        queue?.didCancel()
    }
}
