internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

/// Watches a process signal (SIGINT, SIGTERM…) on an event loop and calls a closure on the loop
/// thread each time it arrives. Loop-confined.
///
/// - Important: call ``cancel()`` when done; the handle is freed in libuv's close callback.
public final class SignalWatcher: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<uv_signal_t>
    private let onSignal: () -> Void
    private var cancelled = false

    /// Starts watching `signal` on `loop` (call on the loop thread). The watcher does not keep
    /// the loop alive by itself.
    public init(loop: EventLoop, signal: Int32, onSignal: @escaping () -> Void) throws(UVError) {
        loop.preconditionInEventLoop()
        self.onSignal = onSignal
        // A process started by a parent that blocked this signal (some supervisors, test
        // runners' worker threads) inherits the block; the loop thread must be able to take it.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        handle = .allocate(capacity: 1)
        try UVError.check(uv_signal_init(loop.uvLoop, handle), "uv_signal_init")
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let rc = uv_signal_start(
            handle,
            { handle, _ in
                Unmanaged<SignalWatcher>.fromOpaque(handle!.pointee.data).takeUnretainedValue().onSignal()
            }, signal)
        uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
        if rc < 0 {
            cancel()
            throw UVError(rc, "uv_signal_start")
        }
    }

    /// Stops watching and frees the handle. Idempotent; loop thread only.
    public func cancel() {
        guard !cancelled else { return }
        cancelled = true
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            let pointer = UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_signal_t.self)
            Unmanaged<SignalWatcher>.fromOpaque(pointer.pointee.data).release()
            pointer.deallocate()
        }
    }
}
