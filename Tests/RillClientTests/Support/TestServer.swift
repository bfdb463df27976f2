import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A running `SSETestServer` subprocess (an ``ExampleServer``).
typealias TestServer = ExampleServer

/// The child process, and whether it was sent SIGTERM already: a second SIGTERM during a
/// graceful shutdown closes every connection at once instead of letting them finish, so it is
/// sent once.
final class ServerProcess: @unchecked Sendable {
    let process: Process
    private let sentTerminate = Mutex(false)

    init(_ process: Process) { self.process = process }

    func terminate() {
        let first = sentTerminate.withLock { sent in
            defer { sent = true }
            return !sent
        }
        if first && process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }
}

/// A value whose only use crosses to a dedicated thread and back, never concurrently.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

/// Starts `SSETestServer --port 0`, runs `body` with it, then stops it with SIGTERM and expects a
/// clean exit (status 0 within 10 s). The server is killed whatever happens to `body`.
func withTestServer<T>(
    arguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (TestServer) async throws -> T
) async throws -> T {
    try await withExampleServer("SSETestServer", arguments: arguments, sourceLocation: sourceLocation, body)
}
