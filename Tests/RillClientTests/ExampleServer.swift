import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A running example executable of this build (`Examples/<name>`) on 127.0.0.1 and a port the
/// kernel picked, for any example that prints `listening on http://HOST:PORT` (SSETestServer
/// included: see ``withTestServer(arguments:sourceLocation:_:)``).
struct ExampleServer: Sendable {
    /// The product name, for messages.
    let name: String
    /// The bound port, read from the `listening on http://HOST:PORT` line.
    let port: Int
    /// `http://127.0.0.1:PORT`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    fileprivate let process: ServerProcess
    fileprivate let standardErrorURL: URL

    /// What the server logged to stderr so far (for failure messages).
    var standardError: String { (try? String(contentsOf: standardErrorURL, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM (graceful shutdown) now; ``withExampleServer(_:arguments:sourceLocation:_:)``
    /// still waits for the exit and checks its status.
    func terminate() {
        process.terminate()
    }
}

extension Paths {
    /// The executable `name` of this build (next to the test bundle, or in `.build/debug`).
    static func product(_ name: String) throws -> URL {
        for directory in productDirectories {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError("\(name) not found in \(productDirectories.map(\.path)); build it with `swift build --build-tests`")
    }
}

/// Starts the example `product` with `--host 127.0.0.1 --port 0` plus `arguments`, runs `body`
/// with it, then stops it with SIGTERM and expects a clean exit (status 0 within 10 s). The
/// process is killed whatever happens to `body`.
func withExampleServer<T>(
    _ product: String, arguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (ExampleServer) async throws -> T
) async throws -> T {
    let server = try await startExampleServer(product, arguments: arguments)
    defer { try? FileManager.default.removeItem(at: server.standardErrorURL) }
    let result: T
    do {
        result = try await body(server)
    } catch {
        _ = try? await stopExampleServer(server)
        throw error
    }
    let exit = try await stopExampleServer(server)
    #expect(
        exit == "exit status 0", "\(product)'s end after SIGTERM: \(exit)\n--- its log ---\n\(server.standardError)",
        sourceLocation: sourceLocation)
    return result
}

private func startExampleServer(_ product: String, arguments: [String]) async throws -> ExampleServer {
    let executable = try Paths.product(product)
    let standardErrorURL = FileManager.default.temporaryDirectory
        .appendingPathComponent("rill-example-\(product)-\(UUID().uuidString).stderr")
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
    let line = try await onDedicatedThread("\(product) startup") {
        try readFirstLine(from: boxedOutput.value.fileHandleForReading.fileDescriptor, timeout: .seconds(20))
    }
    let prefix = "listening on http://"
    guard let line, line.hasPrefix(prefix), let colon = line.lastIndex(of: ":"),
        let port = Int(line[line.index(after: colon)...]), port > 0
    else {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let log = (try? String(contentsOf: standardErrorURL, encoding: .utf8)) ?? ""
        throw HarnessError("\(product) printed \(line.map { "\"\($0)\"" } ?? "no line") instead of \"\(prefix)HOST:PORT\"\n\(log)")
    }
    return ExampleServer(name: product, port: port, process: boxedProcess, standardErrorURL: standardErrorURL)
}

/// SIGTERM (once), then wait; SIGKILL after 10 s. Returns "exit status 0" for a clean shutdown.
private func stopExampleServer(_ server: ExampleServer) async throws -> String {
    let serverProcess = server.process
    return try await onDedicatedThread("\(server.name) shutdown") {
        serverProcess.terminate()
        let process = serverProcess.process
        guard waitForExit(process, timeout: .seconds(10)) else { return "still running 10 s after SIGTERM: killed" }
        return process.terminationReason == .exit
            ? "exit status \(process.terminationStatus)" : "killed by signal \(process.terminationStatus)"
    }
}

/// Reads one LF-terminated line from `fd` (blocking, with poll), or nil at EOF or after `timeout`.
private func readFirstLine(from fd: Int32, timeout: Duration) throws -> String? {
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
