internal import CLibUV

extension EventLoop {
    /// Timers scheduled and neither fired nor cancelled (cancelling removes the entry at once).
    /// Loop thread only.
    package var pendingTimerCount: Int { timers.count }

    /// Runs `body` on the loop after `delay` (millisecond resolution, rounded up).
    ///
    /// - Important: call on the loop's thread; the returned timer is loop-confined too.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> ScheduledTimer {
        preconditionInEventLoop()
        return timers.schedule(after: delay, body)
    }

    /// The loop's monotonic clock in milliseconds, as libuv caches it for the current iteration.
    /// Schedules `target` to fire when the loop's clock (``nowMilliseconds``) reaches
    /// `deadlineMilliseconds`, or moves it there if it is already scheduled. The queue holds
    /// `target` strongly until it fires or is cancelled. Loop thread only.
    package func schedule(_ target: any TimerTarget, at deadlineMilliseconds: UInt64) {
        preconditionInEventLoop()
        timers.schedule(target: target, at: deadlineMilliseconds)
    }

    /// Takes `target` off the timer queue if it is scheduled. Loop thread only.
    package func cancelTimer(of target: any TimerTarget) {
        preconditionInEventLoop()
        timers.cancel(target)
    }

    public var nowMilliseconds: UInt64 { timers.nowMilliseconds }

    /// Suspends the calling task for `duration` using the loop's timer queue.
    ///
    /// Unlike `Task.sleep`, resuming costs no cross-thread wakeup when the task runs on this
    /// loop. Throws `CancellationError` as soon as the task is cancelled, and a `UVError`
    /// (`ECANCELED`) when called from another thread on a loop that refuses work (stopped, or
    /// its cross-thread queue full).
    public func sleep(for duration: Duration) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let start = { [self] in
                    sleeper.continuation = continuation
                    if sleeper.cancelled {
                        sleeper.finish(throwing: CancellationError())
                        return
                    }
                    sleeper.timer = self.timers.schedule(after: duration) { sleeper.finish(throwing: nil) }
                }
                if inEventLoop {
                    start()
                } else if !execute(UncheckedBox(start).call) {
                    continuation.resume(throwing: UVError(Int32(UV_ECANCELED.rawValue), "sleeping on a loop that refused work"))
                }
            }
        } onCancel: {
            let cancel = { [self] in
                sleeper.cancelled = true
                sleeper.timer?.cancel()
                sleeper.finish(throwing: CancellationError())
                _ = self
            }
            // Cleanup: not refused for a full queue (the sleeper's timer would stay queued).
            if inEventLoop { cancel() } else { executeBypassingLimit(UncheckedBox(cancel).call) }
        }
    }
}

/// Loop-confined state of one `sleep`; every access happens on the loop thread.
private final class Sleeper: @unchecked Sendable {
    var continuation: UnsafeContinuation<Void, any Error>?
    var timer: ScheduledTimer?
    var cancelled = false

    func finish(throwing error: (any Error)?) {
        guard let continuation else { return }
        self.continuation = nil
        if let error { continuation.resume(throwing: error) } else { continuation.resume() }
    }
}

/// Carries a loop-confined closure to the loop thread, where it is called.
struct UncheckedBox: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    var call: @Sendable () -> Void { { body() } }
}
