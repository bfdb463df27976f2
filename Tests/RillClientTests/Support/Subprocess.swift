import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished child process left behind.
struct ProcessOutput: Sendable {
    var status: Int32
    var reason: Process.TerminationReason
    var standardOutput: String
    var standardError: String
    var timedOut: Bool

    /// For `#expect` messages: the command's outcome and everything it printed.
    var summary: String {
        let outcome = timedOut ? "timed out" : "exited with \(reason == .exit ? "status" : "signal") \(status)"
        return "\(outcome)\n--- stdout ---\n\(standardOutput)\n--- stderr ---\n\(standardError)"
    }
}

/// Runs `arguments` (the first is the executable) to completion, at most `timeout` long; a command
/// still running then is killed. Its output goes to temporary files, so a chatty command can
/// never block on a full pipe.
func runProcess(
    _ arguments: [String], environment: [String: String] = [:], timeout: Duration
) async throws -> ProcessOutput {
    try await onDedicatedThread("run \(arguments.first ?? "")") {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rill-client-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let timedOut = !waitForExit(process, timeout: timeout)
        return ProcessOutput(
            status: process.terminationStatus, reason: process.terminationReason,
            standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
            timedOut: timedOut)
    }
}

/// Waits (blocking) until `process` exits; after `timeout` sends SIGKILL and waits for that.
/// Returns whether it exited in time.
func waitForExit(_ process: Process, timeout: Duration) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now >= deadline {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        usleep(10_000)
    }
    process.waitUntilExit()  // lets Foundation record the termination status
    return true
}
