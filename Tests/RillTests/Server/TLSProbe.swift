import Foundation
import RillTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A TLS client for the TLS tests: Python's `ssl` module (OpenSSL underneath, but none of
/// Rill's code), run as a process. It connects, then runs steps on the one connection, each
/// "send these bytes, read until this text (or EOF)", printing `STEP n` after each so a test can
/// act between steps, and last one JSON line: the negotiated version and ALPN protocol, the
/// server certificate's SHA-256, what each step read, or the error.
struct TLSProbe {
    /// One exchange on the connection.
    struct Step: Encodable {
        /// Sent first (may be empty).
        var send: String = ""
        /// Read until this text arrived; empty: until EOF.
        var until: String = ""
        /// Wait until this file exists before sending (the test's go-ahead).
        var waitFile: String?
        /// Seconds to wait before reading (a slow reader).
        var pauseSeconds: Double = 0

        enum CodingKeys: String, CodingKey {
            case send, until
            case waitFile = "wait_file"
            case pauseSeconds = "pause_seconds"
        }
    }

    /// What the probe reports.
    struct Report: Decodable {
        var ok: Bool
        var error: String?
        var version: String?
        var alpn: String?
        var certificateSHA256: String?
        var responses: [String]
        /// The SHA-256 of each PEM file asked for, in order.
        var fileSHA256: [String]

        enum CodingKeys: String, CodingKey {
            case ok, error, version, alpn, responses
            case certificateSHA256 = "cert_sha256"
            case fileSHA256 = "file_sha256"
        }
    }

    struct Specification: Encodable {
        var port: Int
        var steps: [Step]
        var minimumVersion: String?
        var maximumVersion: String?
        var alpn: [String]?
        var pemFiles: [String] = []
        var timeoutSeconds: Double = 10
        /// Send raw bytes with no TLS at all (hex), then read until EOF.
        var plaintextHex: String?

        enum CodingKeys: String, CodingKey {
            case port, steps, alpn
            case minimumVersion = "min_version"
            case maximumVersion = "max_version"
            case pemFiles = "pem_files"
            case timeoutSeconds = "timeout"
            case plaintextHex = "plaintext_hex"
        }
    }

    static let script = #"""
        import hashlib, json, os, socket, ssl, sys, time
        spec = json.loads(sys.argv[1])
        report = {"ok": False, "responses": [], "file_sha256": []}
        for path in spec.get("pem_files", []):
            report["file_sha256"].append(hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(path).read())).hexdigest())
        deadline = time.monotonic() + spec.get("timeout", 10)
        def read_until(conn, until):
            data = b""
            while until.encode() not in data or not until:
                conn.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = conn.recv(65536)
                except (socket.timeout, TimeoutError):
                    raise RuntimeError("timed out waiting for %r, got %r" % (until, data[-300:]))
                if not chunk:
                    break
                data += chunk
            return data.decode("utf-8", "replace")
        try:
            raw = socket.create_connection(("127.0.0.1", spec["port"]), timeout=5)
            if spec.get("plaintext_hex") is not None:
                raw.sendall(bytes.fromhex(spec["plaintext_hex"]))
                report["responses"].append(read_until(raw, ""))
                report["ok"] = True
            else:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                if spec.get("min_version") or spec.get("max_version"):
                    context.set_ciphers("DEFAULT:@SECLEVEL=0")
                if spec.get("min_version"):
                    context.minimum_version = getattr(ssl.TLSVersion, spec["min_version"])
                if spec.get("max_version"):
                    context.maximum_version = getattr(ssl.TLSVersion, spec["max_version"])
                if spec.get("alpn"):
                    context.set_alpn_protocols(spec["alpn"])
                conn = context.wrap_socket(raw, server_hostname="localhost")
                report["version"] = conn.version()
                report["alpn"] = conn.selected_alpn_protocol()
                report["cert_sha256"] = hashlib.sha256(conn.getpeercert(binary_form=True)).hexdigest()
                for index, step in enumerate(spec["steps"]):
                    if step.get("wait_file"):
                        while not os.path.exists(step["wait_file"]):
                            if time.monotonic() > deadline:
                                raise RuntimeError("no go-ahead file")
                            time.sleep(0.01)
                    if step.get("send"):
                        conn.sendall(step["send"].encode())
                    if step.get("pause_seconds"):
                        time.sleep(step["pause_seconds"])
                    report["responses"].append(read_until(conn, step.get("until", "")))
                    print("STEP %d" % index, flush=True)
                report["ok"] = True
        except Exception as error:
            report["error"] = "%s: %s" % (type(error).__name__, error)
        print(json.dumps(report), flush=True)
        """#

    /// Whether the server answers a client's close_notify with its own (RFC 8446 §6.1): after
    /// one request (`h2`: the preface and SETTINGS) the client sends close_notify and reads on.
    /// Over memory BIOs, because `SSLSocket.unwrap` of some Python releases takes a bare EOF
    /// for the server's close_notify. Prints `close_notify` or `no close_notify: …`.
    static func answersCloseNotify(port: Int, alpn: String) async throws -> String {
        let process = try ChildProcess([python, "-c", closeNotifyScript, String(port), alpn], logPrefix: "tls-close-notify")
        let outcome = try await withDeadline(.seconds(20), "close_notify probe") { process.waitForExit(timeout: .seconds(15)) }
        guard outcome != nil else { throw HarnessError("the close_notify probe did not finish\n\(process.standardError)") }
        return process.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) + process.standardError
    }

    static let closeNotifyScript = #"""
        import socket, ssl, sys
        port, alpn = int(sys.argv[1]), sys.argv[2]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols([alpn])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        def flush():
            data = outgoing.read()
            if data:
                sock.sendall(data)
        def pump():
            data = sock.recv(65536)
            if not data:
                raise EOFError("the server closed without close_notify")
            incoming.write(data)
        def run(operation):
            while True:
                try:
                    result = operation()
                    flush()
                    return result
                except ssl.SSLWantReadError:
                    flush()
                    pump()
        run(tls.do_handshake)
        tls.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0" if alpn == "h2" else b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        flush()
        run(lambda: tls.read(65536))
        try:
            tls.unwrap()  # sends the client's close_notify
        except ssl.SSLWantReadError:
            pass
        flush()
        try:
            while True:
                run(lambda: tls.read(65536))
        except ssl.SSLZeroReturnError:
            print("close_notify")
        except (ssl.SSLError, EOFError) as error:
            print("no close_notify:", type(error).__name__)
        """#

    /// The interpreter: `RILL_TEST_PYTHON` (the Makefile's), else `python3` on the PATH.
    static var python: String {
        if let python = ProcessInfo.processInfo.environment["RILL_TEST_PYTHON"], !python.isEmpty { return python }
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3"] where access(candidate, X_OK) == 0 { return candidate }
        return "/usr/bin/python3"
    }

    /// Starts the probe; read its progress with ``ChildProcess/standardOutput``.
    static func start(_ specification: Specification) throws -> ChildProcess {
        let json = String(decoding: try JSONEncoder().encode(specification), as: UTF8.self)
        return try ChildProcess([python, "-c", script, json], logPrefix: "tls-probe")
    }

    /// Runs the probe to its end (at most the specification's timeout plus 10 s).
    static func run(_ specification: Specification) async throws -> Report {
        let process = try start(specification)
        return try await finish(process, timeout: .seconds(specification.timeoutSeconds + 10))
    }

    /// Waits for a started probe's end and decodes its report.
    static func finish(_ process: ChildProcess, timeout: Duration) async throws -> Report {
        let outcome = try await withDeadline(timeout + .seconds(5), "TLS probe") { process.waitForExit(timeout: timeout) }
        guard outcome != nil, let line = process.standardOutput.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw HarnessError("the TLS probe did not finish: \(outcome ?? "timed out")\n\(process.standardOutput)\n\(process.standardError)")
        }
        return try JSONDecoder().decode(Report.self, from: Data(line.utf8))
    }

    /// Waits (at most `timeout`) until the started probe printed `STEP index`.
    static func waitForStep(_ index: Int, of process: ChildProcess, timeout: Duration = .seconds(10)) async throws {
        try await withDeadline(timeout, "TLS probe step \(index)") {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if process.standardOutput.contains("STEP \(index)\n") { return }
                if process.hasExited { break }
                usleep(5_000)
            }
            throw HarnessError("the TLS probe never reached step \(index)\n\(process.standardOutput)\n\(process.standardError)")
        }
    }
}
