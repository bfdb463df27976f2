internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

/// A lock around a value, which ThreadSanitizer can see and which stays fast when more threads
/// want it than there are cores: a `pthread_mutex_t` (glibc's default kind).
///
/// Why not `Synchronization.Mutex`: on Linux (Swift 6.3.1) it locks a futex word inside the
/// precompiled, uninstrumented Synchronization library, so ThreadSanitizer sees neither its
/// acquire nor its release, and reports every pair of accesses made under one `Mutex` from two
/// threads as a race (`Tests/sanitizers/MutexRepro.swift` shows it without Rill). And it spins
/// about 30 µs before it sleeps, then hands the lock to a sleeping waiter when it unlocks: with
/// more threads wanting it than cores, spinners take the holder's CPU and every unlock waits
/// for a wakeup — measured with 8 publishing loops on 2 cores (`Benchmarks/Micro`, "Publish
/// contention"), one lock taken for ~0.4 µs gave 28–33 k acquisitions/s against 2.2–2.5 M
/// with a `pthread_mutex_t`, whose unlock lets a running thread take the lock at once.
/// ThreadSanitizer intercepts `pthread_mutex_lock`; the explicit acquire/release annotations
/// on an address private to the lock stay for builds where it would not.
///
/// Used for every lock of Rill's that orders a hand-off between threads (the loop's cross-thread
/// inbox, the in-memory broker's shared history, the application's state, the loop's exit
/// waiters).
package struct SanitizerVisibleMutex<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    /// The lock and the value, at a stable address.
    private final class Storage {
        let mutex: UnsafeMutablePointer<pthread_mutex_t>
        /// Only touched with the mutex held, so the runtime's dynamic exclusivity check on it
        /// could never fire: it is left out (one access-set entry per lock taken).
        @exclusivity(unchecked) var value: Value

        init(_ value: consuming Value) {
            self.value = value
            mutex = .allocate(capacity: 1)
            var attributes = pthread_mutexattr_t()
            pthread_mutexattr_init(&attributes)
            // glibc's adaptive kind (PTHREAD_MUTEX_ADAPTIVE_NP, 3): a short spin before sleeping.
            pthread_mutexattr_settype(&attributes, 3)
            precondition(pthread_mutex_init(mutex, &attributes) == 0, "pthread_mutex_init failed")
            pthread_mutexattr_destroy(&attributes)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }
    }

    private let storage: Storage

    /// A lock guarding `initialValue`.
    package init(_ initialValue: consuming sending Value) {
        storage = Storage(initialValue)
    }

    /// Runs `body` with exclusive access to the guarded value.
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let storage = self.storage
        let address = Unmanaged.passUnretained(storage).toOpaque()
        pthread_mutex_lock(storage.mutex)
        rill_tsan_acquire(address)
        defer {
            rill_tsan_release(address)
            pthread_mutex_unlock(storage.mutex)
        }
        return try body(&storage.value)
    }
}
