internal import CLibUV
import Synchronization

/// A `Mutex` whose lock and unlock ThreadSanitizer can see.
///
/// `Synchronization.Mutex` locks a futex word inside the precompiled, uninstrumented
/// Synchronization library (Swift 6.3.1 on Linux), so ThreadSanitizer sees neither its acquire
/// nor its release: every pair of accesses made under one `Mutex` from two threads — and every
/// value handed from one thread to another through it — is reported as a race
/// (`Tests/sanitizers/MutexRepro.swift` shows it without Rill). This wrapper brackets each
/// critical section with ThreadSanitizer's acquire/release annotations on an address private
/// to the lock, so the happens-before edge the futex creates is visible to the sanitizer. In a
/// build without `-sanitize=thread` the annotations are a not-taken branch on a null weak
/// symbol.
///
/// Used for every lock of Rill's that orders a hand-off between threads (the loop's cross-thread
/// inbox, the application's state, the loop's exit waiters).
package struct SanitizerVisibleMutex<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    /// Gives the lock an address of its own for the annotations (the `Mutex` storage is not
    /// addressable from outside).
    private final class Identity: Sendable {}

    private let mutex: Mutex<Value>
    private let identity = Identity()

    /// A lock guarding `initialValue`.
    package init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with exclusive access to the guarded value.
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let address = Unmanaged.passUnretained(identity).toOpaque()
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            rill_tsan_acquire(address)
            defer { rill_tsan_release(address) }
            return try body(&value)
        }
    }
}
