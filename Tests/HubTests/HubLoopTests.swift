import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The hub on several event loops: `--loops`, and each loop's connections in `/metrics`
/// (`rill_loop_connections{loop="N"}`) and in `/stats` (`connectionsByLoop`) beside the total.
@Suite struct HubLoopTests {
    /// The `rill_loop_connections` samples of a scrape, in loop order (nil for a missing loop).
    private func loopSamples(_ metrics: Exposition, loops: Int) -> [Double?] {
        (0..<loops).map { metrics.samples[#"rill_loop_connections{loop="\#($0)"}"#] }
    }

    @Test func `metrics show each loop's connections, adding up to the total`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, eventLoopCount: 2))
        #expect(app.eventLoops.count == 2)
        try await app.test(.live) { client in
            // 16 streams: the kernel spreads them by a hash of the address pair, so both loops
            // get some (all on one loop: a chance of 2 in 2^16).
            var streams: [SSETestStream] = []
            for _ in 0..<16 { streams.append(try await client.sse("/stream?channel=loops")) }
            #expect(await eventually { await subscriptions(app) == 16 })
            var metrics = Exposition("")
            #expect(
                await eventually {
                    metrics = Exposition((try? await client.get("/metrics").bodyText) ?? "")
                    return metrics.samples["rill_connections"] == 17  // the streams and the scrape
                })
            let perLoop = loopSamples(metrics, loops: 2)
            #expect(perLoop.allSatisfy { $0 != nil }, "\(metrics.samples)")
            #expect(metrics.samples.keys.filter { $0.hasPrefix("rill_loop_connections") }.count == 2)
            #expect(perLoop.compactMap { $0 }.reduce(0, +) == 17)
            #expect(perLoop.allSatisfy { ($0 ?? 0) >= 1 }, "both loops serve connections: \(perLoop)")
            #expect(metrics.types["rill_loop_connections"] == "gauge")
            // The existing names stay.
            #expect(metrics.types["rill_connections"] == "gauge")
            #expect(metrics.samples["rill_subscribers"] == 16)

            for stream in streams { stream.close() }
            #expect(
                await eventually {
                    metrics = Exposition((try? await client.get("/metrics").bodyText) ?? "")
                    return metrics.samples["rill_connections"] == 1
                })
            #expect(loopSamples(metrics, loops: 2).compactMap { $0 }.reduce(0, +) == 1)
        }
    }

    @Test func `stats samples carry each loop's connections`() async throws {
        let app = try Hub.makeApplication(
            HubOptions(host: "127.0.0.1", port: 0, eventLoopCount: 2, statsInterval: .milliseconds(100)))
        try await app.test(.live) { client in
            let stats = try await client.sse("/stats")
            var streams: [SSETestStream] = []
            for _ in 0..<4 { streams.append(try await client.sse("/stream?channel=s")) }
            #expect(await eventually { await subscriptions(app) == 4 })
            var latest: HubStats?
            for _ in 0..<50 {
                let event = try #require(try await stats.events(1).first)
                let sample = try JSONDecoder().decode(HubStats.self, from: Data(event.data.utf8))
                latest = sample
                if sample.connections == 5 { break }  // the streams and /stats itself
            }
            let sample = try #require(latest)
            #expect(sample.connections == 5)
            #expect(sample.connectionsByLoop.count == 2)
            #expect(sample.connectionsByLoop.reduce(0, +) == sample.connections, "\(sample.connectionsByLoop)")
            for stream in streams { stream.close() }
            stats.close()
        }
    }

    @Test func `without a loop count the hub runs one loop per available CPU`() async throws {
        let app = try hub()
        #expect(app.eventLoops.count == EventLoop.availableCoreCount)
        try await app.test(.live) { client in
            let metrics = Exposition(try await client.get("/metrics").bodyText)
            let perLoop = loopSamples(metrics, loops: EventLoop.availableCoreCount)
            #expect(perLoop.allSatisfy { $0 != nil }, "\(metrics.samples)")
            #expect(metrics.samples.keys.filter { $0.hasPrefix("rill_loop_connections") }.count == EventLoop.availableCoreCount)
            #expect(perLoop.compactMap { $0 }.reduce(0, +) == metrics.samples["rill_connections"])
        }
    }

    @Test func `the executable runs --loops 2 on two named loop threads`() async throws {
        let hub = try await HubProcess(["--loops", "2"])
        #expect(threadNames(of: hub.process.pid).filter { $0.hasPrefix("rill-loop-") } == ["rill-loop-0", "rill-loop-1"])
        let stream = try await hub.client.sse("/stream?channel=p")
        let metrics = Exposition(try await hub.client.get("/metrics").bodyText)
        #expect(metrics.samples.keys.filter { $0.hasPrefix("rill_loop_connections") }.count == 2)
        #expect(loopSamples(metrics, loops: 2).compactMap { $0 }.reduce(0, +) == metrics.samples["rill_connections"])
        stream.close()
        #expect(try await hub.terminate() == "exit status 0")
    }
}
