import Foundation

/// Runs blocking work (a `poll`, a process wait) on a thread of its own, so the tests never park
/// a thread of Swift's small cooperative pool that other tests and Rill's handlers need.
func onDedicatedThread<T: Sendable>(
    _ name: String, _ work: @escaping @Sendable () throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.name = name
        thread.start()
    }
}

/// A failure of the test harness itself (a server that did not start, a client that hung), with
/// a message that says what to look at.
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
