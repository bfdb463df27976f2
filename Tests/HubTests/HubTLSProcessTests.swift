import Foundation
import RillTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `rill-hub --tls-cert --tls-key` as an operator runs it: HTTPS, and a real `SIGHUP` that
/// reloads renewed files without dropping the streams that are open.
@Suite struct HubTLSProcessTests {
    @Test func `SIGHUP reloads the certificate and keeps open streams`() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let hub = try await HubProcess(["--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath])
        #expect(hub.process.standardOutput.contains("listening on https://"))
        let base = "https://127.0.0.1:\(hub.port)"
        let stream = try ChildProcess(
            ["/usr/bin/curl", "-skN", "--http1.1", "--max-time", "30", "\(base)/stream?channel=news"], logPrefix: "curl-stream")
        #expect(await waitUntil { stream.standardOutput.contains("retry: ") }, "\(stream.standardError)")  // the hub opens with its retry hint
        #expect(try await servedFingerprint(port: hub.port) == fingerprint(of: certificates.certificatePath))

        try TestCertificates.replace(certificates.certificatePath, with: certificates.otherCertificatePath)
        try TestCertificates.replace(certificates.keyPath, with: certificates.otherKeyPath)
        hub.process.kill(SIGHUP)
        let renewed = try await fingerprint(of: certificates.otherCertificatePath)
        var served = ""
        for _ in 0..<50 {
            served = try await servedFingerprint(port: hub.port)
            if served == renewed { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(served == renewed, "new connections get the renewed certificate")

        let publish = try await runCommand(
            ["/usr/bin/curl", "-sk", "--http1.1", "-X", "POST", "--data-binary", "after the reload", "\(base)/publish?channel=news"],
            timeout: .seconds(10))
        #expect(publish.standardOutput.contains("\"subscribers\":1"), "\(publish)")
        #expect(await waitUntil { stream.standardOutput.contains("data: after the reload") }, "the open stream survived")
        stream.kill(SIGTERM)
        #expect(try await hub.terminate() == "exit status 0")
    }

    @Test func `--tls-cert without --tls-key is refused`() async throws {
        let outcome = try await runRefusing("rill-hub", arguments: ["--tls-cert", "/tmp/cert.pem"])
        #expect(outcome.refused, "\(outcome.ended ?? "still running")\n\(outcome.standardError)")
        #expect(outcome.standardError.contains("--tls-cert and --tls-key go together"))
    }

    /// The SHA-256 fingerprint of the certificate a new TLS connection to `port` is shown.
    private func servedFingerprint(port: Int) async throws -> String {
        let shown = try await runCommand(
            [
                "/bin/sh", "-c",
                "\(TestCertificates.opensslPath) s_client -connect 127.0.0.1:\(port) </dev/null 2>/dev/null"
                    + " | \(TestCertificates.opensslPath) x509 -noout -fingerprint -sha256",
            ], timeout: .seconds(10))
        return shown.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func fingerprint(of path: String) async throws -> String {
        let output = try await runCommand(
            [TestCertificates.opensslPath, "x509", "-in", path, "-noout", "-fingerprint", "-sha256"], timeout: .seconds(10))
        return output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Polls `condition` every 10 ms for up to 10 s.
    private func waitUntil(_ condition: @escaping @Sendable () -> Bool) async -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}
