import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A running `SSETestServer` subprocess on 127.0.0.1 and a port the kernel picked.
struct TestServer: Sendable {
    /// The bound port, read from the server's `listening on http://HOST:PORT` line.
    let port: Int
    /// `http://127.0.0.1:PORT`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    fileprivate let process: ServerProcess
    fileprivate let standardErrorURL: URL

    /// Sends SIGTERM (graceful shutdown) now; ``withTestServer(arguments:sourceLocation:_:)``
    /// still waits for the exit and checks its status.
    func terminate() {
        process.terminate()
    }

    /// What the server logged to stderr so far (for failure messages).
    var standardError: String { (try? String(contentsOf: standardErrorURL, encoding: .utf8)) ?? "" }
}

/// The child process, and whether it was sent SIGTERM already: a second SIGTERM during a
/// graceful shutdown may kill the server (its signal handlers are gone by then), so it is sent
/// once.
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
    let server = try await startTestServer(arguments: arguments)
    defer { try? FileManager.default.removeItem(at: server.standardErrorURL) }
    let result: T
    do {
        result = try await body(server)
    } catch {
        _ = try? await stop(server)
        throw error
    }
    let exit = try await stop(server)
    #expect(
        exit == "exit status 0", "SSETestServer's end after SIGTERM: \(exit)\n--- its log ---\n\(server.standardError)",
        sourceLocation: sourceLocation)
    return result
}

private func startTestServer(arguments: [String]) async throws -> TestServer {
    let executable = try Paths.testServer()
    let standardErrorURL = FileManager.default.temporaryDirectory
        .appendingPathComponent("rill-sse-test-server-\(UUID().uuidString).stderr")
    _ = FileManager.default.createFile(atPath: standardErrorURL.path, contents: nil)
    let errorHandle = try FileHandle(forWritingTo: standardErrorURL)
    defer { try? errorHandle.close() }

    let process = Process()
    process.executableURL = executable
    process.arguments = ["--host", "127.0.0.1", "--port", "0"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = errorHandle
    process.standardInput = FileHandle.nullDevice
    try process.run()

    let boxedProcess = ServerProcess(process)
    let boxedOutput = UncheckedSendable(value: output)
    let line = try await onDedicatedThread("SSETestServer startup") {
        try readLine(from: boxedOutput.value.fileHandleForReading.fileDescriptor, timeout: .seconds(20))
    }
    let prefix = "listening on http://"
    guard let line, line.hasPrefix(prefix), let colon = line.lastIndex(of: ":"),
        let port = Int(line[line.index(after: colon)...]), port > 0
    else {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let log = (try? String(contentsOf: standardErrorURL, encoding: .utf8)) ?? ""
        throw HarnessError("SSETestServer printed \(line.map { "\"\($0)\"" } ?? "no line") instead of \"\(prefix)HOST:PORT\"\n\(log)")
    }
    return TestServer(port: port, process: boxedProcess, standardErrorURL: standardErrorURL)
}

/// SIGTERM (unless sent already), then wait; SIGKILL after 10 s. Returns how it ended:
/// "exit status 0" for a clean graceful shutdown.
private func stop(_ server: TestServer) async throws -> String {
    let serverProcess = server.process
    return try await onDedicatedThread("SSETestServer shutdown") {
        serverProcess.terminate()
        let process = serverProcess.process
        guard waitForExit(process, timeout: .seconds(10)) else { return "still running 10 s after SIGTERM: killed" }
        return process.terminationReason == .exit
            ? "exit status \(process.terminationStatus)" : "killed by signal \(process.terminationStatus)"
    }
}

/// Reads one LF-terminated line from `fd` (blocking, with poll), or nil at EOF or after `timeout`.
private func readLine(from fd: Int32, timeout: Duration) throws -> String? {
    let deadline = ContinuousClock.now + timeout
    var bytes: [UInt8] = []
    while true {
        let remaining = deadline - ContinuousClock.now
        if remaining <= .zero { return nil }
        var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, Int32(min(remaining.components.seconds * 1000 + 1, 1000)))
        if ready < 0 && errno != EINTR { throw HarnessError("poll failed: errno \(errno)") }
        if ready <= 0 { continue }
        var byte: UInt8 = 0
        let count = read(fd, &byte, 1)
        if count <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
        if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
        bytes.append(byte)
    }
}
