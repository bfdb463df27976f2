import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The names of a process's threads (`/proc/PID/task/*/comm`, Linux), sorted; empty when the
/// process is gone or there is no /proc.
package func threadNames(of pid: pid_t) -> [String] {
    let directory = "/proc/\(pid)/task"
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
    return tasks.compactMap { try? String(contentsOfFile: "\(directory)/\($0)/comm", encoding: .utf8) }
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.sorted()
}

/// What an example executable did with a command line it should refuse.
package struct Refusal: Sendable {
    /// How it ended ("exit status 64"), nil when it still ran after 15 s (it was then killed).
    package var ended: String?
    package var standardOutput: String
    package var standardError: String

    /// Whether it refused: it ended with a failure status, said why on stderr, and never listened.
    package var refused: Bool { ended != nil && ended != "exit status 0" && !standardError.isEmpty && !standardOutput.contains("listening on") }
}

/// Runs the example `product` with `arguments` (no `--port 0` added) until it exits, at most 15 s.
package func runRefusing(_ product: String, arguments: [String]) async throws -> Refusal {
    let process = try ChildProcess([try productExecutable(product)] + arguments, logPrefix: "\(product.lowercased())-invalid")
    let ended = try await withDeadline(.seconds(20), "\(product) \(arguments)") { process.waitForExit(timeout: .seconds(15)) }
    return Refusal(ended: ended, standardOutput: process.standardOutput, standardError: process.standardError)
}
