import Foundation
import Rill
import Synchronization
import Testing

/// HTTP/2 over cleartext (prior knowledge) against an in-process application: curl, and PyPI's
/// `h2` (Tests/http2/h2_probe.py) for many streams on one connection, resets, per-stream flow
/// control and the limits against HTTP/2's known attacks.
@Suite(.timeLimit(.minutes(2)))
struct HTTP2Tests {
    @Test func `curl --http2-prior-knowledge gets plain responses, request bodies and an event stream`() async throws {
        try await withHTTP2App { app, port in
            let hello = try await runProcess(
                ["/usr/bin/curl", "-s", "--http2-prior-knowledge", "-w", "\n%{http_version} %{response_code}", "http://127.0.0.1:\(port)/hello"],
                timeout: .seconds(10))
            #expect(hello.standardOutput == "hello\n2 200", "\(hello.summary)")
            // A synchronous handler runs inline on the loop, an asynchronous one in a task.
            for (path, expected) in [("/where", "task=false loop=true"), ("/where-async", "task=true loop=true")] {
                let answer = try await runProcess(
                    ["/usr/bin/curl", "-s", "--http2-prior-knowledge", "http://127.0.0.1:\(port)\(path)"], timeout: .seconds(10))
                #expect(answer.standardOutput == expected, "\(answer.summary)")
            }

            let body = String(repeating: "0123456789", count: 20_000)  // 200 KB: several windows' worth
            let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("rill-h2-body-\(UUID().uuidString)")
            try Data(body.utf8).write(to: bodyFile)
            defer { try? FileManager.default.removeItem(at: bodyFile) }
            let echo = try await runProcess(
                ["/usr/bin/curl", "-s", "--http2-prior-knowledge", "--data-binary", "@\(bodyFile.path)", "http://127.0.0.1:\(port)/echo"],
                timeout: .seconds(10))
            #expect(echo.standardOutput == body)

            let tooLarge = try await runProcess(
                [
                    "/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{response_code}", "--http2-prior-knowledge", "--data-binary",
                    "@\(bodyFile.path)", "http://127.0.0.1:\(port)/small",
                ], timeout: .seconds(10))
            #expect(tooLarge.standardOutput == "413")

            // An event stream: curl reads until it has the event (or gives up after 5 s).
            async let stream = runProcess(
                [
                    "/usr/bin/curl", "-s", "-N", "-i", "--http2-prior-knowledge", "-m", "5", "-H", "Last-Event-ID: 0",
                    "http://127.0.0.1:\(port)/events?channel=curl",
                ], timeout: .seconds(10))
            try await waitUntil { await app.broker.statistics().subscribersPerChannel["curl"] == 1 }
            _ = try await app.publish(ServerSentEvent(data: "over h2", id: "7"), channel: "curl")
            let output = try await stream.standardOutput
            #expect(output.hasPrefix("HTTP/2 200"))
            #expect(output.contains("content-type: text/event-stream"))
            #expect(!output.lowercased().contains("transfer-encoding"))
            #expect(!output.lowercased().contains("connection:"))
            // "0" names no event and the channel has none to replay: the stream opens with its
            // position, so the next reconnect is not a gap again.
            #expect(output.contains(":ok\nid: ~"))
            #expect(output.contains("id: 7\ndata: over h2\n\n"))
        }
    }

    @Test func `an event stream over HTTP 2 (subscribed inline) replays after Last-Event-ID, then sends heartbeats`() async throws {
        try await withHTTP2App { app, port in
            var ids: [String] = []
            for index in 1...5 { ids.append(try await app.publish(ServerSentEvent(data: "early \(index)"), channel: "replay").id) }
            let output = try await runProcess(
                [
                    "/usr/bin/curl", "-s", "-N", "--http2-prior-knowledge", "-m", "2", "-H", "Last-Event-ID: \(ids[1])",
                    "http://127.0.0.1:\(port)/beating?channel=replay",
                ], timeout: .seconds(10))
            let text = output.standardOutput
            #expect(!text.contains("early 2"))
            #expect(
                text.contains("id: \(ids[2])\ndata: early 3\n\nid: \(ids[3])\ndata: early 4\n\nid: \(ids[4])\ndata: early 5\n\n"),
                "\(output.summary)")
            // 300 ms heartbeats for about 2 s.
            let heartbeats = text.components(separatedBy: "\n:\n\n").count - 1
            #expect(heartbeats >= 3, "\(output.summary)")
        }
    }

    @Test func `the end of the connection cancels every stream's handler`() async throws {
        try await withHTTP2App { _, port in
            let before = cancelledHandlers.load(ordering: .relaxed)
            _ = try await probe(port, "close-with-open", "/slow", "3")
            try await waitUntil { cancelledHandlers.load(ordering: .relaxed) >= before + 3 }
        }
    }

    /// RFC 9113 §6.8: with a drain period a connection's event streams may end seconds after
    /// the shutdown began, so its client is told at once to open no new stream (a GOAWAY with
    /// the largest stream id), and an event stream opened anyway ends at once with its farewell,
    /// as over HTTP/1.1 (audit 10 I3: one opened then was served live until the connection's turn).
    @Test func `a drain tells HTTP 2 clients at once to open no new stream, and a stream opened anyway ends at once`() async throws {
        let app = try makeHTTP2App(
            http2: HTTP2Configuration(), writeTimeout: .seconds(60), maxReceivingRequestBodyBytes: nil, shutdownDrainPeriod: .seconds(2))
        let port = try await app.start().port
        async let report = probe(port, "drain", "2", "draining", "/events?channel=late", "/ticking")
        try await waitUntil { await app.broker.statistics().subscribersPerChannel["draining", default: 0] == 2 }
        await app.shutdown()
        let connections = try #require(try await report["connections"] as? [[String: Any]])
        #expect(connections.count == 2)
        #expect(connections.allSatisfy { $0["first"] as? Int == 2_147_483_647 }, "\(connections)")
        // The drain ends the first connection's streams at once, the other's about a second
        // later: that one's stream opened after the notice ended long before its turn.
        // Relayed from a subscription and written by a task.
        let late = connections.compactMap { $0["late"] as? [String: [String: Any]] }.filter { !$0.isEmpty }
        #expect(late.count == 1 && late.allSatisfy { Set($0.keys) == ["/events?channel=late", "/ticking"] }, "\(connections)")
        #expect(
            late.allSatisfy { $0.values.allSatisfy { $0["farewell"] as? Bool == true && ($0["seconds"] as? Double ?? 9) < 0.5 } },
            "\(connections)")
        #expect(connections.contains { ($0["secondAfter"] as? Double ?? 0) >= 0.5 }, "\(connections)")
    }

    @Test func `twenty event streams on one connection all receive the event`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "streams", "20", "twenty") }
        #expect(result["opened"] as? Int == 20)
        #expect(result["received"] as? Int == 20)
        #expect(result["statuses"] as? [String] == ["200"])
        #expect((result["forbiddenHeaders"] as? [String])?.isEmpty == true)
    }

    @Test func `RST_STREAM cancels the stream's handler and ends its subscription; the connection goes on`() async throws {
        try await withHTTP2App { app, port in
            let slow = try await probe(port, "reset", "/slow")
            #expect(slow["after"] as? String == "hello")
            try await waitUntil { cancelledHandlers.load(ordering: .relaxed) >= 1 }

            let stream = try await probe(port, "reset", "/events?channel=reset")
            #expect(stream["after"] as? String == "hello")
            try await waitUntil { await app.broker.statistics().subscribersPerChannel["reset", default: 0] == 0 }
        }
    }

    @Test func `a stream whose window is exhausted stalls alone: another stream of the connection keeps receiving`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "window", "flowing") }
        let stalledBytes = try #require(result["aBytes"] as? Int)
        #expect(stalledBytes <= 65_535, "the stalled stream got more than its window")
        #expect(result["bEvents"] as? Int == 5)
    }

    @Test func `rapid reset: a client opening and resetting streams in a loop is sent GOAWAY and disconnected`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "rapid-reset", "5000") }
        #expect(result["goaway"] as? Int == 11, "ENHANCE_YOUR_CALM: \(result)")
        #expect(result["closed"] as? Bool == true)
        #expect((result["sent"] as? Int ?? 0) < 5000)
    }

    @Test func `CONTINUATION flood ends the connection`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "continuation-flood", "10000") }
        // ENHANCE_YOUR_CALM once more than maxContinuationFrames arrived; PROTOCOL_ERROR when
        // nghttp2 finds the header block broken first (timing decides which comes first).
        #expect([1, 11].contains(result["goaway"] as? Int ?? -1), "\(result)")
        #expect(result["closed"] as? Bool == true, "\(result)")
    }

    @Test(arguments: ["ping-flood", "settings-flood"])
    func `PING and SETTINGS floods end the connection with ENHANCE_YOUR_CALM`(mode: String) async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, mode, "5000") }
        #expect(result["goaway"] as? Int == 11, "\(result)")
        #expect(result["closed"] as? Bool == true)
    }

    @Test func `a header list over maxHeaderBytes gets 431`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "big-headers", "20000") }
        #expect(result["status"] as? String == "431", "\(result)")
    }

    @Test func `an HPACK bomb (one large entry referenced thousands of times) ends the connection without decoding it all`() async throws {
        // 5,000 one-byte references to a 4,000-byte entry: 20 MB decoded from 9 KB. Past 4 ×
        // maxHeaderBytes decoded the connection ends (it used to decode on, a pass over the
        // entry per reference, and answer 431).
        let result = try await withHTTP2App { _, port in try await probe(port, "hpack-bomb", "5000") }
        #expect(result["goaway"] as? Int == 11, "ENHANCE_YOUR_CALM: \(result)")
        #expect(result["closed"] as? Bool == true, "\(result)")
    }

    @Test func `a request answered before its body ended is reset with NO_ERROR, and the connection goes on`() async throws {
        // 413 on the declared length while the body is still coming; the client sends 1,000
        // bytes and stops. After the linger (2 s) the stream is reset: without it the client
        // could upload forever, and a stalled upload would hold its stream slot until the
        // connection ends (the same after a 408). curl's upload in the test above, which ends
        // within the linger, still gets its 413.
        let result = try await withHTTP2App { _, port in try await probe(port, "rejected-upload", "/small") }
        #expect(result["status"] as? String == "413", "\(result)")
        #expect(result["reset"] as? Int == 0, "RST_STREAM NO_ERROR: \(result)")
        #expect(result["after"] as? String == "200", "\(result)")
        #expect(result["goaway"] == nil || result["goaway"] is NSNull, "\(result)")
    }

    @Test func `a route that checks heads before bodies refuses over HTTP 2 without 100 Continue, and invites the authorized`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "screened-upload", "/guarded", "good") }
        #expect(result["anonymous"] as? [String] == ["401"], "\(result)")
        #expect(result["authorized"] as? [String] == ["100", "200"], "\(result)")
    }

    @Test func `request bodies arriving over HTTP 2 count in the process's budget: the one past it gets 503, the others go on`() async throws {
        // 60,000 bytes of one upload wait; a whole 50,000-byte one would take the process past
        // 100,000 (503, Retry-After); once the first connection is gone, the same upload fits.
        let result = try await withHTTP2App(maxReceivingRequestBodyBytes: 100_000) { _, port in
            try await probe(port, "body-budget", "/echo", "60000", "50000")
        }
        #expect(result["refused"] as? String == "503", "\(result)")
        #expect(result["retryAfter"] as? String == "2", "\(result)")
        #expect(result["accepted"] as? String == "200", "\(result)")
    }

    @Test(arguments: [1, 2, 3, 5])
    func `a preface split after its first bytes is still HTTP 2`(firstSegmentBytes: Int) async throws {
        // 1–3 bytes cannot tell HTTP/2 from an HTTP/1.1 method yet; they used to be taken for
        // HTTP/1.1 and the rest answered with 505.
        let result = try await withHTTP2App { _, port in try await probe(port, "split-preface", String(firstSegmentBytes)) }
        #expect(result["status"] as? String == "200", "\(result)")
    }

    @Test func `heads of requests waiting for their bodies stay within maxQueuedRequestBytes per connection`() async throws {
        // 10 KB heads: six fit in 64 KiB, the other four are refused.
        let result = try await withHTTP2App { _, port in try await probe(port, "held-heads", "10", "10000") }
        #expect(result["refused"] as? Int == 4, "\(result)")
    }

    @Test func `streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused, and a client that ignores it is disconnected`() async throws {
        var http2 = HTTP2Configuration()
        http2.maxConcurrentStreams = 8
        let result = try await withHTTP2App(http2: http2) { _, port in try await probe(port, "max-streams", "8", "4") }
        #expect(result["answered"] as? Int == 8, "the allowed streams are served: \(result)")
        #expect(result["answeredBeyond"] as? Int == 0, "\(result)")
        // Before the client acknowledged the setting, nghttp2 refuses the stream
        // (REFUSED_STREAM); after, it is a connection error (GOAWAY PROTOCOL_ERROR).
        #expect(result["refused"] as? Int == 4 || result["goaway"] as? Int == 1, "\(result)")
    }

    @Test func `a client that keeps a stream's window at zero is reset after the write timeout`() async throws {
        let result = try await withHTTP2App(writeTimeout: .seconds(1)) { _, port in try await probe(port, "zero-window", "stuck") }
        #expect(result["reset"] as? Int == 8, "CANCEL: \(result)")
        #expect(result["dataBytes"] as? Int == 0)
    }

    @Test func `a client that opens its windows wide and stops reading holds back the body's writer, not the server's memory`() async throws {
        let result = try await withHTTP2App { _, port in
            hugeBytesWritten.store(0, ordering: .relaxed)
            return try await probe(port, "wide-open", "/huge", "1.5")
        }
        #expect(result["head"] as? Bool == true, "\(result)")
        // The kernel's buffers and a few high-water marks, not the 64 MiB the handler would
        // write (it did, into the transport's queue, before the session stopped at the
        // transport's high-water mark).
        let written = hugeBytesWritten.load(ordering: .relaxed)
        #expect(written < 24 * 1024 * 1024, "\(written) bytes written while the client read nothing: \(result)")
    }

    @Test func `an event stream whose client opens its windows wide and stops reading is reset as a slow client`() async throws {
        let result = try await withHTTP2App { app, port in
            let before = await app.serverStatistics().slowClientDisconnectCount
            let result = try await probe(port, "wide-open-events", "wide", "96", "65536")  // 6 MiB
            // Once: the stream takes nothing more after its reset, which may wait behind the
            // full transport.
            #expect(await app.serverStatistics().slowClientDisconnectCount == before + 1)
            return result
        }
        #expect(result["head"] as? Bool == true, "\(result)")
        #expect(result["reset"] as? Int == 8, "CANCEL: \(result)")
        #expect((result["dataBytes"] as? Int ?? .max) < 96 * 65536, "\(result)")
    }

    @Test func `event streams each within their own limit but together over the connection's are cut off until the rest fits`() async throws {
        let result = try await withHTTP2App { app, port in
            let before = await app.serverStatistics().slowClientDisconnectCount
            // 48 streams × 3 events of 64 KiB: 192 KiB each, under the 256 KiB per stream; 9 MiB
            // together, over the connection's 1 MiB and what the kernel's buffers take.
            let result = try await probe(port, "wide-open-events", "together", "3", "65536", "48")
            let cut = await app.serverStatistics().slowClientDisconnectCount - before
            #expect(cut == result["resets"] as? Int, "\(result)")
            return result
        }
        #expect(result["head"] as? Bool == true, "\(result)")
        #expect((1...47).contains(result["resets"] as? Int ?? 0), "some streams, not all: \(result)")
        #expect(result["goaway"] is NSNull, "the connection goes on: \(result)")
    }

    @Test func `event streams whose windows stay shut are cut off once together over the connection's budget`() async throws {
        let result = try await withHTTP2App { app, port in
            let before = await app.serverStatistics().slowClientDisconnectCount
            // 20 streams × 60 events of 4,000 bytes: 240 KB each, under the 256 KiB per stream
            // (their relays may end as slow consumers, their last events still held); 4.8 MB
            // together, over the connection's 1 MiB.
            let result = try await probe(port, "shut-window-events", "shut", "60", "4000", "20")
            let cut = await app.serverStatistics().slowClientDisconnectCount - before
            #expect(cut >= 1 && cut == result["resets"] as? Int, "\(result)")
            return result
        }
        #expect(result["head"] as? Bool == true, "\(result)")
        #expect(result["goaway"] is NSNull, "\(result)")
    }

    @Test func `heads HTTP/1.1 would refuse are refused over HTTP/2 too, and a HEAD's error has no body`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "heads") }
        let cases = try #require(result["cases"] as? [String: [String: Any]], "\(result)")
        let expected: [String: String] = [
            "userinfo": "400", "port of six digits": "400", "host differs": "400", "host with userinfo": "400",
            "bad IP literal": "400", "host equal but for case": "200", "host without authority": "200", "IPv6 literal": "200",
            "path of 8192 bytes": "404", "path of 8193 bytes": "414", "100 fields": "200", "101 fields": "431",
            "HEAD over the body limit": "413",
        ]
        for (name, status) in expected {
            #expect(cases[name]?["status"] as? String == status, "\(name): \(String(describing: cases[name]))")
        }
        // Two `host` fields: nghttp2 resets the stream itself (PROTOCOL_ERROR), or the server answers 400.
        let twoHosts = cases["two hosts"]?["status"] as? String
        #expect(twoHosts == "400" || twoHosts == "reset 1", "\(String(describing: twoHosts))")
        #expect(cases["HEAD over the body limit"]?["data"] as? Bool == false, "a HEAD's 413 has no body")
        #expect(cases["path of 8193 bytes"]?["data"] as? Bool == true, "a GET's 414 has its body")
        #expect(result["goaway"] is NSNull, "\(result)")
    }

    @Test func `a :path HTTP/1.1 would refuse is refused over HTTP/2 too`() async throws {
        let result = try await withHTTP2App { _, port in try await probe(port, "paths") }
        // /hello, #, raw UTF-8, < (a printable character HTTP/1.1 takes too: no route), 0xFF; then
        // what nghttp2 itself resets (PROTOCOL_ERROR): not origin-form, * for GET, a space.
        let statuses = try #require(result["statuses"] as? [Any], "\(result)")
        let expected = ["200", "400", "400", "404", "400"]
        #expect(statuses.prefix(5).compactMap { $0 as? String } == expected, "\(result)")
        for status in statuses.dropFirst(5) {
            #expect(status as? String == "400" || (status as? String)?.hasPrefix("reset") == true, "\(result)")
        }
        #expect(result["goaway"] is NSNull, "\(result)")
    }

    @Test func `a client waiting for 100 Continue over HTTP/2 gets it and sends its body`() async throws {
        try await withHTTP2App { _, port in
            // Without the interim answer curl would wait its whole --expect100-timeout (30 s).
            let answer = try await runProcess(
                [
                    "/usr/bin/curl", "-s", "--http2-prior-knowledge", "--expect100-timeout", "30", "-H", "Expect: 100-continue",
                    "--data-binary", "continued", "http://127.0.0.1:\(port)/echo",
                ], timeout: .seconds(15))
            #expect(answer.standardOutput == "continued", "\(answer.summary)")
        }
    }

    @Test func `prior knowledge can be switched off: the preface gets HTTP/1.1's 505`() async throws {
        var http2 = HTTP2Configuration()
        http2.acceptsPriorKnowledge = false
        try await withHTTP2App(http2: http2) { _, port in
            let output = try await runProcess(
                ["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{response_code}", "--http2-prior-knowledge", "http://127.0.0.1:\(port)/hello"],
                timeout: .seconds(10))
            #expect(output.standardOutput != "200")
        }
    }

    @Test func `graceful shutdown sends GOAWAY and the event stream's farewell`() async throws {
        let app = try makeHTTP2App(http2: HTTP2Configuration(), writeTimeout: nil, maxReceivingRequestBodyBytes: nil)
        let address = try await app.start()
        async let stream = runProcess(
            ["/usr/bin/curl", "-s", "-N", "--http2-prior-knowledge", "-m", "8", "http://127.0.0.1:\(address.port)/events?channel=bye"],
            timeout: .seconds(15))
        try await waitUntil { await app.broker.statistics().subscribersPerChannel["bye"] == 1 }
        await app.shutdown()
        let output = try await stream
        #expect(output.standardOutput.contains("event: farewell"), "\(output.summary)")
        #expect(output.status == 0, "curl ends cleanly after GOAWAY: \(output.summary)")
    }
}

/// Handlers of `/slow` that saw their cancellation.
private let cancelledHandlers = Atomic<Int>(0)
/// Bytes `/huge` handed to its writer.
private let hugeBytesWritten = Atomic<Int>(0)

private func makeHTTP2App(
    http2: HTTP2Configuration, writeTimeout: Duration?, maxReceivingRequestBodyBytes: Int?, shutdownDrainPeriod: Duration = .zero
) throws -> Application {
    let router = Router()
    router.get("/hello") { _, _ in Response(body: .text("hello")) }
    router.get("/where") { _, context in
        "task=\(withUnsafeCurrentTask { $0 != nil }) loop=\(context.eventLoop.inEventLoop)"
    }
    router.get("/where-async") { _, context in
        try await context.eventLoop.sleep(for: .milliseconds(1))
        return "task=\(withUnsafeCurrentTask { $0 != nil }) loop=\(context.eventLoop.inEventLoop)"
    }
    router.post("/echo", maxBodyBytes: 1024 * 1024) { request, _ in Response(body: .bytes(request.body)) }
    router.post("/small", maxBodyBytes: 64 * 1024) { request, _ in Response(body: .text("\(request.body.count)")) }
    let guarded = router.group("/guarded")
    guarded.checkBeforeBody { request, _ in
        guard request.headerFields[.authorization] == "Bearer good" else { throw HTTPError(.unauthorized) }
    }
    guarded.post("/") { request, _ in Response(body: .text("\(request.body.count)")) }
    router.get("/events") { request, context in
        var stream = try await context.eventStream(
            for: request, configuration: EventStreamConfiguration(heartbeatInterval: .seconds(30)))
        stream.farewell = ServerSentEvent(data: "{\"reason\":\"shutdown\"}", event: "farewell")
        return stream
    }
    router.get("/ticking") { _, context in
        var stream = EventStream { writer in
            while true { try await context.eventLoop.sleep(for: .seconds(1)) }
        }
        stream.farewell = ServerSentEvent(data: "{\"reason\":\"shutdown\"}", event: "farewell")
        return stream
    }
    // Synchronous: the stream subscribes inline, inside the session's receive callbacks.
    router.get("/beating") { request, context in
        try context.eventStream(for: request, configuration: EventStreamConfiguration(heartbeatInterval: .milliseconds(300)))
    }
    router.post("/publish") { request, context in
        let channel = request.query["channel"] ?? "default"
        _ = try await context.publish(ServerSentEvent(data: request.bodyText), channel: channel)
        return Response(body: .text("ok"))
    }
    router.get("/big") { _, _ in
        Response(
            body: ResponseBody { writer in
                let chunk = [UInt8](repeating: 0x61, count: 16 * 1024)
                for _ in 0..<256 { try await writer.write(chunk) }  // 4 MiB
            })
    }
    router.get("/huge") { _, _ in
        Response(
            body: ResponseBody { writer in
                let chunk = [UInt8](repeating: 0x62, count: 64 * 1024)
                for _ in 0..<1024 {  // 64 MiB
                    try await writer.write(chunk)
                    hugeBytesWritten.add(chunk.count, ordering: .relaxed)
                }
            })
    }
    router.get("/slow") { _, _ in
        do {
            try await Task.sleep(for: .seconds(30))
        } catch {
            cancelledHandlers.add(1, ordering: .relaxed)
            throw error
        }
        return Response(body: .text("late"))
    }
    var configuration = ServerConfiguration(eventLoopCount: 1, host: "127.0.0.1", port: 0, http2: http2)
    configuration.writeTimeout = writeTimeout
    if let maxReceivingRequestBodyBytes { configuration.maxReceivingRequestBodyBytes = maxReceivingRequestBodyBytes }
    configuration.shutdownDrainPeriod = shutdownDrainPeriod
    return try Application(router: router, configuration: configuration)
}

/// Starts the application on an ephemeral port, runs `body`, shuts it down.
private func withHTTP2App<T>(
    http2: HTTP2Configuration = HTTP2Configuration(), writeTimeout: Duration? = .seconds(60), maxReceivingRequestBodyBytes: Int? = nil,
    _ body: (Application, Int) async throws -> T
) async throws -> T {
    let app = try makeHTTP2App(http2: http2, writeTimeout: writeTimeout, maxReceivingRequestBodyBytes: maxReceivingRequestBodyBytes)
    let address = try await app.start()
    do {
        let result = try await body(app, address.port)
        await app.shutdown()
        return result
    } catch {
        await app.shutdown()
        throw error
    }
}

/// Runs one mode of Tests/http2/h2_probe.py and returns its JSON.
private func probe(_ port: Int, _ mode: String, _ arguments: String...) async throws -> [String: Any] {
    let script = Paths.packageRoot.appendingPathComponent("Tests/http2/h2_probe.py").path
    let output = try await runProcess(Paths.python + [script, String(port), mode] + arguments, timeout: .seconds(40))
    try #require(output.status == 0 && !output.timedOut, "h2_probe.py \(mode): \(output.summary)")
    let line = try #require(output.standardOutput.split(separator: "\n").last, "h2_probe.py \(mode): \(output.summary)")
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

/// Polls `condition` every 20 ms for up to 5 s.
private func waitUntil(_ condition: () async -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    for _ in 0..<250 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within 5 s", sourceLocation: sourceLocation)
}
