import Foundation
import Rill
import RillTesting
import Testing
import WebhookRelayCore

#if canImport(Glibc)
    import Glibc
#endif

/// The `WebhookRelay` executable itself, as a subprocess on 127.0.0.1 and a free port: the
/// secret from `WEBHOOK_SECRET` or `--secret`, the `listening on` line, a clean SIGTERM exit.
@Suite(.timeLimit(.minutes(1)))
struct WebhookRelayProcessTests {
    @Test(arguments: [true, false])
    func `the executable relays a signed push to a subscriber`(secretFromEnvironment: Bool) async throws {
        let secret = "from-\(secretFromEnvironment ? "env" : "option")-\(UUID().uuidString.prefix(8))"
        let relay = try await RelayProcess.start(
            arguments: secretFromEnvironment ? [] : ["--secret", secret],
            environment: secretFromEnvironment ? ["WEBHOOK_SECRET": secret] : [:])
        do {
            let client = TestClient(port: relay.port)
            let stream = try await client.sse("/stream")
            defer { stream.close() }
            #expect(stream.status == .ok)

            let body = #"{"ref":"refs/heads/release","pusher":{"name":"hubot"}}"#
            var fields: HTTPFields = [.contentType: "application/json"]
            fields[HTTPField.Name("X-GitHub-Event")!] = "push"
            fields[HTTPField.Name("X-Hub-Signature-256")!] = WebhookSignature.header(for: Array(body.utf8), secret: secret)
            let response = try await client.post("/webhook/github", body: Array(body.utf8), headerFields: fields)
            #expect(response.status == .ok, "\(response)\n\(relay.standardError)")

            let event = try #require(try await stream.events(1).first)
            #expect(event.type == "notify")
            let data = try JSONDecoder().decode([String: String].self, from: Data(event.data.utf8))
            #expect(data == ["message": "hubot pushed to release"])
        } catch {
            _ = await relay.stop()
            throw error
        }
        let exit = await relay.stop()
        #expect(exit == "exit status 0", "\(relay.standardError)")
    }

    @Test func `without a secret the executable refuses to start`() async throws {
        let output = try await onOwnThread {
            let process = Process()
            process.executableURL = try RelayProcess.executable()
            process.arguments = ["--host", "127.0.0.1", "--port", "0"]
            var environment = ProcessInfo.processInfo.environment
            environment["WEBHOOK_SECRET"] = nil
            process.environment = environment
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = ContinuousClock.now + .seconds(20)
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (process.terminationStatus, text)
        }
        #expect(output.0 != 0)
        #expect(output.1.contains("WEBHOOK_SECRET"), "stderr: \(output.1)")
    }
}

/// A running `WebhookRelay` subprocess.
private struct RelayProcess: Sendable {
    let port: Int
    let process: UncheckedProcess
    let standardErrorURL: URL

    var standardError: String { (try? String(contentsOf: standardErrorURL, encoding: .utf8)) ?? "" }

    /// The `WebhookRelay` executable of this build: next to the test bundle (SwiftPM puts every
    /// product there, whatever the scratch path), else `.build/debug`.
    static func executable() throws -> URL {
        var directories: [URL] = []
        if let executable = Bundle.main.executableURL {
            directories.append(executable.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            directories.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        directories.append(root.appendingPathComponent(".build/debug"))
        for directory in directories {
            let candidate = directory.appendingPathComponent("WebhookRelay")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw RelayError("WebhookRelay not found in \(directories.map(\.path)); build it with `swift build --build-tests`")
    }

    /// Starts `WebhookRelay --host 127.0.0.1 --port 0` and reads its `listening on` line (20 s).
    static func start(arguments: [String], environment: [String: String]) async throws -> RelayProcess {
        let executable = try executable()
        return try await onOwnThread {
            let standardErrorURL = FileManager.default.temporaryDirectory
                .appendingPathComponent("webhook-relay-\(UUID().uuidString).stderr")
            _ = FileManager.default.createFile(atPath: standardErrorURL.path, contents: nil)
            let errorHandle = try FileHandle(forWritingTo: standardErrorURL)
            defer { try? errorHandle.close() }
            let process = Process()
            process.executableURL = executable
            process.arguments = ["--host", "127.0.0.1", "--port", "0"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let output = Pipe()
            process.standardOutput = output
            process.standardError = errorHandle
            process.standardInput = FileHandle.nullDevice
            try process.run()

            let line = readLine(from: output.fileHandleForReading.fileDescriptor, timeout: .seconds(20))
            let prefix = "listening on http://127.0.0.1:"
            guard let line, line.hasPrefix(prefix), let port = Int(line.dropFirst(prefix.count)), port > 0 else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let log = (try? String(contentsOf: standardErrorURL, encoding: .utf8)) ?? ""
                throw RelayError("WebhookRelay printed \(line ?? "nothing") instead of \(prefix)PORT\n\(log)")
            }
            return RelayProcess(port: port, process: UncheckedProcess(process: process), standardErrorURL: standardErrorURL)
        }
    }

    /// SIGTERM, then wait (SIGKILL after 10 s). "exit status 0" for a clean graceful shutdown.
    func stop() async -> String {
        let process = self.process
        let outcome =
            (try? await onOwnThread { () -> String in
                let process = process.process
                if process.isRunning { kill(process.processIdentifier, SIGTERM) }
                let deadline = ContinuousClock.now + .seconds(10)
                while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    return "still running 10 s after SIGTERM: killed"
                }
                process.waitUntilExit()
                return process.terminationReason == .exit
                    ? "exit status \(process.terminationStatus)" : "killed by signal \(process.terminationStatus)"
            }) ?? "could not be stopped"
        try? FileManager.default.removeItem(at: standardErrorURL)
        return outcome
    }
}

/// A `Process` used from one thread at a time.
private struct UncheckedProcess: @unchecked Sendable {
    let process: Process
}

private struct RelayError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs blocking work on a thread of its own, never on the cooperative pool.
private func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// One LF-terminated line from `fd` (poll-bounded), or nil at EOF or after `timeout`.
private func readLine(from fd: Int32, timeout: Duration) -> String? {
    let deadline = ContinuousClock.now + timeout
    var bytes: [UInt8] = []
    while ContinuousClock.now < deadline {
        var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, 100)
        if ready <= 0 { continue }
        var byte: UInt8 = 0
        guard read(fd, &byte, 1) == 1 else { break }
        if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
        bytes.append(byte)
    }
    return nil
}
