import Foundation
import Rill
import RillTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Starts a TLS server (certificate A of fresh ``TestCertificates``) for `router`, runs `body`,
/// shuts it down and removes the certificates.
private func withTLSServer<T>(
    _ router: Router, _ adjust: (inout ServerConfiguration) -> Void = { _ in },
    isolation: isolated (any Actor)? = #isolation,
    _ body: (Application, Int, TestCertificates) async throws -> T
) async throws -> T {
    let certificates = try await TestCertificates()
    defer { certificates.remove() }
    let configuration = testConfiguration { configuration in
        configuration.tls = TLSConfiguration(certificateChainPath: certificates.certificatePath, privateKeyPath: certificates.keyPath)
        adjust(&configuration)
    }
    return try await withLiveServer(router, configuration: configuration) { app, port in
        try await body(app, port, certificates)
    }
}

private func pingRouter() -> Router {
    let router = Router()
    router.get("/ping") { _, _ in "pong" }
    return router
}

private let pingRequest = request("/ping")

/// The server over TLS: the same handlers, streams and limits as over TCP, checked with real
/// clients (curl, Python's `ssl`) on loopback sockets.
@Suite struct TLSTests {
    @Test func `curl and Python get a response over TLS`() async throws {
        try await withTLSServer(pingRouter()) { _, port, _ in
            let curl = try await runCommand(
                ["/usr/bin/curl", "-sk", "--http1.1", "--max-time", "10", "https://127.0.0.1:\(port)/ping"], timeout: .seconds(15))
            #expect(curl.exitedCleanly, "\(curl)")
            #expect(curl.standardOutput == "pong")
            let report = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")]))
            #expect(report.ok, "\(report.error ?? "")")
            #expect(report.version == "TLSv1.3")
            #expect(report.responses.first?.hasPrefix("HTTP/1.1 200 OK") == true)
        }
    }

    @Test func `TLS 1.2 and 1.3 are accepted and TLS 1.1 is refused`() async throws {
        try await withTLSServer(pingRouter()) { _, port, _ in
            for version in ["TLSv1_2", "TLSv1_3"] {
                let report = try await TLSProbe.run(
                    .init(port: port, steps: [.init(send: pingRequest, until: "pong")], minimumVersion: version, maximumVersion: version))
                #expect(report.ok, "\(version): \(report.error ?? "")")
                #expect(report.version == version.replacingOccurrences(of: "_", with: "."))
            }
            let old = try await TLSProbe.run(
                .init(port: port, steps: [.init(send: pingRequest, until: "pong")], minimumVersion: "TLSv1_1", maximumVersion: "TLSv1_1"))
            #expect(!old.ok)
            // The server's protocol_version alert, not a client that refused to offer TLS 1.1.
            #expect(old.error?.uppercased().contains("PROTOCOL_VERSION") == true, "\(old.error ?? "")")
        }
    }

    @Test func `ALPN selects h2 first when HTTP/2 over TLS is on and http/1.1 when it is off`() async throws {
        try await withTLSServer(pingRouter()) { _, port, _ in
            let both = try await TLSProbe.run(.init(port: port, steps: [], alpn: ["http/1.1", "h2"]))
            #expect(both.alpn == "h2", "\(both.error ?? "")")
            let onlyHTTP1 = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")], alpn: ["http/1.1"]))
            #expect(onlyHTTP1.alpn == "http/1.1", "\(onlyHTTP1.error ?? "")")
            #expect(onlyHTTP1.ok)
        }
        try await withTLSServer(pingRouter(), { $0.http2.isEnabledOverTLS = false }) { _, port, _ in
            let report = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")], alpn: ["h2", "http/1.1"]))
            #expect(report.alpn == "http/1.1", "\(report.error ?? "")")
            #expect(report.ok)
            // No protocol in common: the handshake fails with no_application_protocol (RFC 7301).
            let unknown = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")], alpn: ["spdy/3"]))
            #expect(!unknown.ok)
            #expect(unknown.error?.lowercased().contains("application") == true, "\(unknown.error ?? "")")
            // No ALPN offered at all: HTTP/1.1.
            let none = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")], alpn: []))
            #expect(none.ok, "\(none.error ?? "")")
        }
    }

    @Test(arguments: ["http/1.1", "h2"])
    func `a client's close_notify is answered with the server's`(protocolName: String) async throws {
        try await withTLSServer(pingRouter()) { _, port, _ in
            // HTTP/2 used to close with a bare TCP close.
            let answer = try await TLSProbe.answersCloseNotify(port: port, alpn: protocolName)
            #expect(answer == "close_notify", "\(protocolName): \(answer)")
        }
    }

    @Test func `an event stream over TLS receives published events and heartbeats`() async throws {
        let router = Router()
        router.get("/stream") { request, context in try await context.eventStream(for: request) }
        try await withTLSServer(router, { $0.eventStream.heartbeatInterval = .milliseconds(200) }) { app, port, _ in
            let probe = try TLSProbe.start(
                .init(
                    port: port,
                    steps: [
                        .init(send: request("/stream?channel=news"), until: ":ok"),
                        .init(until: "data: over TLS"),
                        .init(until: "3\r\n:\n\n\r\n"),
                    ]))
            try await TLSProbe.waitForStep(0, of: probe)
            let id = try await app.publish(ServerSentEvent(data: "over TLS", event: "note"), channel: "news").id
            let report = try await TLSProbe.finish(probe, timeout: .seconds(20))
            #expect(report.ok, "\(report.error ?? "")")
            #expect(report.responses.first?.contains("Content-Type: text/event-stream") == true, "\(report.responses)")
            #expect(report.responses.dropFirst().first?.contains("event: note\nid: \(id)\ndata: over TLS") == true)
        }
    }

    @Test func `a streamed body over TLS waits for a slow reader and arrives whole`() async throws {
        let router = Router()
        let writerSeconds = Shared(0.0)
        let chunk = String(repeating: "a", count: 64 * 1024)
        router.get("/big") { _, _ in
            Response(
                headerFields: [.contentType: "text/plain"],
                body: ResponseBody { writer in
                    let started = ContinuousClock.now
                    for _ in 0..<64 { try await writer.write(chunk) }
                    try await writer.write("END")
                    let elapsed = ContinuousClock.now - started
                    writerSeconds.set(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                })
        }
        try await withTLSServer(router, { $0.writeHighWaterMarkBytes = 64 * 1024 }) { _, port, _ in
            let report = try await TLSProbe.run(
                .init(port: port, steps: [.init(send: request("/big"), until: "0\r\n\r\n", pauseSeconds: 1)], timeoutSeconds: 20))
            #expect(report.ok, "\(report.error ?? "")")
            let text = report.responses.first ?? ""
            #expect(text.utf8.count > 64 * 64 * 1024)
            #expect(text.contains("END"))
            let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined()
            #expect(body.components(separatedBy: "a").count - 1 == 64 * 64 * 1024, "the chunk sizes (10000, 3) hold no a")
            // 4 MiB over a 64 KiB high-water mark: the writer waited for the reader's pause.
            #expect(writerSeconds.current > 0.5, "the writer finished in \(writerSeconds.current) s")
        }
    }

    @Test func `a stalled handshake is closed after the request timeout`() async throws {
        let timing = { (configuration: inout ServerConfiguration) in
            configuration.requestTimeout = .milliseconds(300)
            configuration.acceptDeferral = nil
        }
        try await withTLSServer(pingRouter(), timing) { app, port, _ in
            // Nothing at all, then half a ClientHello (a record header promising 200 bytes).
            for bytes in ["", "16030100c8010000c40303"] {
                let started = ContinuousClock.now
                let report = try await TLSProbe.run(.init(port: port, steps: [], timeoutSeconds: 10, plaintextHex: bytes))
                #expect(report.ok, "closed by the server, not timed out: \(report.error ?? "")")
                #expect(ContinuousClock.now - started < .seconds(5))
                #expect(report.responses.first?.isEmpty == true)
            }
            #expect(await eventually { await app.connectionCount() == 0 })
            #expect(await app.serverStatistics().writeTimeoutCount == 0, "a handshake timeout is not a write timeout")
        }
    }

    @Test func `garbage instead of a ClientHello closes the connection and the server keeps serving`() async throws {
        try await withTLSServer(pingRouter()) { app, port, _ in
            let garbage = Array(request("/ping").utf8).map { String(format: "%02x", $0) }.joined()
            let report = try await TLSProbe.run(.init(port: port, steps: [], plaintextHex: garbage))
            #expect(report.ok, "\(report.error ?? "")")
            #expect(report.responses.first?.contains("HTTP/1.1") == false, "no plaintext answer")
            let after = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")]))
            #expect(after.ok, "\(after.error ?? "")")
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a missing, unreadable, non-PEM or mismatched certificate or key stops the start`() async throws {
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let notPEM = certificates.directory + "/not.pem"
        try "hello".write(toFile: notPEM, atomically: true, encoding: .utf8)
        let cases: [(certificate: String, key: String, kind: TLSConfigurationError.Kind, path: String)] = [
            (certificates.directory + "/missing.pem", certificates.keyPath, .missingFile, certificates.directory + "/missing.pem"),
            (certificates.certificatePath, certificates.directory, .unreadableFile, certificates.directory),
            (notPEM, certificates.keyPath, .invalidCertificate, notPEM),
            (certificates.certificatePath, notPEM, .invalidPrivateKey, notPEM),
            (certificates.certificatePath, certificates.otherKeyPath, .keyDoesNotMatchCertificate, certificates.otherKeyPath),
        ]
        for (certificate, key, kind, path) in cases {
            let configuration = testConfiguration {
                $0.tls = TLSConfiguration(certificateChainPath: certificate, privateKeyPath: key)
            }
            let app = try Application(router: pingRouter(), configuration: configuration, logger: quietLogger)
            do {
                try await app.start()
                Issue.record("started with \(certificate) and \(key)")
            } catch let error as TLSConfigurationError {
                #expect(error.kind == kind)
                #expect(error.path == path)
                #expect(error.description.contains(path))
            }
            #expect(app.localAddress == nil, "nothing listens")
            await app.shutdown()
        }
    }

    @Test func `a reload serves the new certificate to new connections and keeps open ones`() async throws {
        try await withTLSServer(pingRouter()) { app, port, certificates in
            let goAhead = certificates.directory + "/go"
            let open = try TLSProbe.start(
                .init(
                    port: port,
                    steps: [.init(send: pingRequest, until: "pong"), .init(send: pingRequest, until: "pong", waitFile: goAhead)],
                    pemFiles: [certificates.certificatePath, certificates.otherCertificatePath]))
            try await TLSProbe.waitForStep(0, of: open)
            try TestCertificates.replace(certificates.certificatePath, with: certificates.otherCertificatePath)
            try TestCertificates.replace(certificates.keyPath, with: certificates.otherKeyPath)
            try app.reloadTLSCertificate()
            _ = FileManager.default.createFile(atPath: goAhead, contents: nil)
            let old = try await TLSProbe.finish(open, timeout: .seconds(20))
            #expect(old.ok, "the open connection survived the reload: \(old.error ?? "")")
            #expect(old.responses.count == 2)
            let fresh = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")]))
            #expect(fresh.ok)
            #expect(old.certificateSHA256 == old.fileSHA256.first, "certificate A before")
            #expect(fresh.certificateSHA256 == old.fileSHA256.last, "certificate B after")
            #expect(old.certificateSHA256 != fresh.certificateSHA256)

            // A reload that fails keeps the certificate in use.
            try "broken".write(toFile: certificates.keyPath, atomically: true, encoding: .utf8)
            #expect(throws: TLSConfigurationError.self) { try app.reloadTLSCertificate() }
            let still = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")]))
            #expect(still.ok)
            #expect(still.certificateSHA256 == fresh.certificateSHA256)
        }
    }

    @Test func `graceful shutdown over TLS sends the farewell event`() async throws {
        let router = Router()
        router.get("/news") { _, _ in
            let (events, _) = AsyncStream<ServerSentEvent>.makeStream()
            return EventStream(events, farewell: ServerSentEvent(data: "bye", event: "shutdown"))
        }
        let certificates = try await TestCertificates()
        defer { certificates.remove() }
        let configuration = testConfiguration {
            $0.tls = TLSConfiguration(certificateChainPath: certificates.certificatePath, privateKeyPath: certificates.keyPath)
        }
        let app = try Application(router: router, configuration: configuration, logger: quietLogger)
        let port = try await app.start().port
        let probe = try TLSProbe.start(.init(port: port, steps: [.init(send: request("/news"), until: ":ok"), .init(until: "")]))
        try await TLSProbe.waitForStep(0, of: probe)
        await app.shutdown()
        let report = try await TLSProbe.finish(probe, timeout: .seconds(20))
        #expect(report.ok, "\(report.error ?? "")")
        #expect(report.responses.last?.contains("event: shutdown\ndata: bye") == true, "\(report.responses)")
        #expect(report.responses.last?.hasSuffix("0\r\n\r\n") == true, "the last chunk, then close_notify and EOF")
        #expect(app.eventLoop.closeResult == 0)
        #expect(app.eventLoop.leakedHandleCount == 0)
    }

    @Test func `over the connection cap a TLS connection is closed without a handshake`() async throws {
        try await withTLSServer(pingRouter(), { $0.maxConnections = 1 }) { app, port, certificates in
            let goAhead = certificates.directory + "/go"
            let holder = try TLSProbe.start(
                .init(port: port, steps: [.init(send: pingRequest, until: "pong"), .init(send: pingRequest, until: "pong", waitFile: goAhead)]))
            try await TLSProbe.waitForStep(0, of: holder)
            let refused = try await TLSProbe.run(.init(port: port, steps: [.init(send: pingRequest, until: "pong")]))
            #expect(!refused.ok)
            _ = FileManager.default.createFile(atPath: goAhead, contents: nil)
            let held = try await TLSProbe.finish(holder, timeout: .seconds(20))
            #expect(held.ok, "\(held.error ?? "")")
            #expect(await app.serverStatistics().refusedConnectionCount == 1)
        }
    }
}
