import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process spawned with `posix_spawn`, next to a watcher that SIGKILLs it as soon as the
/// test process is gone (a crashed or killed test run leaves nothing behind). It starts with an
/// empty signal mask and default dispositions: a thread of the concurrency pool blocks most
/// signals, and a child would inherit that (and then ignore SIGTERM).
package final class ChildProcess: @unchecked Sendable {
    package let pid: pid_t
    /// stdout and stderr, in files so a chatty child never blocks on a full pipe.
    package let standardOutputPath: String
    package let standardErrorPath: String
    private let exitStatus = Mutex<Int32?>(nil)

    package init(_ arguments: [String], logPrefix: String) throws {
        let base = FileManager.default.temporaryDirectory.path + "/rill-test-\(logPrefix)-\(getpid())-\(UUID().uuidString)"
        standardOutputPath = base + ".stdout"
        standardErrorPath = base + ".stderr"
        pid = try spawnWatched(arguments, standardOutput: standardOutputPath, standardError: standardErrorPath)
    }

    deinit {
        kill(SIGKILL)
        _ = waitForExit(timeout: .seconds(5))
        unlink(standardOutputPath)
        unlink(standardErrorPath)
    }

    package var standardOutput: String { (try? String(contentsOfFile: standardOutputPath, encoding: .utf8)) ?? "" }
    package var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }

    /// Whether the process has been reaped.
    package var hasExited: Bool { exitStatus.withLock { $0 != nil } || poll() != nil }

    /// Sends `signal` unless the process was reaped already.
    package func kill(_ signal: Int32) {
        exitStatus.withLock { status in
            if status == nil { _ = Glibc.kill(pid, signal) }
        }
    }

    /// Reaps the process if it exited; returns its raw wait status.
    private func poll() -> Int32? {
        exitStatus.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status
        }
    }

    /// Waits (blocking, polling) at most `timeout` for the exit; returns how it ended, or nil.
    package func waitForExit(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let raw = poll() {
                let signal = raw & 0x7f
                return signal == 0 ? "exit status \((raw >> 8) & 0xff)" : "killed by signal \(signal)"
            }
            if ContinuousClock.now >= deadline { return nil }
            usleep(10_000)
        }
    }
}

/// `$1` is the test process; the rest is the command line, which replaces the shell (same
/// pid, `$$`), next to a watcher that kills it once the test process is gone.
private let watchedLaunchScript = """
    parent=$1; shift
    (
      while kill -0 "$parent" 2>/dev/null; do
        kill -0 $$ 2>/dev/null || exit 0
        sleep 0.2
      done
      kill -9 $$ 2>/dev/null
    ) &
    exec "$@"
    """

/// Spawns `arguments` (see ``spawn(_:standardOutput:standardError:)``) next to a watcher that
/// SIGKILLs it as soon as the test process is gone; the pid is the command's own.
package func spawnWatched(_ arguments: [String], standardOutput: String = "/dev/null", standardError: String = "/dev/null") throws -> pid_t {
    try spawn(
        ["/bin/sh", "-c", watchedLaunchScript, "sh", String(getpid())] + arguments,
        standardOutput: standardOutput, standardError: standardError)
}

/// `posix_spawn` with an empty signal mask, default dispositions for the usual signals, stdin on
/// /dev/null and stdout/stderr into the given files (/dev/null unless named).
package func spawn(_ arguments: [String], standardOutput: String = "/dev/null", standardError: String = "/dev/null") throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
    guard rc == 0 else { throw HarnessError("posix_spawn \(arguments[0]): \(rc)") }
    return pid
}

/// A failure of the harness itself (a process that did not start, a read that hung).
package struct HarnessError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Runs blocking `work` on a thread of its own and returns its result, or throws after
/// `timeout`. On a timeout the thread is left to finish by itself (closing the socket it waits
/// on, at teardown, ends it): the test never waits longer than `timeout`.
package func withDeadline<T: Sendable>(
    _ timeout: Duration, _ what: String, _ work: @escaping @Sendable () throws -> T
) async throws -> T {
    let pending = PendingContinuation<T>()
    return try await withCheckedThrowingContinuation { continuation in
        pending.set(continuation)
        let thread = Thread {
            let result = Result { try work() }
            pending.take()?.resume(with: result)
        }
        thread.name = what
        thread.start()
        Task {
            try? await Task.sleep(for: timeout)
            pending.take()?.resume(throwing: HarnessError("timed out after \(timeout): \(what)"))
        }
    }
}

/// A continuation resumed once: by whichever of the work and the timer comes first.
package final class PendingContinuation<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    package func set(_ value: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = value } }
    package func take() -> CheckedContinuation<T, any Error>? { continuation.withLock { $0.take() } }
}

/// ``withDeadline(_:_:_:)`` for async `work`, run in a task of its own.
package func withAsyncDeadline<T: Sendable>(
    _ timeout: Duration, _ what: String, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    let pending = PendingContinuation<T>()
    return try await withCheckedThrowingContinuation { continuation in
        pending.set(continuation)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            pending.take()?.resume(with: result)
        }
        Task {
            try? await Task.sleep(for: timeout)
            pending.take()?.resume(throwing: HarnessError("timed out after \(timeout): \(what)"))
        }
    }
}

/// Where the build's products are: SwiftPM puts every product next to the test bundle,
/// whatever the scratch path.
package func productExecutable(_ name: String) throws -> String {
    var directories: [URL] = []
    if let executable = Bundle.main.executableURL {
        directories.append(executable.resolvingSymlinksInPath().deletingLastPathComponent())
    }
    if let first = CommandLine.arguments.first, first.contains("/") {
        directories.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
    }
    for directory in directories {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw HarnessError("\(name) not found in \(directories.map(\.path)); build it with `swift build --build-tests`")
}
