import HubCore
import Rill
import RillTesting
import Testing

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@Suite struct PublishAndStreamTests {
    @Test func `a published body reaches the subscriber verbatim`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=room")
            #expect(stream.status == .ok)
            #expect(await eventually { await subscriptions(app) == 1 })
            let body = "line one\nline two\n\n  indented: «ünïcode» ✓\n"
            let response = try await client.post("/publish?channel=room", text: body)
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType]?.hasPrefix("application/json") == true)
            let answer = try response.decode(PublishAnswer.self)
            #expect(response.bodyText == #"{"id":"\#(answer.id)","subscribers":1}"#)
            #expect(try await stream.events(1) == [MessageEvent(type: "message", data: body, lastEventID: answer.id)])
            stream.close()
        }
    }

    @Test func `event and ID parameters name the event`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=news")
            #expect(await eventually { await subscriptions(app) == 1 })
            let response = try await client.post("/publish?channel=news&event=headline&id=custom-7", text: "big news")
            #expect(try response.decode(PublishAnswer.self) == PublishAnswer(id: "custom-7", subscribers: 1))
            #expect(try await stream.events(1) == [MessageEvent(type: "headline", data: "big news", lastEventID: "custom-7")])
            stream.close()
        }
    }

    @Test func `the answer counts subscribers and assigns increasing IDs`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let first = try await client.sse("/stream?channel=a")
            let second = try await client.sse("/stream?channel=a&channel=b")
            #expect(await eventually { await subscriptions(app) == 2 })
            let toA = try await client.post("/publish?channel=a", text: "to a").decode(PublishAnswer.self)
            let toB = try await client.post("/publish?channel=b", text: "to b").decode(PublishAnswer.self)
            let toNobody = try await client.post("/publish?channel=empty", text: "nobody").decode(PublishAnswer.self)
            #expect(toA.subscribers == 2)
            #expect(toB.subscribers == 1)
            #expect(toNobody.subscribers == 0)
            let ids = [toA.id, toB.id, toNobody.id].compactMap { Int($0) }
            #expect(ids.count == 3 && ids == ids.sorted() && Set(ids).count == 3)
            #expect(try await first.events(1).map(\.data) == ["to a"])
            #expect(try await second.events(2).map(\.data) == ["to a", "to b"])
            first.close()
            second.close()
        }
    }

    @Test func `a publish without a channel goes to the default channel`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream")
            #expect(await eventually { await subscriptions(app) == 1 })
            #expect(try await client.post("/publish", text: "default").decode(PublishAnswer.self).subscribers == 1)
            #expect(try await stream.events(1).map(\.data) == ["default"])
            stream.close()
        }
    }

    @Test func `Last-Event-ID replays what was missed, then continues live`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            var ids: [String] = []
            for n in 1...3 { ids.append(try await client.post("/publish?channel=news", text: "n\(n)").decode(PublishAnswer.self).id) }
            let resumed = try await client.sse("/stream?channel=news", headerFields: [lastEventIDField: ids[0]])
            #expect(resumed.headerFields[replayField] == "complete")
            #expect(
                try await resumed.events(2) == [
                    MessageEvent(data: "n2", lastEventID: ids[1]), MessageEvent(data: "n3", lastEventID: ids[2]),
                ])
            #expect(await eventually { await subscriptions(app) == 1 })
            _ = try await client.post("/publish?channel=news", text: "n4")
            #expect(try await resumed.events(1).map(\.data) == ["n4"])
            resumed.close()
            // The query parameter, for clients that cannot set headers.
            let byQuery = try await client.sse("/stream?channel=news&lastEventId=\(ids[2])")
            #expect(try await byQuery.events(1).map(\.data) == ["n4"])
            byQuery.close()
        }
    }

    @Test func `history beyond the history count is announced as a gap`() async throws {
        let app = try hub(history: 2)
        try await app.test(.live) { client in
            for n in 1...5 { _ = try await client.post("/publish?channel=c", text: "n\(n)") }
            let stream = try await client.sse("/stream?channel=c", headerFields: [lastEventIDField: "1"])
            #expect(stream.headerFields[replayField] == "gap")
            #expect(try await stream.events(3).map(\.type) == ["rill-history-gap", "message", "message"])
            stream.close()
        }
    }
}

@Suite struct PublishErrorTests {
    struct Failure: Decodable {
        struct Detail: Decodable {
            var status: Int
            var message: String?
        }
        var error: Detail
    }

    @Test(arguments: [
        "/publish?channel=x&id=a%0Ab",  // an id with a line feed
        "/publish?channel=x&id=a%0Db",  // …with a carriage return
        "/publish?channel=x&id=a%00b",  // …with NUL
        "/publish?channel=x&event=a%0Ab",  // an event name with a line feed
        "/publish?channel=a%01b",  // a channel with a control character
        "/publish?channel=" + String(repeating: "c", count: 257),  // a channel that is too long
        "/publish?channel=x&id=%207",  // an id with a leading space (Last-Event-ID would lose it)
        "/publish?channel=x&event=rill-reconnect",  // an event name of the server's own
        "/publish?channel=a&channel=b",  // two channels (one would have been ignored)
        "/publish?channel=x&id=1&id=2",  // two ids
        "/publish?channel=cafe%CC%81",  // a channel outside Unicode NFC
        "/publish?channel=",  // an empty channel (was taken for the default channel)
        "/publish?channel=&event=x",
    ])
    func `invalid events and channels are 400`(path: String) async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.post(path, text: "x")
            #expect(response.status == .badRequest, "\(path)")
            #expect(try response.decode(Failure.self).error.status == 400)
            #expect(await app.broker.statistics().publishedEventCount == 0)
        }
    }

    @Test func `a publish body that is not UTF-8 is a 400, not an event of replacement characters`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let answer = try await client.post("/publish?channel=t", body: [0x61, 0xFF, 0xFE, 0x62])
            #expect(answer.status == .badRequest)
            #expect(answer.bodyText.contains("not UTF-8"))
            #expect(await app.broker.statistics().publishedEventCount == 0)
            #expect(try await client.post("/publish?channel=t", body: Array("añb".utf8)).status == .ok)
        }
    }

    @Test func `a compressed publish body is a 415, not an event of compressed bytes`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.post("/publish?channel=x", body: [0x1F, 0x8B, 0x08, 0x00], headerFields: [.contentEncoding: "gzip"])
            #expect(response.status == .unsupportedMediaType)
            #expect(await app.broker.statistics().publishedEventCount == 0)
        }
    }

    @Test func `with a token, publishing needs it as bearer or query`() async throws {
        let app = try hub(token: "s3cret")
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=t")  // subscribing needs no token
            #expect(stream.status == .ok)
            #expect(await eventually { await subscriptions(app) == 1 })
            let missing = try await client.post("/publish?channel=t", text: "x")
            #expect(missing.status == .unauthorized)
            #expect(missing.headerFields[.contentType]?.hasPrefix("application/json") == true)
            #expect(try missing.decode(Failure.self).error.status == 401)
            #expect(missing.headerFields[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            for wrong: HTTPFields in [
                [.authorization: "Bearer s3cre"], [.authorization: "Bearer s3cret2"], [.authorization: "Basic s3cret"],
                [.authorization: "s3cret"],
            ] {
                #expect(try await client.post("/publish?channel=t", text: "x", headerFields: wrong).status == .unauthorized)
            }
            #expect(try await client.post("/publish?channel=t&token=wrong", text: "x").status == .unauthorized)
            #expect(await app.broker.statistics().publishedEventCount == 0)

            let byHeader = try await client.post("/publish?channel=t", text: "by header", headerFields: [.authorization: "Bearer s3cret"])
            #expect(byHeader.status == .ok)
            let byQuery = try await client.post("/publish?channel=t&token=s3cret", text: "by query")
            #expect(byQuery.status == .ok)
            // Several spaces after the scheme are one separator (as for a JWT).
            let spaced = try await client.post("/publish?channel=t", text: "spaced", headerFields: [.authorization: "bearer   s3cret"])
            #expect(spaced.status == .ok)
            #expect(try await stream.events(3).map(\.data) == ["by header", "by query", "spaced"])
            stream.close()
        }
    }
}

@Suite struct OperationsTests {
    @Test func `streams get heartbeat comments after the configured silence`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, heartbeat: .milliseconds(100)))
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=quiet")
            try await stream.waitForBody(containing: "\n\n:\n\n")  // after ":ok", a heartbeat comment
            stream.close()
        }
    }

    @Test func `connections beyond maxConnections are 503`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, maxConnections: 2))
        try await app.test(.live) { client in
            let first = try await client.sse("/stream?channel=a")
            let second = try await client.sse("/stream?channel=b")
            #expect(await eventually { await app.connectionCount() == 2 })
            #expect(try await client.get("/health").status == .serviceUnavailable)
            first.close()
            #expect(await eventually { await app.connectionCount() == 1 })
            #expect(try await client.get("/health").status == .ok)
            second.close()
        }
    }

    @Test func `a subscriber further behind than maxQueuedBytes is disconnected`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, maxQueuedBytes: 32 * 1024))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let stalled = try RawConnection(port: port, timeout: .seconds(5), receiveBufferBytes: 2048)
            try stalled.send("GET /stream?channel=firehose HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await eventually { await subscriptions(app) == 1 })
            let payload = String(repeating: "p", count: 8000)
            for _ in 0..<1000 where await subscriptions(app) == 1 {
                _ = try await client.post("/publish?channel=firehose", text: payload)
            }
            #expect(await eventually { await subscriptions(app) == 0 })
            let metrics = Exposition(try await client.get("/metrics").bodyText)
            #expect(metrics.samples["rill_events_published_total"].map { $0 > 0 } == true)
            #expect(metrics.samples["rill_slow_client_disconnects_total"] == 1)
            stalled.close()
        }
    }

    @Test func `health answers OK`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.get("/health")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType]?.hasPrefix("application/json") == true)
            #expect(try response.decode([String: String].self) == ["status": "ok"])
        }
    }

    @Test func `ping answers plain text`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.get("/ping")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType]?.hasPrefix("text/plain") == true)
            #expect(response.bodyText == "pong")
        }
    }

    @Test func `metrics follow connections, subscribers and publishes`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let before = try await client.get("/metrics")
            #expect(before.status == .ok)
            #expect(before.headerFields[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let empty = Exposition(before.bodyText)
            #expect(empty.samples["rill_events_published_total"] == 0)
            #expect(empty.samples["rill_events_delivered_total"] == 0)
            #expect(empty.samples["rill_events_dropped_total"] == 0)
            #expect(empty.samples["rill_slow_client_disconnects_total"] == 0)
            #expect(empty.samples["rill_connections"] == 1)  // this request's own
            #expect(empty.samples["rill_subscribers"] == 0)
            #expect(empty.samples["rill_channels"] == 0)
            #expect(empty.samples["rill_accept_errors_total"] == 0)
            let families = [
                "rill_connections", "rill_subscribers", "rill_channels", "rill_events_published_total",
                "rill_events_delivered_total", "rill_events_dropped_total", "rill_slow_client_disconnects_total",
                "rill_accept_errors_total",
            ]
            for family in families { #expect(empty.types[family] != nil, "TYPE \(family)") }
            // Every family has its HELP line (swift-prometheus's own factory writes none for
            // metrics made through swift-metrics; the hub's factory adds the framework's).
            for family in empty.types.keys { #expect(empty.helps[family]?.isEmpty == false, "HELP \(family)") }
            #expect(empty.helps["rill_connections"] == "Open client connections, all event loops.")
            #expect(empty.types["rill_connections"] == "gauge")
            #expect(empty.types["rill_subscribers"] == "gauge")
            #expect(empty.types["rill_channels"] == "gauge")
            for family in families.dropFirst(3) { #expect(empty.types[family] == "counter", "TYPE \(family)") }

            // A channel whose name needs escaping in a label value: `we"ird\x`.
            let weird = try await client.sse("/stream?channel=we%22ird%5Cx")
            let plain1 = try await client.sse("/stream?channel=plain")
            let plain2 = try await client.sse("/stream?channel=plain")
            #expect(await eventually { await subscriptions(app) == 3 })
            _ = try await client.post("/publish?channel=plain", text: "one")
            _ = try await client.post("/publish?channel=plain", text: "two")
            _ = try await client.post("/publish?channel=we%22ird%5Cx", text: "three")
            _ = try await client.post("/publish?channel=nobody", text: "four")

            // The three streams and the scrape itself, once the server saw the POSTs' connections close.
            var after = Exposition("")
            #expect(
                await eventually {
                    after = Exposition((try? await client.get("/metrics").bodyText) ?? "")
                    return after.samples["rill_connections"] == 4
                })
            #expect(after.samples["rill_events_published_total"] == 4)
            #expect(after.samples["rill_events_delivered_total"] == 5)
            #expect(after.samples["rill_subscribers"] == 3)
            #expect(after.samples["rill_channels"] == 2)
            // No channel name by default.
            #expect(!after.samples.keys.contains { $0.contains("channel=") })
            for stream in [weird, plain1, plain2] { stream.close() }
            #expect(await eventually { await subscriptions(app) == 0 })
            let closed = Exposition(try await client.get("/metrics").bodyText)
            #expect(closed.samples["rill_subscribers"] == 0)
        }
    }

    @Test func `metrics name at most the configured number of busiest channels`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, maxMetricsChannels: 2))
        try await app.test(.live) { client in
            // A channel whose name needs escaping in a label value: `we"ird\x`, and two more.
            var streams = [try await client.sse("/stream?channel=we%22ird%5Cx")]
            for _ in 0..<3 { streams.append(try await client.sse("/stream?channel=busy")) }
            for _ in 0..<2 { streams.append(try await client.sse("/stream?channel=second")) }
            #expect(await eventually { await subscriptions(app) == 6 })
            let metrics = Exposition(try await client.get("/metrics").bodyText)
            #expect(metrics.samples[#"rill_channel_subscribers{channel="busy"}"#] == 3)
            #expect(metrics.samples[#"rill_channel_subscribers{channel="second"}"#] == 2)
            #expect(metrics.samples.keys.filter { $0.contains("channel=") }.count == 2)
            #expect(metrics.samples["rill_channels"] == 3)
            #expect(metrics.types["rill_channel_subscribers"] == "gauge")
            for stream in streams { stream.close() }
        }
        // A channel that needs escaping in a label value, named by swift-prometheus's registry.
        let weird = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, maxMetricsChannels: 1))
        try await weird.test(.live) { client in
            let stream = try await client.sse("/stream?channel=we%22ird%5Cx")
            #expect(await eventually { await subscriptions(weird) == 1 })
            let text = try await client.get("/metrics").bodyText
            #expect(text.contains(#"rill_channel_subscribers{channel="we\"ird\\x"} 1"#))
            stream.close()
        }
    }

    @Test func `with a metrics token, metrics need it as bearer`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, metricsToken: "m3trics"))
        try await app.test(.live) { client in
            let without = try await client.get("/metrics")
            #expect(without.status == .unauthorized)
            #expect(without.headerFields[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(try await client.get("/metrics?token=m3trics").status == .unauthorized)
            #expect(try await client.get("/metrics", headerFields: [.authorization: "Bearer wrong"]).status == .unauthorized)
            let with = try await client.get("/metrics", headerFields: [.authorization: "Bearer m3trics"])
            #expect(with.status == .ok)
            #expect(Exposition(with.bodyText).samples["rill_connections"] != nil)
        }
    }

    @Test func `stats sends a JSON sample every interval`() async throws {
        let app = try hub(statsInterval: .milliseconds(100))
        try await app.test(.live) { client in
            let stats = try await client.sse("/stats")
            #expect(stats.status == .ok)
            #expect(stats.headerFields[.contentType]?.hasPrefix("text/event-stream") == true)
            let first = try JSONDecoder().decode(HubStats.self, from: Data(try #require(try await stats.events(1).first).data.utf8))
            #expect(first.connections >= 1)
            #expect(first.published == 0 && first.delivered == 0 && first.subscribers == 0)
            #expect(first.deliveriesPerSecond == 0)

            let stream = try await client.sse("/stream?channel=s")
            #expect(await eventually { await subscriptions(app) == 1 })
            for n in 1...5 { _ = try await client.post("/publish?channel=s", text: "\(n)") }
            var latest = first
            for _ in 0..<50 where latest.delivered < 5 {
                let event = try #require(try await stats.events(1).first)
                latest = try JSONDecoder().decode(HubStats.self, from: Data(event.data.utf8))
            }
            #expect(latest.published == 5 && latest.delivered == 5 && latest.subscribers == 1)
            #expect(latest.connections >= 2)
            #expect(latest.deliveriesPerSecond > 0)
            stream.close()
            stats.close()
        }
    }

    @Test func `the dashboard draws stats on a canvas`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.get("/")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "text/html; charset=utf-8")
            // No other site may frame it (its publish form), and the browser keeps it to this
            // origin (the Chromium test runs the page under this policy).
            let policy = try #require(response.headerFields[HTTPField.Name("Content-Security-Policy")!])
            #expect(policy.contains("frame-ancestors 'none'") && policy.contains("connect-src 'self'"))
            #expect(response.headerFields[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(response.headerFields[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            let page = response.bodyText
            #expect(page.contains("<canvas id=\"chart\""))
            #expect(page.contains("new EventSource('/stats?' + query)"))
            #expect(page.contains("getContext('2d')"))
            #expect(page.contains("deliveriesPerSecond"))
            #expect(!page.contains("http://") && !page.contains("https://"))  // nothing from a CDN
        }
    }
}

@Suite struct CORSTests {
    static let origin = "https://app.example.com"
    static let allowOrigin = HTTPField.Name.accessControlAllowOrigin

    private func expectCORS(_ fields: HTTPFields, _ comment: Comment) {
        #expect(fields[Self.allowOrigin] == Self.origin, comment)
        #expect(fields[.accessControlAllowCredentials] == "true", comment)
        let varies = fields[values: .vary].flatMap { $0.split(separator: ",") }.map { $0.trimmingPrefix(" ") }
        #expect(varies.contains("Origin"), comment)
    }

    @Test func `responses carry the allowed origin`() async throws {
        let app = try hub(token: "t", corsOrigin: Self.origin)
        try await app.test(.live) { client in
            let fromPage: HTTPFields = [.origin: Self.origin]
            expectCORS(try await client.get("/health", headerFields: fromPage).headerFields, "health")
            let denied = try await client.post("/publish?channel=x", text: "x", headerFields: fromPage)
            #expect(denied.status == .unauthorized)
            expectCORS(denied.headerFields, "401")
            expectCORS(try await client.get("/missing", headerFields: fromPage).headerFields, "404")
            let stream = try await client.sse("/stream?channel=x", headerFields: fromPage)
            #expect(stream.status == .ok)
            expectCORS(stream.headerFields, "stream")
            stream.close()
        }
    }

    @Test func `an anonymous publisher waiting for 100 Continue is refused before its body, with the allowed origin`() async throws {
        let app = try hub(token: "t", corsOrigin: Self.origin)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let head = try await onDedicatedThread { () -> String in
                let connection = try RawConnection(port: port)
                defer { connection.close() }
                try connection.send(
                    "POST /publish?channel=x HTTP/1.1\r\nHost: x\r\nOrigin: \(Self.origin)\r\nContent-Length: 500000\r\n"
                        + "Expect: 100-continue\r\n\r\n")
                // Everything until the server closes: no `100 Continue` before the refusal.
                return String(decoding: try connection.receiveUntilClose(), as: UTF8.self)
            }
            #expect(head.hasPrefix("HTTP/1.1 401 "), "\(head.prefix(80))")
            #expect(head.lowercased().contains("access-control-allow-origin: \(Self.origin)"))
            #expect(await app.broker.statistics().publishedEventCount == 0)
            // With the token the same upload is invited.
            let invited = try await onDedicatedThread { () -> String in
                let connection = try RawConnection(port: port)
                defer { connection.close() }
                try connection.send(
                    "POST /publish?channel=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: 5\r\n"
                        + "Expect: 100-continue\r\n\r\n")
                let interim = String(decoding: try connection.receive(atLeast: 25), as: UTF8.self)
                try connection.send("hello")
                return interim + "|" + "\(try connection.readResponse(forRequestMethod: .post).status.code)"
            }
            #expect(invited == "HTTP/1.1 100 Continue\r\n\r\n|200")
        }
    }

    @Test func `a preflight is answered with methods and headers`() async throws {
        let app = try hub(corsOrigin: Self.origin)
        try await app.test(.live) { client in
            let response = try await client.execute(
                "/publish?channel=x", method: .options,
                headerFields: [
                    .origin: Self.origin, .accessControlRequestMethod: "POST",
                    .accessControlRequestHeaders: "authorization, content-type",
                ])
            #expect(response.status == .noContent)
            expectCORS(response.headerFields, "preflight")
            #expect(response.headerFields[.accessControlAllowMethods] == "GET, POST")
            #expect(response.headerFields[.accessControlAllowHeaders] == "Authorization, Content-Type, Last-Event-ID")
            #expect(await app.broker.statistics().publishedEventCount == 0)
            // A plain OPTIONS is the router's: `Allow` for a route, 404 for no route (with the
            // origin's fields all the same).
            let plain = try await client.execute("/publish", method: .options, headerFields: [.origin: Self.origin])
            #expect(plain.status == .noContent)
            #expect(plain.headerFields[.allow] == "OPTIONS, POST")
            #expect(plain.headerFields[.accessControlAllowMethods] == nil)
            let nowhere = try await client.execute("/nowhere", method: .options, headerFields: [.origin: Self.origin])
            #expect(nowhere.status == .notFound)
            expectCORS(nowhere.headerFields, "404")
        }
    }

    @Test(arguments: [false, true])
    func `a Private Network Access preflight is answered only with --cors-private-network`(allowed: Bool) async throws {
        let app = try hub(corsOrigin: Self.origin, corsPrivateNetwork: allowed)
        try await app.test(.live) { client in
            let response = try await client.execute(
                "/stream?channel=x", method: .options,
                headerFields: [
                    .origin: Self.origin, .accessControlRequestMethod: "GET",
                    HTTPField.Name("Access-Control-Request-Private-Network")!: "true",
                ])
            #expect(response.status == .noContent)
            #expect(response.headerFields[HTTPField.Name("Access-Control-Allow-Private-Network")!] == (allowed ? "true" : nil))
        }
    }

    @Test func `any origin is allowed without credentials`() async throws {
        let app = try hub(corsOrigin: "*")
        try await app.test(.live) { client in
            let response = try await client.get("/health", headerFields: [.origin: "https://elsewhere.example"])
            #expect(response.headerFields[Self.allowOrigin] == "*")
            #expect(response.headerFields[.accessControlAllowCredentials] == nil)
        }
    }

    @Test func `without the option there are no CORS headers`() async throws {
        let app = try hub()
        try await app.test(.live) { client in
            let response = try await client.get("/health", headerFields: [.origin: Self.origin])
            #expect(response.headerFields[Self.allowOrigin] == nil)
            let preflight = try await client.execute("/publish", method: .options, headerFields: [.origin: Self.origin])
            // The router answers OPTIONS itself, but with no CORS header a browser's
            // preflight fails.
            #expect(preflight.status == .noContent)
            #expect(preflight.headerFields[.allow] == "OPTIONS, POST")
            #expect(preflight.headerFields[Self.allowOrigin] == nil)
        }
    }
}

@Suite struct LifecycleTests {
    @Test func `streams start with a jittered retry and end at their maximum age with rill-reconnect`() async throws {
        let app = try Hub.makeApplication(
            HubOptions(host: "127.0.0.1", port: 0, retry: .seconds(2), maxConnectionAge: .milliseconds(400), drain: .zero))
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=aging")
            try await stream.waitForBody(containing: "event: rill-reconnect\ndata: {\"reason\":\"max connection age\"}\n\n")
            let events = try await stream.remainingEvents()
            #expect(stream.isEnded)
            #expect(events.last?.type == "rill-reconnect")
        }
        // The retry hint of 40 streams: each within ±25 % of 2 s, and not all the same.
        var retries: [Int] = []
        let spread = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, retry: .seconds(2), drain: .zero))
        try await spread.test(.live) { client in
            for _ in 0..<40 {
                let stream = try await client.sse("/stream?channel=spread")
                try await stream.waitForBody(containing: "\n\n")
                let body = String(decoding: stream.body, as: UTF8.self)
                stream.close()
                let digits = body.split(separator: "\n").first { $0.hasPrefix("retry: ") }?.dropFirst(7)
                retries.append(Int(digits ?? "") ?? -1)
            }
        }
        #expect(retries.allSatisfy { (1_500...2_500).contains($0) }, "\(retries)")
        #expect(Set(retries).count > 10, "\(retries)")
    }
}
