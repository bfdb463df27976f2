import RillPubSub
import RillSSE
import Testing

@testable import RillRedis

/// The parts of RillRedis that need no Redis: URL parsing, the event record formats, ids and
/// the replay decision.
@Suite struct RedisBrokerUnitTests {
    @Test func urlsAreParsedWithDefaults() throws {
        let plain = try RedisBroker.Configuration(url: "redis://cache.internal")
        #expect(plain.host == "cache.internal" && plain.port == 6379 && plain.database == 0 && plain.password == nil)
        let full = try RedisBroker.Configuration(url: "redis://user:p%40ss@10.0.0.5:6380/3")
        #expect(full.host == "10.0.0.5" && full.port == 6380 && full.database == 3)
        #expect(full.username == "user" && full.password == "p@ss")
        #expect(full.url == "redis://user:***@10.0.0.5:6380/3")
        let passwordOnly = try RedisBroker.Configuration(url: "redis://:secret@127.0.0.1/")
        #expect(passwordOnly.username == nil && passwordOnly.password == "secret" && passwordOnly.database == 0)
        let ipv6 = try RedisBroker.Configuration(url: "redis://[::1]:7000")
        #expect(ipv6.host == "::1" && ipv6.port == 7000 && ipv6.url == "redis://[::1]:7000/0")
        for bad in ["http://x", "rediss://x", "redis://", "redis://x:0", "redis://x:99999", "redis://x/db", "redis://[::1"] {
            #expect(throws: BrokerError.self, "\(bad)") { try RedisBroker.Configuration(url: bad) }
        }
    }

    @Test func invalidURLErrorsAndDescriptionsNeverShowThePassword() throws {
        let bad = [
            "redis://user:hunter2@cache.internal:99999", "rediss://:hunter2@cache.internal", "http://hunter2@x",
            "redis://:hunter2@", "redis://u:hunt/er2@host/db", "redis://u:hunt@er2@[::1", "redis://:hunter2@h/notanumber",
            "redis://u:%zzhunter2@h", "hunter2@redis://h",
        ]
        for url in bad {
            do {
                _ = try RedisBroker.Configuration(url: url)
                Issue.record("accepted \(url)")
            } catch {
                let text = "\(error) \(String(reflecting: error))"
                #expect(!text.contains("hunter2") && !text.contains("hunt") && !text.contains("er2"), "\(text)")
                #expect(text.contains("***"), "\(text)")
            }
        }
        // A valid configuration prints, debug-prints and dumps without its password.
        let configuration = try RedisBroker.Configuration(url: "redis://user:hunter2@10.0.0.5:6380/3")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), dumped] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
        #expect("\(configuration)".contains("redis://user:***@10.0.0.5:6380/3"))
    }

    @Test func streamIDsParseStrictlyAndOrderNumerically() {
        #expect(StreamID("1700000000000-12") == StreamID(milliseconds: 1_700_000_000_000, sequence: 12))
        for bad in ["", "12", "-1", "1-", "a-1", "1-2-3", " 1-2", "99999999999999999999999-0"] { #expect(StreamID(bad) == nil, "\(bad)") }
        #expect(StreamID("9-5")! < StreamID("10-0")!)
        #expect(StreamID("10-2")! < StreamID("10-10")!)
    }

    @Test func eventRecordsRoundTripThroughBothForms() throws {
        let events = [
            ServerSentEvent(data: "hello"),
            ServerSentEvent(data: "a\nb\r\nc\u{0}", event: "e", id: "mine", retry: .milliseconds(1500), comment: "note"),
            ServerSentEvent(data: ""),
            ServerSentEvent(),
        ]
        let id = StreamID(milliseconds: 5, sequence: 1)
        for event in events {
            let record = EventRecord(event)
            let fromMessage = try #require(EventRecord(messageFields: record.messageFields[...]))
            let arguments = record.streamArguments
            let fromStream = try #require(EventRecord(streamFields: arguments.map { .bulk($0) }))
            #expect(fromMessage == record && fromStream == record)
            var expected = event
            if expected.id == nil { expected.id = "5-1" }
            #expect(try record.serverSentEvent(entryID: id).encoded() == expected.encoded())
        }
        #expect(EventRecord(messageFields: Array("d5:hi".utf8)[...]) == nil)
        #expect(EventRecord(messageFields: Array("dx:hi".utf8)[...]) == nil)
    }

    private func snapshot(
        lastID: String, now: UInt64 = 10_000, _ channels: [(trimmed: String?, exists: Bool, ids: [String])]
    ) -> ReplaySnapshot {
        var reply: [RedisValue] = []
        for channel in channels {
            let entries = channel.ids.map { id in RedisValue.array([.bulk(Array(id.utf8)), .array([.bulk([100]), .bulk(Array(id.utf8))])]) }
            reply.append(.array([.bulk(Array((channel.trimmed ?? "").utf8)), .integer(channel.exists ? 1 : 0), .array(entries)]))
        }
        return ReplaySnapshot(.array([.bulk(Array(lastID.utf8)), .integer(Int64(now)), .array(reply)]))!
    }

    @Test func replayDecisionsMatchInMemoryBrokerSemantics() {
        let ids: (ReplayOutcome) -> [String] = { $0.entries.map(\.id.description) }
        // Two channels merged in id order; nothing trimmed after the position.
        let both = snapshot(lastID: "40-0", [(nil, true, ["10-0", "30-0"]), ("5-0", true, ["20-0", "40-0"])])
        let resumed = both.outcome(after: "10-0", names: ["a", "b"], historyMaxAgeMilliseconds: 100_000)
        #expect(resumed.status == .complete && ids(resumed) == ["20-0", "30-0", "40-0"])
        #expect(resumed.entries.map(\.channel) == ["b", "a", "b"])
        // Trimming removed an event after the position.
        let trimmed = both.outcome(after: "4-0", names: ["a", "b"], historyMaxAgeMilliseconds: 100_000)
        #expect(trimmed.status == .gap && ids(trimmed) == ["10-0", "20-0", "30-0", "40-0"])
        // Exactly at the trim mark: nothing lost.
        #expect(both.outcome(after: "5-0", names: ["a", "b"], historyMaxAgeMilliseconds: 100_000).status == .complete)
        // Unknown ids: from the future, or a publisher id the history no longer holds.
        #expect(both.outcome(after: "41-0", names: ["a", "b"], historyMaxAgeMilliseconds: 100_000).status == .gap)
        #expect(both.outcome(after: "gone", names: ["a", "b"], historyMaxAgeMilliseconds: 100_000).status == .gap)
        // An expired stream: an old position may have missed events, a recent one cannot have.
        let expired = snapshot(lastID: "9000-0", now: 10_000, [(nil, false, [])])
        #expect(expired.outcome(after: "1000-0", names: ["a"], historyMaxAgeMilliseconds: 5000).status == .gap)
        #expect(expired.outcome(after: "8000-0", names: ["a"], historyMaxAgeMilliseconds: 5000).status == .complete)
    }
}
