import Foundation
import MetricsTestKit
import Rill
import RillTestSupport
import RillTesting
import Testing

/// The framework's swift-metrics, through a test backend the application was given (the global
/// `MetricsSystem` is left alone, so these run beside every other test).
@Suite struct MetricsTests {
    /// An application on a free port reporting to `metrics`, reporting only when asked.
    private func app(_ metrics: TestMetrics, routes: (Router) -> Void) throws -> Application {
        let router = Router()
        routes(router)
        var configuration = ServerConfiguration(eventLoopCount: 2, host: "127.0.0.1", port: 0)
        configuration.metricsReportingInterval = nil
        return try Application(router: router, configuration: configuration, metricsFactory: metrics)
    }

    @Test func `requests are counted by method and status with their duration`() async throws {
        let metrics = TestMetrics()
        let app = try app(metrics) { router in
            router.get("/ok") { _, _ in "ok" }
            router.post("/fail") { _, _ -> String in throw HTTPError(.conflict) }
        }
        try await app.test(.live) { client in
            _ = try await client.get("/ok")
            _ = try await client.get("/ok")
            _ = try await client.post("/fail", text: "x")
            _ = try await client.get("/missing")
            _ = try await client.execute("/ok", method: .init("PURGE")!)
        }
        let requests = "rill_http_requests_total"
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "GET"), ("status", "200"), ("protocol", "http1")]) == 2)
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "POST"), ("status", "409"), ("protocol", "http1")]) == 1)
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "GET"), ("status", "404"), ("protocol", "http1")]) == 1)
        // A method outside the fixed set is "other": a client cannot add series.
        #expect(metrics.counters(label: requests).filter { $0.dimensions.contains { $0 == ("method", "other") } }.count == 1)
        #expect(metrics.counterTotal(label: requests) == 5)
        let timer = try metrics.expectTimer("rill_request_duration_seconds", [("protocol", "http1")])
        #expect(timer.values.count == 5)
        #expect(timer.values.allSatisfy { $0 > 0 && $0 < 5_000_000_000 })
    }

    @Test func `requests refused before any handler runs are counted too`() async throws {
        let metrics = TestMetrics()
        let router = Router()
        router.get("/ok") { _, _ in "ok" }
        let guarded = router.group("/up")
        guarded.checkBeforeBody { _, _ in throw HTTPError(.unauthorized) }
        guarded.post("/file") { _, _ in "stored" }
        var configuration = ServerConfiguration(eventLoopCount: 1, host: "127.0.0.1", port: 0, maxConnections: 1)
        configuration.metricsReportingInterval = nil
        let app = try Application(router: router, configuration: configuration, metricsFactory: metrics)
        let port = try await app.start().port
        // A malformed request line: 400 from the parser, on the loop, before any route.
        let malformed = try RawConnection(port: port)
        try malformed.send("GET /ok HTTP/1.1 extra\r\nHost: x\r\n\r\n")
        #expect(try malformed.readResponse().status == .badRequest)
        malformed.close()
        // One connection at a time (the cap is 1).
        #expect(await eventually { await app.serverStatistics().connectionCount == 0 })
        // An invalid Content-Length: 400.
        let invalidLength = try RawConnection(port: port)
        try invalidLength.send("POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        #expect(try invalidLength.readResponse(forRequestMethod: .post).status == .badRequest)
        invalidLength.close()
        #expect(await eventually { await app.serverStatistics().connectionCount == 0 })
        // Refused from its head by the route's check: by its method.
        let unauthorized = try RawConnection(port: port)
        try unauthorized.send("POST /up/file HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        #expect(try unauthorized.readResponse(forRequestMethod: .post).status == .unauthorized)
        unauthorized.close()
        #expect(await eventually { await app.serverStatistics().connectionCount == 0 })
        // Over the connection cap (1): 503.
        let holder = try RawConnection(port: port)
        try holder.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try holder.readResponse().status == .ok)
        #expect(await eventually { await app.serverStatistics().connectionCount == 1 })
        let refused = try RawConnection(port: port)
        try refused.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try refused.readResponse().status == .serviceUnavailable)
        refused.close()
        holder.close()
        await app.shutdown()
        let requests = "rill_http_requests_total"
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "other"), ("status", "400"), ("protocol", "http1")]) == 2)
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "other"), ("status", "503"), ("protocol", "http1")]) == 1)
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "POST"), ("status", "401"), ("protocol", "http1")]) == 1)
        #expect(metrics.counterTotal(label: requests, dimensions: [("method", "GET"), ("status", "200"), ("protocol", "http1")]) == 1)
        // No duration for what no handler took.
        #expect(try metrics.expectTimer("rill_request_duration_seconds", [("protocol", "http1")]).values.count == 1)
    }

    @Test func `an HTTP/2 request is counted as h2 and gets its X-Request-Id back`() async throws {
        let metrics = TestMetrics()
        let app = try app(metrics) { router in router.get("/ok") { _, _ in "ok" } }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // curl over h2c (prior knowledge).
            let output = try await runCommand(
                [
                    "/usr/bin/curl", "-s", "-i", "--max-time", "10", "--http2-prior-knowledge", "-H", "X-Request-Id: over-h2",
                    "http://127.0.0.1:\(port)/ok",
                ],
                timeout: .seconds(15)
            ).standardOutput
            #expect(output.hasPrefix("HTTP/2 200"), "\(output)")
            #expect(output.contains("x-request-id: over-h2\r\n"), "\(output)")
        }
        let h2 = [("method", "GET"), ("status", "200"), ("protocol", "h2")]
        #expect(metrics.counterTotal(label: "rill_http_requests_total", dimensions: h2) == 1)
        #expect(try metrics.expectTimer("rill_request_duration_seconds", [("protocol", "h2")]).values.count == 1)
    }

    @Test func `connections, event streams and events are reported from the loops' counters`() async throws {
        let metrics = TestMetrics()
        let app = try app(metrics) { router in
            router.get("/stream") { request, context in try await context.eventStream(for: request, channels: ["news"]) }
        }
        try await app.test(.live) { client in
            await app.reportMetrics()
            #expect(try metrics.expectCounter("rill_events_published_total").totalValue == 0)
            #expect(try metrics.expectGauge("rill_event_streams").lastValue == 0)
            let first = try await client.sse("/stream")
            let second = try await client.sse("/stream")
            _ = try await app.publish("one", channel: "news")
            _ = try await app.publish("two", channel: "news")
            _ = try await first.events(2)
            _ = try await second.events(2)
            await app.reportMetrics()
            #expect(try metrics.expectGauge("rill_connections").lastValue == 2)
            let byLoop = try (0..<2).map { try metrics.expectGauge("rill_loop_connections", [("loop", "\($0)")]).lastValue ?? -1 }
            #expect(byLoop.reduce(0, +) == 2)
            #expect(try metrics.expectGauge("rill_event_streams").lastValue == 2)
            #expect(try metrics.expectGauge("rill_subscribers").lastValue == 2)
            #expect(try metrics.expectGauge("rill_channels").lastValue == 1)
            #expect(try metrics.expectCounter("rill_events_published_total").totalValue == 2)
            #expect(try metrics.expectCounter("rill_events_delivered_total").totalValue == 4)
            // A second report adds only what happened since the first.
            _ = try await app.publish("three", channel: "news")
            _ = try await first.events(1)
            _ = try await second.events(1)
            await app.reportMetrics()
            #expect(try metrics.expectCounter("rill_events_published_total").totalValue == 3)
            #expect(try metrics.expectCounter("rill_events_delivered_total").totalValue == 6)
            #expect(try metrics.expectCounter("rill_slow_client_disconnects_total").totalValue == 0)
            first.close()
            second.close()
            #expect(
                await eventually {
                    await app.reportMetrics()
                    return (try? metrics.expectGauge("rill_event_streams").lastValue) == 0
                })
        }
    }

    @Test func `the publish-to-write latency of live events is measured per write, on every loop`() async throws {
        let metrics = TestMetrics()
        let app = try app(metrics) { router in
            router.get("/stream") { request, context in try await context.eventStream(for: request, channels: ["news"]) }
        }
        try await app.test(.live) { client in
            #expect(await app.serverStatistics().deliveryLatency == DeliveryLatency())
            // Streams on both loops (the kernel spreads them; enough that each loop gets some).
            var streams: [SSETestStream] = []
            for _ in 0..<8 { streams.append(try await client.sse("/stream")) }
            for n in 1...5 {
                _ = try await app.publish("event \(n)", channel: "news")
                for stream in streams { _ = try await stream.events(1) }
            }
            let latency = await app.serverStatistics().deliveryLatency
            // Each event reached each stream in a write of its own (they were awaited one by one).
            #expect(latency.writeCount == 40, "\(latency)")
            #expect(latency.p50 > .zero && latency.p50 <= latency.p99 && latency.p99 <= latency.max, "\(latency)")
            await app.reportMetrics()
            let p50 = try metrics.expectGauge("rill_delivery_latency_seconds", [("quantile", "0.5")]).lastValue ?? 0
            let p99 = try metrics.expectGauge("rill_delivery_latency_seconds", [("quantile", "0.99")]).lastValue ?? 0
            #expect(p50 > 0 && p50 <= p99, "\(p50) \(p99)")
            for stream in streams { stream.close() }
        }
    }

    @Test func `a running application reports by itself every interval`() async throws {
        let metrics = TestMetrics()
        let router = Router()
        router.get("/ok") { _, _ in "ok" }
        var configuration = ServerConfiguration(eventLoopCount: 1, host: "127.0.0.1", port: 0)
        configuration.metricsReportingInterval = .milliseconds(20)
        let app = try Application(router: router, configuration: configuration, metricsFactory: metrics)
        try await app.test(.live) { client in
            _ = try await app.publish("one", channel: "news")
            #expect(await eventually { (try? metrics.expectCounter("rill_events_published_total").totalValue) == 1 })
            _ = try await client.get("/ok")
        }
    }
}
