import Foundation
import HubCore
import Rill
import RillTestSupport
import RillTesting
import Testing

/// `GET /stats` beyond the totals: the channel table (its access rule, search and bounds) and
/// the server's publish-to-write latency, which the dashboard shows.
@Suite struct HubStatsTests {
    /// Reads samples from `stats` until one satisfies `condition` (at most 50).
    private func sample(_ stats: SSETestStream, where condition: (HubStats) -> Bool) async throws -> HubStats {
        var latest: HubStats?
        for _ in 0..<50 {
            let event = try #require(try await stats.events(1).first)
            latest = try JSONDecoder().decode(HubStats.self, from: Data(event.data.utf8))
            if condition(latest!) { return latest! }
        }
        return try #require(latest)
    }

    @Test func `the busiest channels come first, with rates, history and the search`() async throws {
        let app = try hub(statsInterval: .milliseconds(100))
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=quiet")
            #expect(await eventually { await subscriptions(app) == 1 })
            _ = try await client.post("/publish?channel=history-only", text: "kept")
            let stats = try await client.sse("/stats")
            // Publish to "busy" while the samples come: it has a rate, "quiet" a subscriber.
            let publisher = Task {
                for n in 0..<200 where !Task.isCancelled {
                    _ = try? await client.post("/publish?channel=busy", text: "\(n)")
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            let busy = try await sample(stats) { ($0.channels?.first?.eventsPerSecond ?? 0) > 0 }
            publisher.cancel()
            let rows = try #require(busy.channels)
            #expect(busy.channelCount == 3)
            #expect(rows.map(\.name) == ["busy", "quiet", "history-only"], "\(rows)")
            #expect(rows[0].eventsPerSecond > 0 && rows[0].published > 0 && (rows[0].historyEvents ?? 0) > 0)
            #expect(rows[1].subscribers == 1 && rows[1].published == 0 && rows[1].historyEvents == 0)
            #expect(rows[2].historyEvents == 1 && (rows[2].historyBytes ?? 0) > 0)
            stats.close()

            // The server-side search (case-insensitive) and the row limit.
            let searched = try await client.sse("/stats?search=QUI")
            #expect(try await sample(searched) { _ in true }.channels?.map(\.name) == ["quiet"])
            searched.close()
            let limited = try await client.sse("/stats?channels=1")
            let first = try await sample(limited) { _ in true }
            #expect(first.channels?.count == 1 && first.channelCount == 3)
            limited.close()
            for bad in ["/stats?channels=1001", "/stats?channels=-1", "/stats?channels=x"] {
                #expect(try await client.get(bad).status == .badRequest, "\(bad)")
            }
            stream.close()
        }
    }

    @Test func `a hub with a token lists channel names only to that token or the metrics token`() async throws {
        let app = try Hub.makeApplication(
            HubOptions(host: "127.0.0.1", port: 0, token: "s3cret", statsInterval: .milliseconds(100), metricsToken: "m3trics"))
        try await app.test(.live) { client in
            _ = try await client.post("/publish?channel=users/42", text: "private", headerFields: [.authorization: "Bearer s3cret"])
            let anonymous = try await client.sse("/stats")
            let hidden = try await sample(anonymous) { _ in true }
            #expect(hidden.channels == nil && hidden.channelCount == 1)
            anonymous.close()
            let wrong = try await client.sse("/stats?token=guess")
            #expect(try await sample(wrong) { _ in true }.channels == nil)
            wrong.close()
            for credential in ["/stats?token=s3cret", "/stats?token=m3trics"] {
                let allowed = try await client.sse(credential)
                #expect(try await sample(allowed) { _ in true }.channels?.map(\.name) == ["users/42"], "\(credential)")
                allowed.close()
            }
            let bearer = try await client.sse("/stats", headerFields: [.authorization: "Bearer m3trics"])
            #expect(try await sample(bearer) { _ in true }.channels?.map(\.name) == ["users/42"])
            bearer.close()
        }
    }

    @Test func `the number of open stats streams is bounded, and a closed one frees its place`() async throws {
        let app = try Hub.makeApplication(HubOptions(host: "127.0.0.1", port: 0, statsInterval: .milliseconds(100), maxStatsStreams: 2))
        try await app.test(.live) { client in
            let first = try await client.sse("/stats")
            let second = try await client.sse("/stats")
            #expect(first.status == .ok && second.status == .ok)
            let refused = try await client.get("/stats")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headerFields[.retryAfter] == "10")
            #expect(refused.bodyText.contains("maximum of 2 /stats streams"))
            // A request refused for a bad parameter takes no place.
            #expect(try await client.get("/stats?channels=5000").status == .badRequest)
            _ = try await sample(first) { _ in true }
            first.close()
            var reopened: SSETestStream?
            for _ in 0..<200 where reopened == nil {
                let attempt = try await client.sse("/stats")
                if attempt.status == .ok { reopened = attempt } else { try await Task.sleep(for: .milliseconds(10)) }
            }
            let third = try #require(reopened, "the closed stream's place was not given back")
            // It streams samples (shared ones: taken for every open stream at most once per half interval).
            #expect(try await sample(third) { _ in true }.connections >= 1)
            third.close()
            second.close()
        }
    }

    @Test func `on a hub with credentials, streams without them hold at most half the places`() async throws {
        let app = try Hub.makeApplication(
            HubOptions(host: "127.0.0.1", port: 0, token: "s3cret", statsInterval: .milliseconds(100), maxStatsStreams: 4))
        try await app.test(.live) { client in
            let anonymous = [try await client.sse("/stats"), try await client.sse("/stats?token=guess")]
            #expect(anonymous.allSatisfy { $0.status == .ok })
            let refused = try await client.get("/stats")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headerFields[.retryAfter] == "10")
            #expect(refused.bodyText.contains("maximum of 2 /stats streams without credentials"))
            // The token's places are still free, up to the hub's maximum.
            let operator1 = try await client.sse("/stats?token=s3cret")
            let operator2 = try await client.sse("/stats", headerFields: [.authorization: "Bearer s3cret"])
            #expect(operator1.status == .ok && operator2.status == .ok)
            #expect(try await sample(operator2) { _ in true }.channels != nil)
            let full = try await client.get("/stats?token=s3cret")
            #expect(full.status == .serviceUnavailable)
            #expect(full.bodyText.contains("maximum of 4 /stats streams"))
            // A place given back by an anonymous stream is anyone's again.
            anonymous[0].close()
            var reopened: SSETestStream?
            for _ in 0..<200 where reopened == nil {
                let attempt = try await client.sse("/stats")
                if attempt.status == .ok { reopened = attempt } else { try await Task.sleep(for: .milliseconds(10)) }
            }
            let again = try #require(reopened, "the anonymous stream's place was not given back")
            for stream in [again, anonymous[1], operator1, operator2] { stream.close() }
        }
    }

    @Test func `once no dashboard is open the hub lets go of its last sample`() async throws {
        let app = try hub(statsInterval: .milliseconds(100))
        try await app.test(.live) { client in
            let stream = try await client.sse("/stream?channel=busy")
            #expect(await eventually { await subscriptions(app) == 1 })
            // Deliveries all along: a sample taken after an earlier one always has a rate.
            let publisher = Task {
                while !Task.isCancelled {
                    _ = try? await client.post("/publish?channel=busy", text: "x")
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            defer { publisher.cancel() }
            let first = try await client.sse("/stats")
            _ = try await sample(first) { $0.deliveriesPerSecond > 0 }
            first.close()
            // A dashboard opened after the last one closed starts afresh: its first sample has
            // no earlier one to take a rate from (a kept sample would give it one).
            var fresh = false
            for _ in 0..<100 where !fresh {
                try await Task.sleep(for: .milliseconds(50))
                let next = try await client.sse("/stats")
                fresh = try await sample(next) { _ in true }.deliveriesPerSecond == 0
                next.close()
            }
            #expect(fresh)
            publisher.cancel()
            stream.close()
        }
    }

    @Test func `samples carry the server's publish-to-write latency`() async throws {
        let app = try hub(statsInterval: .milliseconds(100))
        try await app.test(.live) { client in
            let stats = try await client.sse("/stats")
            let before = try await sample(stats) { _ in true }
            #expect(before.latencyWrites == 0 && before.latencyP50Milliseconds == 0)
            let stream = try await client.sse("/stream?channel=timed")
            #expect(await eventually { await subscriptions(app) == 1 })
            for n in 1...5 {
                _ = try await client.post("/publish?channel=timed", text: "\(n)")
                _ = try await stream.events(1)
            }
            let after = try await sample(stats) { $0.latencyWrites >= 5 }
            #expect(after.latencyWrites >= 5)
            #expect(after.latencyP50Milliseconds > 0 && after.latencyP50Milliseconds <= after.latencyP99Milliseconds, "\(after)")
            stream.close()
            stats.close()
        }
    }
}
