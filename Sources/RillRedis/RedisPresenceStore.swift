import RillCore
import RillPubSub

/// Presence shared by every process on one Redis: each process keeps its own in its
/// ``PresenceRegistry`` and mirrors it into Redis on a timer; a query adds up the entries of
/// every live process.
///
/// Keys (under the broker's ``RedisBroker/Configuration/keyPrefix``):
/// - `presence:<channel>` — a sorted set of the ids of the processes with subscribers on the
///   channel, each scored with the time (ms since 1970, the process's clock) its entries expire;
/// - `presence-members:<process>:<channel>` — that process's hash for the channel: field `n`
///   holds its subscriptions, field `m:<sub>` holds `<connections>:<since ms>` per identity.
///
/// Every ``PresenceConfiguration/refreshInterval`` a process rewrites the hashes of the
/// channels that changed since its previous refresh (`MULTI`/`EXEC`: `DEL`, `HSET`, `PEXPIRE`)
/// and renews the others (`PEXPIRE` and `ZADD`: O(1) per channel; a hash Redis lost is
/// rewritten at once). A process that dies without a goodbye stops renewing: its hashes
/// expire ``PresenceConfiguration/entryTimeToLive`` after its last refresh, and a query
/// ignores (and removes) its sorted-set entries from then on. A clean shutdown deletes them.
/// A query reads the sorted set and one hash per other live process: O(processes + members).
/// Per channel Redis holds one entry per process and one field per identity.
final class RedisPresenceStore: PresenceStore, @unchecked Sendable {
    let registry: PresenceRegistry
    private let broker: RedisBroker
    /// This process's id in the sorted sets.
    private let processID: String
    private let prefix: [UInt8]
    private let refreshInterval: Duration
    private let timeToLiveBytes: [UInt8]
    private let timeToLiveMilliseconds: Int64
    // Loop state (the broker's loop).
    private var timer: ScheduledTimer?
    private var stopped = false
    /// Channels whose hash must be rewritten at the next refresh although they did not change
    /// (a command that could not be sent, a hash Redis lost).
    private var pendingRewrites = Set<String>()

    init(broker: RedisBroker) {
        let configuration = broker.configuration.broker.presence
        self.broker = broker
        // A stream of another process may watch any channel.
        registry = PresenceRegistry(configuration: configuration, announcesUnwatchedChannels: true, tracksChangedChannels: true)
        processID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        prefix = Array(broker.configuration.keyPrefix.utf8)
        refreshInterval = configuration.refreshInterval
        timeToLiveMilliseconds = Int64(configuration.entryTimeToLive.wholeMilliseconds)
        timeToLiveBytes = Array(String(timeToLiveMilliseconds).utf8)
        broker.onLoop { self.scheduleRefresh(after: .zero) }
    }

    private func setKey(_ channel: String) -> [UInt8] { prefix + Array("presence:".utf8) + Array(channel.utf8) }

    private func hashKey(_ channel: String, process: String) -> [UInt8] {
        prefix + Array("presence-members:\(process):".utf8) + Array(channel.utf8)
    }

    // MARK: Mirroring

    private func scheduleRefresh(after delay: Duration) {
        guard !stopped else { return }
        timer = broker.eventLoop.schedule(after: delay) { [weak self] in self?.refresh() }
    }

    /// Writes what changed, renews the rest. Loop thread.
    private func refresh() {
        defer { scheduleRefresh(after: refreshInterval) }
        var changed = registry.takeChangedChannels()
        // A set, not a search of `changed` per name: after a reset every channel is pending and
        // changed, and 200,000 of each searched linearly kept this loop busy for minutes.
        let changedNames = Set(changed.lazy.map(\.name))
        for name in pendingRewrites where !changedNames.contains(name) {
            let local = registry.local(name)
            changed.append((name, local.connections > 0 ? local : nil))
        }
        pendingRewrites = []
        guard broker.command.isReady else {
            for (name, _) in changed { pendingRewrites.insert(name) }
            return
        }
        let expiry = Array(String(PresenceRegistry.unixMilliseconds() + timeToLiveMilliseconds).utf8)
        var rewritten = Set<String>()
        for (name, channel) in changed {
            rewritten.insert(name)
            if let channel { write(name, channel, expiry: expiry) } else { remove(name) }
        }
        for name in registry.channelNames() where !rewritten.contains(name) { renew(name, expiry: expiry) }
    }

    private func write(_ name: String, _ channel: PresenceRegistry.Channel, expiry: [UInt8]) {
        let hash = hashKey(name, process: processID)
        var fields: [[UInt8]] = [Array("HSET".utf8), hash, Array("n".utf8), Array(String(channel.connections).utf8)]
        for member in channel.members.values {
            fields.append(Array("m:".utf8) + Array(member.sub.utf8))
            fields.append(Array("\(member.connections):\(member.sinceUnixMilliseconds)".utf8))
        }
        let commands: [[[UInt8]]] = [
            [Array("MULTI".utf8)], [Array("DEL".utf8), hash], fields, [Array("PEXPIRE".utf8), hash, timeToLiveBytes],
            [Array("ZADD".utf8), setKey(name), expiry, Array(processID.utf8)],
            [Array("PEXPIRE".utf8), setKey(name), timeToLiveBytes], [Array("EXEC".utf8)],
        ]
        send(commands, rewriting: name)
    }

    private func remove(_ name: String) {
        let commands: [[[UInt8]]] = [
            [Array("DEL".utf8), hashKey(name, process: processID)], [Array("ZREM".utf8), setKey(name), Array(processID.utf8)],
        ]
        send(commands, rewriting: name)
    }

    private func renew(_ name: String, expiry: [UInt8]) {
        let sent = broker.command.send([Array("PEXPIRE".utf8), hashKey(name, process: processID), timeToLiveBytes]) { [weak self] reply in
            // 0: Redis no longer has the hash (restarted, flushed): write it again now.
            if let self, reply?.integer == 0, !self.stopped { self.pendingRewrites.insert(name) }
        }
        guard sent else {
            pendingRewrites.insert(name)
            return
        }
        broker.command.send([Array("ZADD".utf8), setKey(name), expiry, Array(processID.utf8)]) { _ in }
        broker.command.send([Array("PEXPIRE".utf8), setKey(name), timeToLiveBytes]) { _ in }
    }

    /// Sends `commands` in order; if the connection cannot take them, `name` is rewritten at
    /// the next refresh.
    private func send(_ commands: [[[UInt8]]], rewriting name: String) {
        for command in commands where !broker.command.send(command, { _ in }) {
            pendingRewrites.insert(name)
            return
        }
    }

    // MARK: PresenceStore

    func presence(of channel: String, limit: Int) async throws -> Presence {
        let local = registry.local(channel)
        let others = try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<[RedisValue], any Error>) in
            broker.onLoop(
                { self.readOthers(channel) { continuation.resume(with: $0) } },
                refused: { continuation.resume(throwing: RedisBroker.loopRefused) })
        }
        var count = local.connections
        var members = local.members
        for reply in others {
            guard let fields = reply.elements else { continue }
            var index = 0
            while index + 1 < fields.count {
                defer { index += 2 }
                guard let name = fields[index].text, let value = fields[index + 1].text else { continue }
                if name == "n" {
                    count += Int(value) ?? 0
                    continue
                }
                guard name.hasPrefix("m:") else { continue }
                let parts = value.split(separator: ":")
                guard parts.count == 2, let connections = Int(parts[0]), let since = Int64(parts[1]) else { continue }
                let sub = String(name.dropFirst(2))
                if var member = members[sub] {
                    member.connections += connections
                    member.sinceUnixMilliseconds = min(member.sinceUnixMilliseconds, since)
                    members[sub] = member
                } else {
                    members[sub] = Presence.Member(sub: sub, connections: connections, sinceUnixMilliseconds: since)
                }
            }
        }
        return Presence(channel: channel, count: count, allMembers: Array(members.values), limit: limit)
    }

    /// The hashes of every other live process with subscribers on `channel`. Loop thread.
    private func readOthers(_ channel: String, completion: @escaping (Result<[RedisValue], any Error>) -> Void) {
        let now = Array(String(PresenceRegistry.unixMilliseconds()).utf8)
        let set = setKey(channel)
        let failure = BrokerError.backend("cannot read presence from \(broker.configuration.url)")
        // Entries of processes that stopped refreshing go first.
        broker.command.send([Array("ZREMRANGEBYSCORE".utf8), set, Array("-inf".utf8), now]) { _ in }
        let sent = broker.command.send([Array("ZRANGE".utf8), set, now, Array("+inf".utf8), Array("BYSCORE".utf8)]) { [self] reply in
            guard let ids = reply?.elements else { return completion(.failure(failure)) }
            let processes = ids.compactMap(\.text).filter { $0 != self.processID }
            if processes.isEmpty { return completion(.success([])) }
            var hashes: [RedisValue] = []
            var failed = false
            for process in processes {
                let sent = broker.command.send([Array("HGETALL".utf8), hashKey(channel, process: process)]) { reply in
                    guard !failed else { return }
                    guard let reply else {
                        failed = true
                        return completion(.failure(failure))
                    }
                    hashes.append(reply)
                    if hashes.count == processes.count { completion(.success(hashes)) }
                }
                if !sent {
                    failed = true
                    return completion(.failure(failure))
                }
            }
        }
        if !sent { completion(.failure(failure)) }
    }

    /// The channels whose notice channel some process subscribes to (`PUBSUB NUMSUB`, at most
    /// ``maxChannelsPerWatchQuery`` per command): a stream with `presence=1` on any hub
    /// subscribes there; no other subscribes to a server channel (patterns never match them).
    /// None when Redis cannot answer (a notice could not be published either).
    func watchedChannels(among channels: [String], _ completion: @escaping @Sendable (Set<String>) -> Void) {
        broker.onLoop(
            { [self] in
                guard broker.command.isReady, !channels.isEmpty else { return completion([]) }
                let batches = stride(from: 0, to: channels.count, by: Self.maxChannelsPerWatchQuery).map {
                    Array(channels[$0..<min($0 + Self.maxChannelsPerWatchQuery, channels.count)])
                }
                var watched = Set<String>()
                var waiting = batches.count
                for batch in batches {
                    let arguments =
                        [Array("PUBSUB".utf8), Array("NUMSUB".utf8)] + batch.map { broker.keys.pubsub(ChannelPattern.serverChannelPrefix + $0) }
                    let sent = broker.command.send(arguments) { reply in
                        if let elements = reply?.elements, elements.count == 2 * batch.count {
                            for (index, name) in batch.enumerated() where (elements[2 * index + 1].integer ?? 0) > 0 { watched.insert(name) }
                        }
                        waiting -= 1
                        if waiting == 0 { completion(watched) }
                    }
                    if !sent {
                        waiting -= 1
                        if waiting == 0 { completion(watched) }
                    }
                }
            }, refused: { completion([]) })
    }

    /// The most channels one `PUBSUB NUMSUB` asks about.
    static let maxChannelsPerWatchQuery = 1000

    func shutdown() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            broker.onLoop(
                bypassingLimit: true,
                { self.sayGoodbye { continuation.resume() } }, refused: { continuation.resume() })
        }
    }

    /// Stops refreshing and deletes this process's entries; `done` once Redis confirmed (or the
    /// connection went). Loop thread.
    private func sayGoodbye(_ done: @escaping () -> Void) {
        stopped = true
        timer?.cancel()
        timer = nil
        let names = Set(registry.channelNames()).union(registry.takeChangedChannels().map(\.name))
        guard broker.command.isReady, !names.isEmpty else { return done() }
        var waiting = 0
        let confirmed: (RedisValue?) -> Void = { _ in
            waiting -= 1
            if waiting == 0 { done() }
        }
        for name in names {
            if broker.command.send([Array("DEL".utf8), hashKey(name, process: processID)], confirmed) { waiting += 1 }
            if broker.command.send([Array("ZREM".utf8), setKey(name), Array(processID.utf8)], confirmed) { waiting += 1 }
        }
        if waiting == 0 { done() }
    }
}
