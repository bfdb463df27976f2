import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Throwaway self-signed certificates for TLS tests, made with the `openssl` command line in a
/// temporary directory: two certificate/key pairs (A and B, for reloads and mismatches), both
/// P-256, `CN=localhost`, valid for one day. Call ``remove()`` when done.
package struct TestCertificates: Sendable {
    /// The directory holding the files.
    package let directory: String
    /// Certificate A and its key.
    package let certificatePath: String
    package let keyPath: String
    /// Certificate B and its key (B's key does not match certificate A).
    package let otherCertificatePath: String
    package let otherKeyPath: String

    /// Makes both pairs (two `openssl req` runs, a few milliseconds each).
    package init() async throws {
        directory = FileManager.default.temporaryDirectory.path + "/rill-tls-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificatePath = directory + "/a-cert.pem"
        keyPath = directory + "/a-key.pem"
        otherCertificatePath = directory + "/b-cert.pem"
        otherKeyPath = directory + "/b-key.pem"
        try await Self.makeSelfSigned(certificate: certificatePath, key: keyPath, name: "localhost")
        try await Self.makeSelfSigned(certificate: otherCertificatePath, key: otherKeyPath, name: "localhost")
    }

    /// Writes a self-signed P-256 certificate for `name` and its unencrypted key.
    package static func makeSelfSigned(certificate: String, key: String, name: String) async throws {
        let output = try await runCommand(
            [
                opensslPath, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=\(name)", "-keyout", key, "-out", certificate,
            ], timeout: .seconds(20))
        guard output.exitedCleanly else { throw HarnessError("openssl req failed: \(output)") }
    }

    /// Copies `source` over `destination` (what an operator's certificate renewal does).
    package static func replace(_ destination: String, with source: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        try data.write(to: URL(fileURLWithPath: destination), options: .atomic)
    }

    /// Deletes the directory.
    package func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The `openssl` command line tool (Debian's `openssl` package).
    package static var opensslPath: String {
        for candidate in ["/usr/bin/openssl", "/usr/local/bin/openssl"] where access(candidate, X_OK) == 0 { return candidate }
        return "/usr/bin/openssl"
    }
}

/// What a finished command printed, and how it ended.
package struct CommandOutput: Sendable, CustomStringConvertible {
    /// "exit status 0", "killed by signal 9", or "timed out".
    package var outcome: String
    package var standardOutput: String
    package var standardError: String

    /// Whether the command exited with status 0.
    package var exitedCleanly: Bool { outcome == "exit status 0" }

    package var description: String { "\(outcome)\n--- stdout ---\n\(standardOutput)\n--- stderr ---\n\(standardError)" }
}

/// Runs `arguments` (the first is the executable's path) to completion, at most `timeout`
/// (killed then).
package func runCommand(_ arguments: [String], timeout: Duration) async throws -> CommandOutput {
    let process = try ChildProcess(arguments, logPrefix: "command")
    let outcome = try await withDeadline(timeout + .seconds(5), "\(arguments[0])") {
        process.waitForExit(timeout: timeout) ?? "timed out"
    }
    return CommandOutput(outcome: outcome, standardOutput: process.standardOutput, standardError: process.standardError)
}
