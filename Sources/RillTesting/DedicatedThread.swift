#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking work (a ``RawConnection`` conversation) on a new thread of its own and awaits
/// its result, so the Swift concurrency pool is never blocked by socket calls.
///
/// The cooperative pool has as many threads as cores; a test that blocks one in `recv` stalls
/// every other task of the test run, including the ones the test is waiting for.
///
/// ```swift
/// let response = try await onDedicatedThread {
///     let connection = try RawConnection(port: port)
///     try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
///     return try connection.readResponse()
/// }
/// ```
public func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let work = ThreadWork { continuation.resume(with: Result { try body() }) }
        let context = Unmanaged.passRetained(work).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<ThreadWork>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        if rc == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<ThreadWork>.fromOpaque(context).release()
            continuation.resume(throwing: TestClientError.system(call: "pthread_create", errno: rc))
        }
    }
}

private final class ThreadWork: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
