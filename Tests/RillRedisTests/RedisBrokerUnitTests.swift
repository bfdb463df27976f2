import RillPubSub
import RillSSE
import Testing

@testable import RillRedis

/// The parts of RillRedis that need no Redis: URL parsing, the event record formats, ids and
/// the replay decision.
@Suite struct RedisBrokerUnitTests {
    @Test func `URLs are parsed with defaults`() throws {
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

    @Test func `invalid URL errors and descriptions never show the password`() throws {
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

    @Test func `stream IDs parse strictly and order numerically`() {
        #expect(StreamID("1700000000000-12") == StreamID(milliseconds: 1_700_000_000_000, sequence: 12))
        for bad in ["", "12", "-1", "1-", "a-1", "1-2-3", " 1-2", "99999999999999999999999-0"] { #expect(StreamID(bad) == nil, "\(bad)") }
        #expect(StreamID("9-5")! < StreamID("10-0")!)
        #expect(StreamID("10-2")! < StreamID("10-10")!)
    }

    @Test func `event records round-trip through both forms`() throws {
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

    /// One channel's reply to the replay script: entries come newest first.
    private func read(
        now: UInt64 = 10_000, trimmed: String? = nil, exists: Bool = true, found: String? = nil, newest: String? = nil,
        historyStart: String = "0-0", _ ids: [String]
    ) -> ChannelRead {
        let entries = ids.reversed().map { id in RedisValue.array([.bulk(Array(id.utf8)), .array([.bulk([100]), .bulk(Array(id.utf8))])]) }
        return ChannelRead(
            .array([
                .integer(Int64(now)), .bulk(Array((trimmed ?? "").utf8)), .integer(exists ? 1 : 0), .bulk(Array((found ?? "").utf8)),
                .array(entries), .bulk(Array((newest ?? ids.last ?? "").utf8)), .bulk(Array(historyStart.utf8)),
            ]))!
    }

    /// Runs a ``ReplayReader`` as the broker does, against channels holding `streams` (entry
    /// ids, oldest first), answering each read as the replay script would; returns the outcome,
    /// the number of step-2 reads and of entries they returned.
    private func replay(
        _ streams: [[String]], found: [String?], trimmed: [String?]? = nil, exists: [Bool]? = nil, now: UInt64 = 10_000,
        limit: Int = 100, age: UInt64 = 100_000
    ) -> (outcome: ReplayOutcome, reads: Int, entriesRead: Int) {
        var reader = ReplayReader(channelCount: streams.count, limit: limit, historyMaxAgeMilliseconds: age)
        var ready = false
        for index in streams.indices {
            let after = streams[index].filter { id in found[index].map { StreamID(id)! > StreamID($0)! } ?? true }
            ready = reader.looked(
                read(
                    now: now, trimmed: trimmed?[index], exists: exists?[index] ?? true, found: found[index], newest: streams[index].last,
                    Array(after.suffix(1))),
                channel: index)
        }
        #expect(ready)
        var reads = 0
        var entriesRead = 0
        while let (index, before) = reader.nextRead() {
            let window = streams[index].filter { id in
                (reader.position.map { StreamID(id)! > $0 } ?? true) && (before.map { StreamID(id)! < $0 } ?? true)
            }
            let returned = Array(window.suffix(ReplayReader.batchCount + 1))
            reads += 1
            entriesRead += returned.count
            reader.add(read(newest: streams[index].last, returned), channel: index)
        }
        return (reader.outcome(names: streams.indices.map { String(UnicodeScalar(UInt8(97 + $0))) }), reads, entriesRead)
    }

    @Test func `replay decisions match InMemoryBroker semantics`() {
        let ids: (ReplayOutcome) -> [String] = { $0.entries.map(\.id.description) }
        // Two channels merged in id order; the id found in channel a, nothing trimmed after it.
        let resumed = replay([["10-0", "30-0"], ["20-0", "40-0"]], found: ["10-0", nil], trimmed: [nil, "5-0"]).outcome
        #expect(resumed.status == .complete && ids(resumed) == ["20-0", "30-0", "40-0"])
        #expect(resumed.entries.map(\.channel) == ["b", "a", "b"])
        #expect(resumed.readThrough == [StreamID("30-0")!, StreamID("40-0")!])
        #expect(resumed.waitThrough == resumed.readThrough)
        // A quiet channel whose newest entry is older than the client's position: its live
        // events need not reach the position (none is on its way), only its newest entry.
        let quieter = replay([["10-0", "50-0"], ["20-0"]], found: ["50-0", nil]).outcome
        #expect(quieter.readThrough == [StreamID("50-0")!, StreamID("50-0")!])
        #expect(quieter.waitThrough == [StreamID("50-0")!, StreamID("20-0")!])
        // Found, but trimming removed an event of another channel after it.
        let trimmed = replay([["4-0", "10-0", "30-0"], ["20-0", "40-0"]], found: ["4-0", nil], trimmed: [nil, "5-0"]).outcome
        #expect(trimmed.status == .gap && ids(trimmed) == ["10-0", "20-0", "30-0", "40-0"])
        // Exactly at the trim mark: nothing lost.
        #expect(replay([["10-0"], ["20-0"]], found: [nil, "5-0"], trimmed: [nil, "5-0"]).outcome.status == .complete)
        // Not found in any channel (unknown, from the future, a look-alike of an entry id): a
        // gap, whatever the id looks like, and the whole history is replayed.
        let unknown = replay([["10-0", "30-0"], ["20-0"]], found: [nil, nil]).outcome
        #expect(unknown.status == .gap && ids(unknown) == ["10-0", "20-0", "30-0"])
        #expect(unknown.readThrough == [StreamID("30-0")!, StreamID("20-0")!])
        // An expired stream: an old position may have missed events, a recent one cannot have.
        #expect(replay([[], []], found: ["1000-0", nil], exists: [true, false], age: 5000).outcome.status == .gap)
        #expect(replay([[], []], found: ["8000-0", nil], exists: [true, false], age: 5000).outcome.status == .complete)
        // A position from before Redis's history began (it lost its data): a gap, even a recent
        // one on a channel Redis does not know.
        let lostWithData = read(exists: false, historyStart: "9000-0", [])
        #expect(lostWithData.lostEvents(after: StreamID("8000-0")!, historyMaxAgeMilliseconds: 5000))
        #expect(!lostWithData.lostEvents(after: StreamID("9000-0")!, historyMaxAgeMilliseconds: 5000))
        // No channel to read (a pattern that matched none since the id): after a position
        // nothing is missing; an event id is not found, a gap.
        var noChannel = ReplayReader(channelCount: 0, limit: 10, historyMaxAgeMilliseconds: 5000, position: StreamID("8000-0"))
        noChannel.endLookups()
        let noChannelRead = noChannel.nextRead().map(\.channel)
        #expect(noChannelRead == nil && noChannel.outcome(names: []).status == .complete)
        var noChannelUnknown = ReplayReader(channelCount: 0, limit: 10, historyMaxAgeMilliseconds: 5000)
        noChannelUnknown.endLookups()
        let noChannelUnknownRead = noChannelUnknown.nextRead().map(\.channel)
        #expect(noChannelUnknownRead == nil && noChannelUnknown.outcome(names: []).status == .gap)
    }

    @Test func `a replay is capped to the newest events and reads no more than it needs`() {
        let ids: (ReplayOutcome) -> [String] = { $0.entries.map(\.id.description) }
        // More events after the position than the limit: the newest, and a gap.
        let one = replay([["1-0", "2-0", "3-0", "4-0"]], found: ["1-0"], limit: 2).outcome
        #expect(one.status == .gap && ids(one) == ["3-0", "4-0"])
        // Exactly the limit after the position: complete.
        let exact = replay([["1-0", "2-0", "3-0"]], found: ["1-0"], limit: 2).outcome
        #expect(exact.status == .complete && ids(exact) == ["2-0", "3-0"])
        // Over all channels: the newest `limit` in id order, and a gap.
        let total = replay([["1-0", "2-0", "5-0", "6-0"], ["3-0", "4-0", "7-0"]], found: ["1-0", nil], limit: 3).outcome
        #expect(total.status == .gap && ids(total) == ["5-0", "6-0", "7-0"])
        // Within the limit over three channels: complete.
        let within = replay([["1-0", "4-0"], ["2-0", "5-0"], ["3-0"]], found: [nil, "2-0", nil], limit: 3).outcome
        #expect(within.status == .complete && ids(within) == ["3-0", "4-0", "5-0"])
        #expect(replay([["1-0", "2-0"]], found: ["1-0"], limit: 0).outcome.status == .gap)

        // Ten channels of 1,000 events, an unknown id, a limit of 1,000: the reads return about
        // the limit plus a batch per channel, not the 10,000 events the channels hold.
        let channels = (0..<10).map { channel in (0..<1000).map { "\(1 + $0)-\(channel)" } }
        let big = replay(channels, found: Array(repeating: nil, count: 10), limit: 1000)
        #expect(big.outcome.status == .gap && big.outcome.entries.count == 1000)
        #expect(ids(big.outcome) == (901...1000).flatMap { ms in (0..<10).map { "\(ms)-\($0)" } })
        #expect(big.entriesRead <= 1000 + 10 * (ReplayReader.batchCount + 1), "\(big.entriesRead)")
        // The same channels filled one after the other (channel 9 newest): channel 9 alone.
        let sequential = (0..<10).map { channel in (0..<1000).map { "\(channel * 1000 + $0 + 1)-0" } }
        let newest = replay(sequential, found: Array(repeating: nil, count: 10), limit: 1000)
        #expect(ids(newest.outcome) == (9001...10000).map { "\($0)-0" })
        #expect(newest.entriesRead <= 1000 + 10 * (ReplayReader.batchCount + 1), "\(newest.entriesRead)")
    }
}
