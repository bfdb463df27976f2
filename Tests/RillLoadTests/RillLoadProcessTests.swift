import Foundation
import RillTestSupport
import Testing

/// `rill-load` as a benchmark user runs it: each mode as a process against a real `rill-hub`
/// over loopback, with small, bounded counts. Only what the harness reports is checked (counts,
/// gaps, failures, the RESULT line's shape), never a speed.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RillLoadProcessTests {
    /// Runs `rill-load ARGUMENTS` (at most 60 s) and returns its RESULT line's fields.
    private func runLoad(_ arguments: [String]) async throws -> [String: String] {
        let process = try ChildProcess([try productExecutable("rill-load")] + arguments + ["--quiet"], logPrefix: "rill-load")
        let ended = try await withDeadline(.seconds(70), "rill-load \(arguments.first ?? "")") {
            process.waitForExit(timeout: .seconds(60))
        }
        #expect(ended == "exit status 0", "\(process.standardError)")
        let output = process.standardOutput
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("RESULT ") }, "no RESULT line in\n\(output)")
        var fields: [String: String] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }

    @Test func `fanout counts every delivery and samples the server`() async throws {
        let hub = try await ExampleProcess("rill-hub")
        let base = "http://127.0.0.1:\(hub.port)"
        let result = try await runLoad([
            "fanout", "-c", "20", "--events", "50", "--publish", "\(base)/publish?channel=t", "\(base)/stream?channel=t",
            "--server-pid", String(hub.process.pid),
        ])
        #expect(result["mode"] == "fanout")
        #expect(result["delivered"] == "1000")
        #expect(result["expected"] == "1000")
        #expect(result["gaps"] == "0")
        #expect(result["duplicates"] == "0")
        #expect(result["failed"] == "0")
        #expect(result["timed_out"] == "0")
        #expect(Double(result["latency_p99_ms"] ?? "") != nil)
        #expect((Double(result["server_cpu_s"] ?? "") ?? -1) >= 0, "the server's CPU is sampled from /proc")
        #expect(try await hub.terminate() == "exit status 0")
    }

    @Test func `idle holds every stream and reports memory per stream`() async throws {
        let hub = try await ExampleProcess("rill-hub", arguments: ["--heartbeat", "0.2"])
        let result = try await runLoad([
            "idle", "-c", "40", "-d", "1", "--expect-heartbeat", "0.2", "--server-pid", String(hub.process.pid),
            "http://127.0.0.1:\(hub.port)/stream?channel=idle",
        ])
        #expect(result["mode"] == "idle")
        #expect(result["alive"] == "40")
        #expect(result["failed"] == "0")
        #expect(Int(result["rss_per_conn_bytes"] ?? "") != nil, "RSS is sampled from /proc")
        #expect(try await hub.terminate() == "exit status 0")
    }

    @Test func `idle and fanout run over TLS with --tls or https URLs`() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let hub = try await ExampleProcess(
            "rill-hub", arguments: ["--heartbeat", "0.2", "--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath])
        let idle = try await runLoad([
            "idle", "-c", "40", "-d", "1", "--expect-heartbeat", "0.2", "--tls", "http://127.0.0.1:\(hub.port)/stream?channel=idle",
        ])
        #expect(idle["alive"] == "40")
        #expect(idle["failed"] == "0")
        let base = "https://127.0.0.1:\(hub.port)"
        let fanout = try await runLoad([
            "fanout", "-c", "20", "--events", "50", "--publish", "\(base)/publish?channel=t", "\(base)/stream?channel=t",
        ])
        #expect(fanout["delivered"] == "1000")
        #expect(fanout["gaps"] == "0")
        #expect(fanout["failed"] == "0")
        #expect(try await hub.terminate() == "exit status 0")
    }

    @Test func `idle and fanout run over HTTP/2 with many streams per connection, in cleartext and over TLS`() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        for tls in [false, true] {
            var arguments = ["--heartbeat", "0.2"]
            if tls { arguments += ["--tls-cert", certificates.certificatePath, "--tls-key", certificates.keyPath] }
            let hub = try await ExampleProcess("rill-hub", arguments: arguments)
            let base = "\(tls ? "https" : "http")://127.0.0.1:\(hub.port)"
            // 40 streams on 2 connections (prior knowledge in cleartext, ALPN h2 over TLS).
            let idle = try await runLoad([
                "idle", "--h2", "--streams-per-connection", "20", "-c", "40", "-d", "1", "--expect-heartbeat", "0.2",
                "--server-pid", String(hub.process.pid), "\(base)/stream?channel=idle",
            ])
            #expect(idle["mode"] == "idle")
            #expect(idle["protocol"] == "h2")
            #expect(idle["streams_per_connection"] == "20")
            #expect(idle["tcp_connections"] == "2")
            #expect(idle["alive"] == "40", "TLS: \(tls)")
            #expect(idle["failed"] == "0")
            #expect(Int(idle["rss_per_conn_bytes"] ?? "") != nil, "RSS is sampled from /proc")
            // 45 streams on 3 connections, the last one partly filled; the publisher is HTTP/1.1.
            let fanout = try await runLoad([
                "fanout", "--h2", "--streams-per-connection", "20", "-c", "45", "--events", "30",
                "--publish", "\(base)/publish?channel=t", "--server-pid", String(hub.process.pid), "\(base)/stream?channel=t",
            ])
            #expect(fanout["protocol"] == "h2")
            #expect(fanout["tcp_connections"] == "3")
            #expect(fanout["delivered"] == "1350", "TLS: \(tls)")
            #expect(fanout["expected"] == "1350")
            #expect(fanout["gaps"] == "0")
            #expect(fanout["duplicates"] == "0")
            #expect(fanout["failed"] == "0")
            #expect(fanout["timed_out"] == "0")
            #expect(try await hub.terminate() == "exit status 0")
        }
    }

    @Test func `churn completes cycles without failures`() async throws {
        let hub = try await ExampleProcess("rill-hub")
        let result = try await runLoad([
            "churn", "-c", "4", "-d", "1", "--server-pid", String(hub.process.pid),
            "http://127.0.0.1:\(hub.port)/stream?channel=churn",
        ])
        #expect(result["mode"] == "churn")
        #expect((Int(result["cycles"] ?? "") ?? 0) > 0)
        #expect(result["failures"] == "0")
        #expect(try await hub.terminate() == "exit status 0")
    }

    @Test func `churn against a plain route reports status failures`() async throws {
        let hub = try await ExampleProcess("rill-hub")
        let result = try await runLoad(["churn", "-c", "2", "-d", "0.5", "http://127.0.0.1:\(hub.port)/ping"])
        #expect(result["cycles"] == "0")
        #expect((Int(result["failures_status"] ?? "") ?? 0) > 0, "text/plain is not an event stream")
        #expect(try await hub.terminate() == "exit status 0")
    }
}
