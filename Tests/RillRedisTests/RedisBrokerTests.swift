import Dispatch
import Foundation
import RillCore
import RillPubSub
import RillRedis
import RillSSE
import RillTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// RedisBroker against a real redis-server started by each test on a free loopback port. Two
/// brokers on two event loops stand for two processes sharing one Redis.
@Suite(.timeLimit(.minutes(1))) struct RedisBrokerTests {
    @Test func `a subscriber on another process receives the same ids and bytes`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        let onB = try await b.broker.subscribe(to: ["news"], lastEventID: nil)
        let onA = try await a.broker.subscribe(to: ["news"], lastEventID: nil)

        let published = [
            ServerSentEvent(data: "hello"),
            ServerSentEvent(data: "two\nlines\r\nand \u{0} bytes é", event: "notify", retry: .milliseconds(2500)),
            ServerSentEvent(data: "", id: "publisher-7", comment: "a comment"),
        ]
        var receipts: [PublishReceipt] = []
        for event in published { receipts.append(try await a.broker.publish(event, to: "news")) }

        let receivedOnB = try await take(3, from: onB)
        let receivedOnA = try await take(3, from: onA)
        #expect(receivedOnB.map(\.id) == receipts.map(\.id))
        #expect(receivedOnB.map(\.encodedBytes) == receivedOnA.map(\.encodedBytes))
        #expect(receipts.allSatisfy { $0.subscriberCount == 2 })  // two processes, one connection each
        #expect(receipts[2].id == "publisher-7")
        for (event, (delivered, receipt)) in zip(published, zip(receivedOnB, receipts)) {
            var expected = event
            expected.id = receipt.id
            #expect(delivered.encodedBytes == (try expected.encoded()))
            #expect(delivered.channel == "news")
        }
        // Broker-assigned ids are stream entry ids, increasing.
        let assigned = receipts[0...1].map(\.id)
        #expect(assigned.allSatisfy { $0.wholeMatch(of: /[0-9]+-[0-9]+/) != nil })
        #expect(receivedOnB.map(\.sequence) == receivedOnB.map(\.sequence).sorted())

        let statistics = await b.broker.statistics()
        #expect(statistics.subscriptionCount == 1 && statistics.subscribersPerChannel == ["news": 1])
        #expect(statistics.deliveredEventCount == 3)
        #expect(await a.broker.statistics().publishedEventCount == 3)
        // Per channel: what this process received for it; the history is Redis's (unknown here).
        #expect(await b.broker.channelStatistics() == [ChannelStatistics(name: "news", subscriberCount: 1, publishedEventCount: 3)])
        let counts = await b.broker.statistics(includingChannels: false)
        #expect(counts.subscribedChannelCount == 1 && counts.subscribersPerChannel.isEmpty && counts.subscriptionCount == 1)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `after its loop stopped, every call fails or answers instead of waiting forever`() async throws {
        let server = try RedisServer()
        let node = try await Node.start(server)
        await node.shutdown()
        // The loop refuses work now: each call must return, not wait for a closure that will
        // never run (the test's time limit catches a hang).
        await #expect(throws: BrokerError.self) { try await node.broker.publish(ServerSentEvent(data: "late"), to: "news") }
        await #expect(throws: BrokerError.self) { _ = try await node.broker.subscribe(to: ["news"], lastEventID: nil) }
        #expect(await node.broker.statistics().subscriptionCount == 0)
        let reported = SanitizerVisibleMutex<(any Error)?>(nil)
        node.broker.post(ServerSentEvent(data: "late"), to: "news") { error in reported.withLock { $0 = error } }
        #expect(reported.withLock { $0 } != nil)
        await node.broker.close()
    }

    @Test func `last event ID replays exactly the missed events while publishing continues`() async throws {
        let server = try RedisServer()
        // A replay larger than the live buffer would count against it (Subscription's rule), and
        // the replay's size depends on timing here: room enough for all of it.
        let roomy = BrokerConfiguration(subscriberBufferCount: 4096)
        let a = try await Node.start(server, broker: roomy)
        let b = try await Node.start(server, broker: roomy)
        // Two channels: the replay merges them in publish order.
        let first = try await b.broker.subscribe(to: ["left", "right"], lastEventID: nil)
        let total = 400
        let publisher = a.publishInBackground(total, pauseMicroseconds: 500) { $0 % 2 == 0 ? "left" : "right" }
        let before = try await take(50, from: first)
        first.cancel()
        // Reconnect with the last id received while the publisher keeps going.
        let resumed = try await b.broker.subscribe(to: ["left", "right"], lastEventID: before.last!.id)
        #expect(resumed.replayStatus == .complete)
        let after = try await take(total - 50, from: resumed, within: .seconds(20))
        await waitWithoutBlocking(for: publisher.finished)
        #expect(publisher.failures.load(ordering: .relaxed) == 0)
        #expect(dataOf(before + after) == (1...total).map(String.init))
        #expect(Set((before + after).map(\.id)).count == total)
        // Nothing more: no duplicate arrives after the last one.
        #expect(resumed.bufferedCount == 0)
        await a.shutdown()
        await b.shutdown()
    }

    /// Subscribing from the last event published while events keep coming: the replay is read on
    /// the command connection and can be ahead of the live messages (this once delivered an
    /// event twice), and with `maxHeldEventsPerChannel` 0 every event arriving while the channel
    /// syncs is not held but read back from the stream (without the read-back it would be lost).
    @Test(arguments: [nil, 0])
    func `a replay from the last event while events keep coming has no gap and no duplicate`(maxHeldEvents: Int?) async throws {
        let server = try RedisServer()
        let roomy = BrokerConfiguration(subscriberBufferCount: 4096)
        let a = try await Node.start(server, broker: roomy)
        let b = try await Node.start(server, broker: roomy) { $0.maxHeldEventsPerChannel = maxHeldEvents }
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
        let lastPublished = SanitizerVisibleMutex<(number: Int, id: String)?>(nil)
        let finished = DispatchSemaphore(value: 0)
        _ = onPlainThread {
            var number = 0
            while !stop.load(ordering: .relaxed) && number < 200_000 {
                number += 1
                switch a.publishBlocking(ServerSentEvent(data: String(number)), to: "flood") {
                case .success(let receipt): lastPublished.withLock { [number] in $0 = (number, receipt.id) }
                case .failure: failures.add(1, ordering: .relaxed)
                }
            }
            finished.signal()
        }
        let overflows = { @Sendable () async -> Int in
            await withCheckedContinuation { continuation in
                _ = b.loop.execute { continuation.resume(returning: b.broker.heldOverflowCount) }
            }
        }
        try await eventually("the publisher started") { lastPublished.withLock { $0 } != nil }
        // Each round subscribes afresh (the channel is released in between, so it syncs again)
        // from the last event published, while events keep arriving. With nothing held, whether
        // an event arrives inside the sync is up to timing: rounds go on until the read-back
        // happened a few times.
        var rounds = 0
        while rounds < (maxHeldEvents == nil ? 60 : 200) {
            if maxHeldEvents != nil, await overflows() >= 3 { break }
            rounds += 1
            let (after, id) = lastPublished.withLock { $0! }
            let subscription = try await b.broker.subscribe(to: ["flood"], lastEventID: id)
            let numbers = dataOf(try await take(50, from: subscription)).compactMap { Int($0) }
            subscription.cancel()
            #expect(numbers == Array((after + 1)...(after + 50)), "round \(rounds)")
            try await eventually("channel released") { await b.broker.statistics().subscriptionCount == 0 }
        }
        stop.store(true, ordering: .relaxed)
        await waitWithoutBlocking(for: finished)
        if maxHeldEvents == 0 { #expect(await overflows() >= 3, "the read-back never happened in \(rounds) rounds") }
        #expect(failures.load(ordering: .relaxed) == 0)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `trimmed history is reported as a gap`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server, broker: BrokerConfiguration(historyCount: 5))
        let b = try await Node.start(server, broker: BrokerConfiguration(historyCount: 5))
        var ids: [String] = []
        for number in 1...20 { ids.append(try await a.broker.publish(ServerSentEvent(data: String(number)), to: "t").id) }

        let behind = try await b.broker.subscribe(to: ["t"], lastEventID: ids[2])
        #expect(behind.replayStatus == .gap)
        #expect(dataOf(try await take(5, from: behind)) == ["16", "17", "18", "19", "20"])

        let recent = try await b.broker.subscribe(to: ["t"], lastEventID: ids[16])
        #expect(recent.replayStatus == .complete)
        #expect(dataOf(try await take(3, from: recent)) == ["18", "19", "20"])

        // The newest event trimmed is exactly ids[14]: resuming after it lost nothing.
        let edge = try await b.broker.subscribe(to: ["t"], lastEventID: ids[14])
        #expect(edge.replayStatus == .complete)
        #expect(dataOf(try await take(5, from: edge)) == ["16", "17", "18", "19", "20"])

        for unknown in ["not-an-id", "99999999999999-0", ""] {
            let subscription = try await b.broker.subscribe(to: ["t"], lastEventID: unknown)
            #expect(subscription.replayStatus == .gap, "\(unknown)")
            #expect(subscription.bufferedCount == 5)
        }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `history older than the maximum age is a gap`() async throws {
        let server = try RedisServer()
        let history = BrokerConfiguration(historyMaxAge: .milliseconds(1500))
        let a = try await Node.start(server, broker: history)
        let first = try await a.broker.publish(ServerSentEvent(data: "old 1"), to: "aged")
        let second = try await a.broker.publish(ServerSentEvent(data: "old 2"), to: "aged")
        // Well past the age limit, so a loaded machine cannot make "old 2" still look young.
        try await Task.sleep(for: .milliseconds(3000))
        _ = try await a.broker.publish(ServerSentEvent(data: "new"), to: "aged")
        // "old 2" aged out after the client's position: a gap.
        let behind = try await a.broker.subscribe(to: ["aged"], lastEventID: first.id)
        #expect(behind.replayStatus == .gap)
        #expect(dataOf(try await take(1, from: behind)) == ["new"])
        #expect(behind.bufferedCount == 0)
        // The client had the newest aged-out event: nothing lost.
        let current = try await a.broker.subscribe(to: ["aged"], lastEventID: second.id)
        #expect(current.replayStatus == .complete)
        #expect(dataOf(try await take(1, from: current)) == ["new"])
        await a.shutdown()
    }

    @Test func `a publisher id locates the client in the history`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        for number in 1...4 { _ = try await a.broker.publish(ServerSentEvent(data: String(number), id: "order-\(number)"), to: "orders") }
        let resumed = try await a.broker.subscribe(to: ["orders"], lastEventID: "order-2")
        #expect(resumed.replayStatus == .complete)
        let replayed = try await take(2, from: resumed)
        #expect(replayed.map(\.id) == ["order-3", "order-4"])
        await a.shutdown()
    }

    @Test func `a last event ID names the event with exactly that id, never a position it looks like`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let published: [(String, String?)] = [("1", nil), ("2", "1-0"), ("3", nil), ("4", "99999999999999-5"), ("5", nil)]
        var ids: [String] = []
        for (data, id) in published { ids.append(try await a.broker.publish(ServerSentEvent(data: data, id: id), to: "ids").id) }
        #expect(ids[1] == "1-0" && ids[3] == "99999999999999-5")
        func replay(_ lastEventID: String) async throws -> (ReplayStatus, [String]) {
            let subscription = try await a.broker.subscribe(to: ["ids", "other"], lastEventID: lastEventID)
            defer { subscription.cancel() }
            return (subscription.replayStatus, dataOf(try await take(subscription.bufferedCount, from: subscription)))
        }
        // Publisher ids shaped like entry ids are found by exact match, not read as positions.
        #expect(try await replay("1-0") == (.complete, ["3", "4", "5"]))
        #expect(try await replay("99999999999999-5") == (.complete, ["5"]))
        // A broker-assigned id is its entry: the fast path.
        #expect(try await replay(ids[2]) == (.complete, ["4", "5"]))
        #expect(try await replay(ids[4]) == (.complete, []))
        // Shaped like a position, but no event has that id: a gap, never a silent `complete`.
        for unknown in ["2-0", "0-1", "99999999999999-6", "18446744073709551615-18446744073709551615", "99999999999999999999999-0"] {
            #expect(try await replay(unknown) == (.gap, ["1", "2", "3", "4", "5"]), "\(unknown)")
        }
        await a.shutdown()
    }

    @Test func `publisher ids are found through an index that trimming keeps in step`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server, broker: BrokerConfiguration(historyCount: 5))
        for number in 1...10 { _ = try await a.broker.publish(ServerSentEvent(data: String(number), id: "p\(number)"), to: "pub") }
        _ = try await a.broker.publish(ServerSentEvent(data: "11", id: "p9"), to: "pub")  // an id used again: the newest counts
        func replay(_ lastEventID: String) async throws -> (ReplayStatus, [String]) {
            let subscription = try await a.broker.subscribe(to: ["pub"], lastEventID: lastEventID)
            defer { subscription.cancel() }
            return (subscription.replayStatus, dataOf(try await take(subscription.bufferedCount, from: subscription)))
        }
        #expect(try await replay("p8") == (.complete, ["9", "10", "11"]))
        #expect(try await replay("p9") == (.complete, []))
        #expect(try await replay("p6") == (.complete, ["7", "8", "9", "10", "11"]))  // the newest trimmed event
        #expect(try await replay("p2") == (.gap, ["7", "8", "9", "10", "11"]))  // trimmed long ago
        // The index holds the history's publisher ids only (p7, p8, p9 → "11", p10).
        #expect(try await a.broker.runCommand(["HLEN", "rill:pids:pub"]) == .integer(4))
        await a.shutdown()
    }

    @Test func `a replay reads each channel bounded and caps the total`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server) { $0.maximumReplayEventCount = 10 }
        let first = try await a.broker.publish(ServerSentEvent(data: "start"), to: "r0")
        for round in 1...8 {
            for channel in 0..<3 { _ = try await a.broker.publish(ServerSentEvent(data: "\(channel).\(round)"), to: "r\(channel)") }
        }
        _ = try await a.broker.runCommand(["CONFIG", "RESETSTAT"])
        let capped = try await a.broker.subscribe(to: ["r0", "r1", "r2"], lastEventID: first.id)
        #expect(capped.replayStatus == .gap)
        let events = try await take(capped.bufferedCount, from: capped)
        // The newest ten, in publish order.
        #expect(dataOf(events) == ["2.5", "0.6", "1.6", "2.6", "0.7", "1.7", "2.7", "0.8", "1.8", "2.8"])
        // Per channel, one lookup of the id and one bounded read: never one call over all of them.
        let stats = try await a.broker.runCommand(["INFO", "commandstats"]).text ?? ""
        #expect(stats.contains("cmdstat_evalsha:calls=6,"), "\(stats)")
        capped.cancel()
        // Within the cap: complete.
        let recent = try await a.broker.subscribe(to: ["r0", "r1", "r2"], lastEventID: events[events.count - 4].id)
        #expect(recent.replayStatus == .complete)
        #expect(dataOf(try await take(3, from: recent)) == ["0.8", "1.8", "2.8"])
        await a.shutdown()
    }

    @Test func `events trimmed during an outage end their subscriptions, never skip silently`() async throws {
        let server = try RedisServer()
        let small = BrokerConfiguration(historyCount: 5)
        let a = try await Node.start(server, broker: small)
        // B waits 1 s before reconnecting: ample time to publish while it is away.
        let b = try await Node.start(server, broker: small) { $0.reconnectInitialDelay = .seconds(1) }
        let trimmed = try await b.broker.subscribe(to: ["trim"], lastEventID: nil)
        let kept = try await b.broker.subscribe(to: ["keep"], lastEventID: nil)
        let last = try await a.broker.publish(ServerSentEvent(data: "0"), to: "trim")
        #expect(dataOf(try await take(1, from: trimmed)) == ["0"])

        _ = try await a.broker.runCommand(["CLIENT", "KILL", "TYPE", "pubsub"])
        // Past the history of "trim" (5 events): the first ones after B's position are gone.
        _ = try await a.publishPipelined((1...12).map(String.init), to: "trim")
        _ = try await a.publishPipelined(["k1", "k2"], to: "keep")

        try await eventually("B's subscriber connection coming back") { await b.broker.connectionStatus().subscriber }
        await #expect(throws: SubscriptionError.historyLost) { _ = try await take(20, from: trimmed) }
        #expect(!trimmed.isActive)
        // The channel whose history held everything caught up and stays.
        #expect(dataOf(try await take(2, from: kept)) == ["k1", "k2"])
        #expect(kept.isActive)
        // The client comes back with its last id and is told.
        let again = try await b.broker.subscribe(to: ["trim"], lastEventID: last.id)
        #expect(again.replayStatus == .gap)
        #expect(dataOf(try await take(5, from: again)) == ["8", "9", "10", "11", "12"])
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a multi-channel subscription catches up in id order`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server) { $0.reconnectInitialDelay = .seconds(1) }
        let both = try await b.broker.subscribe(to: ["p", "q"], lastEventID: nil)
        let onlyQ = try await b.broker.subscribe(to: ["q"], lastEventID: nil)
        _ = try await a.broker.runCommand(["CLIENT", "KILL", "TYPE", "pubsub"])
        var receipts: [PublishReceipt] = []
        for number in 1...12 {
            receipts += try await a.publishPipelined([String(number)], to: number % 3 == 0 ? "q" : "p")
        }
        try await eventually("B's subscriber connection coming back") { await b.broker.connectionStatus().subscriber }
        // Live events right after the catch-up must come after it, too.
        receipts += try await a.publishPipelined(["13"], to: "q")
        let received = try await take(13, from: both)
        #expect(dataOf(received) == (1...13).map(String.init))
        #expect(received.map(\.id) == receipts.map(\.id))
        #expect(dataOf(try await take(5, from: onlyQ)) == ["3", "6", "9", "12", "13"])
        #expect(both.isActive && onlyQ.isActive)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a restarted Redis keeps subscriptions open and publishing fails clearly meanwhile`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        let subscription = try await b.broker.subscribe(to: ["live"], lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "before"), to: "live")
        #expect(dataOf(try await take(1, from: subscription)) == ["before"])

        server.kill()
        try await eventually("A noticing the kill") { await a.broker.connectionStatus() == (false, false) }
        let started = ContinuousClock.now
        do {
            _ = try await a.broker.publish(ServerSentEvent(data: "lost"), to: "live")
            Issue.record("publishing while Redis is down succeeded")
        } catch let error as BrokerError {
            guard case .backend(let message) = error else { throw error }
            #expect(message.contains("unavailable"), "\(message)")
        }
        // Fails at once, not after the 5 s reply timeout (a generous bound for loaded machines).
        #expect(ContinuousClock.now - started < .seconds(4))
        await #expect(throws: BrokerError.self) { try await b.broker.subscribe(to: ["other"], lastEventID: nil) }
        #expect(subscription.isActive)

        try server.start()
        try await eventually("both brokers reconnecting") {
            let statuses = [await a.broker.connectionStatus(), await b.broker.connectionStatus()]
            return statuses.allSatisfy { $0 == (true, true) }
        }
        // Published as soon as A is back, maybe before B resubscribed: B catches up from the stream.
        _ = try await a.broker.publish(ServerSentEvent(data: "after 1"), to: "live")
        _ = try await a.broker.publish(ServerSentEvent(data: "after 2"), to: "live")
        #expect(dataOf(try await take(2, from: subscription)) == ["after 1", "after 2"])
        #expect(subscription.isActive && subscription.bufferedCount == 0)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `events published while only the subscriber connection was down are replayed`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        // B waits 1 s before reconnecting: ample time to publish while it is away, even on a busy machine.
        let b = try await Node.start(server) { $0.reconnectInitialDelay = .seconds(1) }
        let subscription = try await b.broker.subscribe(to: ["feed"], lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "1"), to: "feed")
        #expect(dataOf(try await take(1, from: subscription)) == ["1"])

        // Drop every pub/sub connection (A's and B's); command connections stay up.
        let killed = try await a.broker.runCommand(["CLIENT", "KILL", "TYPE", "pubsub"])
        #expect(killed == .integer(2))
        // These go out at once, long before B's subscriber connection is back.
        let unheard = try await a.publishPipelined(["2", "3", "4"], to: "feed")
        #expect(unheard.map(\.subscriberCount) == [0, 0, 0], "published while no subscriber connection was listening")

        try await eventually("B's subscriber connection coming back") { await b.broker.connectionStatus().subscriber }
        #expect(dataOf(try await take(3, from: subscription)) == ["2", "3", "4"])
        _ = try await a.broker.publish(ServerSentEvent(data: "5"), to: "feed")
        #expect(dataOf(try await take(1, from: subscription)) == ["5"])
        #expect(subscription.bufferedCount == 0)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `an unreachable Redis fails at start with a clear error in bounded time`() async throws {
        let port = try freeLoopbackPort()
        let loop = try EventLoop()
        let configuration = try RedisBroker.Configuration(url: "redis://127.0.0.1:\(port)/0")
        let started = ContinuousClock.now
        do {
            _ = try await RedisBroker.connect(eventLoop: loop, configuration: configuration)
            Issue.record("connected to nothing")
        } catch let error as BrokerError {
            #expect(error == .backend("cannot connect to redis://127.0.0.1:\(port)/0: Connection refused"))
        }
        // Bounded, not a hang (the margin absorbs a loaded machine).
        #expect(ContinuousClock.now - started < .seconds(10))

        // The blocking form, from a plain thread (as a BrokerFactory closure runs).
        let blocking = SanitizerVisibleMutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        _ = onPlainThread {
            do { _ = try RedisBroker.connectBlocking(eventLoop: loop, configuration: configuration) } catch {
                blocking.withLock { $0 = error }
            }
            done.signal()
        }
        await waitWithoutBlocking(for: done)
        #expect(blocking.withLock { $0.map { "\($0)" } }?.contains("Connection refused") == true)
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `a host name is resolved off the loop and an unknown one fails clearly`() async throws {
        let server = try RedisServer()
        let named = try await Node.start(server) { $0.host = "localhost" }
        let subscription = try await named.broker.subscribe(to: ["named"], lastEventID: nil)
        _ = try await named.broker.publish(ServerSentEvent(data: "via localhost"), to: "named")
        #expect(dataOf(try await take(1, from: subscription)) == ["via localhost"])
        await named.shutdown()

        let loop = try EventLoop()
        // Not a valid host name: the resolver refuses it without asking a DNS server.
        let configuration = RedisBroker.Configuration(host: "not a host", port: server.port)
        do {
            _ = try await RedisBroker.connect(eventLoop: loop, configuration: configuration, logger: quietLogger)
            Issue.record("connected to a host that does not exist")
        } catch let error as BrokerError {
            guard case .backend(let message) = error else { throw error }
            #expect(message.hasPrefix("cannot connect to redis://not a host:\(server.port)/0: resolving host not a host failed: EAI_"), "\(message)")
        }
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `a server that never answers times out at start`() async throws {
        // A listener that accepts (the kernel completes the handshake) but never speaks Redis.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        #expect(listen(fd, 8) == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))

        let loop = try EventLoop()
        var configuration = try RedisBroker.Configuration(url: "redis://127.0.0.1:\(port)")
        configuration.connectTimeout = .milliseconds(300)
        let started = ContinuousClock.now
        await #expect(throws: BrokerError.backend("cannot connect to redis://127.0.0.1:\(port)/0: no answer within 0.3 seconds")) {
            _ = try await RedisBroker.connect(eventLoop: loop, configuration: configuration)
        }
        // Bounded by the connect timeout, not a hang (the margin absorbs a loaded machine).
        #expect(ContinuousClock.now - started < .seconds(10))
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `the last local subscriber leaving unsubscribes the channel`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        @Sendable func redisSubscribers() async throws -> Int64? {
            try await a.broker.runCommand(["PUBSUB", "NUMSUB", "rill:channel:room"]).elements?.last?.integer
        }
        let first = try await b.broker.subscribe(to: ["room"], lastEventID: nil)
        let second = try await b.broker.subscribe(to: ["room", "hall"], lastEventID: nil)
        #expect(try await redisSubscribers() == 1)  // one connection for both subscriptions
        #expect(await b.broker.statistics().subscribersPerChannel == ["room": 2, "hall": 1])

        first.cancel()
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await redisSubscribers() == 1)
        second.cancel()
        try await eventually("UNSUBSCRIBE reaching Redis") { try await redisSubscribers() == 0 }
        #expect(await b.broker.statistics().subscriptionCount == 0)

        // Churn: subscribe and leave quickly, many times; hiredis's bookkeeping must hold.
        for _ in 0..<30 {
            let quick = try await b.broker.subscribe(to: ["room"], lastEventID: nil)
            quick.cancel()
        }
        let last = try await b.broker.subscribe(to: ["room"], lastEventID: nil)
        #expect(try await redisSubscribers() == 1)
        _ = try await a.broker.publish(ServerSentEvent(data: "still works"), to: "room")
        #expect(dataOf(try await take(1, from: last)) == ["still works"])
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `a subscribe cancelled in flight leaves no channel, no subscription and no subscribe behind`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let b = try await Node.start(server)
        _ = try await a.broker.publish(ServerSentEvent(data: "history"), to: "u-history")
        @Sendable func redisChannels() async throws -> Int {
            try await a.broker.runCommand(["PUBSUB", "CHANNELS", "rill:channel:*"]).elements?.count ?? -1
        }
        // Cancelled at once: SUBSCRIBE, the position read and the replay are usually all still
        // in flight. On a loaded machine this thread may be descheduled between starting the
        // task and cancelling it, long enough for a subscribe to complete: that caller owns its
        // subscription and cancels it. Most rounds must see the cancellation.
        var cancelledInFlight = 0
        for round in 0..<20 {
            let task = Task { try await b.broker.subscribe(to: ["u-now-\(round)", "u-history"], lastEventID: "1-0") }
            task.cancel()
            do {
                try await task.value.cancel()
            } catch is CancellationError {
                cancelledInFlight += 1
            }
        }
        #expect(cancelledInFlight >= 10)
        // Many at once on unique channels, cancelled at different points: a caller that got its
        // subscription cancels it, as a well-behaved handler does; one that was cancelled first
        // gets CancellationError and owns nothing.
        let broker = b.broker
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                let task = Task {
                    let subscription = try await broker.subscribe(
                        to: ["u-\(index)"], lastEventID: index % 3 == 0 ? nil : "\(index)-0")
                    subscription.cancel()
                }
                group.addTask {
                    for _ in 0..<(index % 7) { await Task.yield() }
                    if index % 5 == 0 { try? await Task.sleep(for: .milliseconds(index % 4)) }
                    task.cancel()
                    _ = await task.result
                }
            }
        }
        try await eventually("every channel released here and in Redis") {
            let statistics = await b.broker.statistics()
            let local = await b.broker.channelNames()
            let remote = try await redisChannels()
            return remote == 0 && local.isEmpty && statistics.subscriptionCount == 0 && statistics.subscribersPerChannel.isEmpty
        }
        // The broker still works for the same names afterwards.
        let again = try await b.broker.subscribe(to: ["u-1"], lastEventID: nil)
        _ = try await a.broker.publish(ServerSentEvent(data: "after"), to: "u-1")
        #expect(dataOf(try await take(1, from: again)) == ["after"])
        await a.shutdown()
        await b.shutdown()
    }

    @Test func `close ends subscriptions and leaves no handle open`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        let subscription = try await a.broker.subscribe(to: ["x"], lastEventID: nil)
        await a.broker.close()
        await #expect(throws: SubscriptionError.brokerClosed) {
            for try await _ in subscription {}
        }
        await #expect(throws: BrokerError.closed) { try await a.broker.publish(ServerSentEvent(data: "late"), to: "x") }
        await #expect(throws: BrokerError.closed) { try await a.broker.subscribe(to: ["x"], lastEventID: nil) }
        await a.shutdown()
    }

    @Test func `shutting the loop down closes the broker`() async throws {
        let server = try RedisServer()
        let loop = try EventLoop()
        let broker = try await RedisBroker.connect(eventLoop: loop, configuration: try .init(url: server.url), logger: quietLogger)
        let subscription = try await broker.subscribe(to: ["x"], lastEventID: nil)
        // A second broker nobody refers to any more: the loop still closes it.
        _ = try await RedisBroker.connect(eventLoop: loop, configuration: try .init(url: server.url), logger: quietLogger)
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
        #expect(!subscription.isActive)
    }

    @Test func `invalid events and channels are refused before reaching Redis`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        await #expect(throws: BrokerError.self) { try await a.broker.publish(ServerSentEvent(data: "x", event: "a\nb"), to: "c") }
        await #expect(throws: BrokerError.invalidChannel("")) { try await a.broker.publish(ServerSentEvent(data: "x"), to: "") }
        await #expect(throws: BrokerError.self) { try await a.broker.subscribe(to: ["bad\u{0}"], lastEventID: nil) }
        // Outside Unicode NFC: Swift would take "cafe\u{301}" for "caf\u{E9}", Redis would not.
        await #expect(throws: BrokerError.invalidChannel("cafe\u{301}")) { try await a.broker.publish(ServerSentEvent(data: "x"), to: "cafe\u{301}") }
        await #expect(throws: BrokerError.invalidChannel("cafe\u{301}")) { try await a.broker.subscribe(to: ["cafe\u{301}"], lastEventID: nil) }
        await #expect(throws: BrokerError.invalidChannel("cafe\u{301}/*")) {
            try await a.broker.subscribe(to: [], matching: [try ChannelPattern("cafe\u{301}/*")], lastEventID: nil)
        }
        await a.shutdown()
    }

    @Test func `a password-protected Redis needs the password`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server)
        _ = try await a.broker.runCommand(["CONFIG", "SET", "requirepass", "s3cret"])
        let withPassword = try await Node.start(server) { $0.password = "s3cret" }
        _ = try await withPassword.broker.publish(ServerSentEvent(data: "ok"), to: "p")
        do {
            _ = try await Node.start(server) { $0.password = "wrong" }
            Issue.record("logged in with a wrong password")
        } catch let error as BrokerError {
            #expect("\(error)".contains("AUTH failed: WRONGPASS"), "\(error)")
            #expect("\(error)".contains("redis://:***@127.0.0.1:\(server.port)/0"), "\(error)")
        }
        do {
            _ = try await Node.start(server)
            Issue.record("connected without the password Redis requires")
        } catch let error as BrokerError {
            #expect("\(error)".contains("CLIENT SETNAME failed: NOAUTH"), "\(error)")
        }
        await withPassword.shutdown()
        await a.shutdown()
    }

    /// Not a benchmark: a bounded sanity run that prints the rate of this build.
    @Test func `publish throughput to one local subscriber`() async throws {
        let server = try RedisServer()
        let a = try await Node.start(server, broker: BrokerConfiguration(subscriberBufferCount: 100_000))
        let subscription = try await a.broker.subscribe(to: ["bench"], lastEventID: nil)
        let count = 5000
        let broker = a.broker
        let (received, elapsed) = try await Task(executorPreference: a.loop.executor) {
            let started = ContinuousClock.now
            for number in 0..<count {
                broker.publishOnLoop(ServerSentEvent(data: String(number)), to: "bench") { _ in }
            }
            var received = 0
            for try await _ in subscription {
                received += 1 + subscription.takeBuffered().count
                if received >= count { break }
            }
            return (received, ContinuousClock.now - started)
        }.value
        #expect(received == count)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("RedisBroker: \(count) pipelined publishes delivered to 1 local subscriber in \(elapsed): \(Int(Double(count) / seconds)) events/s")
        await a.shutdown()
    }
}
