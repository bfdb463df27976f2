import DequeModule
import RillCore
import RillPubSub

/// Presence shared by every process on one Redis: each process keeps its own in its
/// ``PresenceRegistry`` and mirrors it into Redis on a timer; a query adds up the entries of
/// every live process.
///
/// Keys (under the broker's ``RedisBroker/Configuration/keyPrefix``):
/// - `presence-processes` — a sorted set of the processes, each scored with the time (ms since
///   1970, the process's clock) until which it counts as alive: renewed at every refresh, the
///   one thing a refresh must touch;
/// - `presence:<channel>` — a sorted set of the ids of the processes with subscribers on the
///   channel (scored with the time of the write);
/// - `presence-members:<process>:<channel>` — that process's hash for the channel: field `n`
///   holds its subscriptions, field `m:<sub>` holds `<connections>:<since ms>` per identity.
///
/// Every ``PresenceConfiguration/refreshInterval`` a process renews its own liveness
/// (`ZADD presence-processes`) and rewrites the hashes of the channels that changed since its
/// previous refresh (one script per channel: `DEL`, `HSET`, `PEXPIRE`, `ZADD`). A refresh costs the
/// channels that changed, not every channel: a channel's keys live ``keyLifetime`` (40 times
/// ``PresenceConfiguration/entryTimeToLive``, at least 1 s: 10 minutes by default) and are
/// renewed once a third of it passed since they were written (`PEXPIRE`; a hash Redis lost is
/// rewritten at once). 200,000 quiet channels cost two commands each per 200 s, in the bursts
/// they were written in, instead of three each at every refresh.
///
/// A process that dies without a goodbye stops renewing its liveness. From
/// ``PresenceConfiguration/entryTimeToLive`` after its last refresh, queries ignore its entries
/// (a process that was only stalled counts again at its next refresh); its keys expire within
/// ``keyLifetime``, and then queries remove its id from the channels' sets. A clean shutdown
/// deletes its entries at once. A query reads the channel's set, the liveness of the processes
/// in it (`ZMSCORE`) and one hash per other live process: O(processes + members). If Redis
/// loses the liveness set (a restart, a flush), each process finds its own entry missing at its
/// next refresh and rewrites every channel.
final class RedisPresenceStore: PresenceStore, @unchecked Sendable {
    let registry: PresenceRegistry
    private let broker: RedisBroker
    /// This process's id in the sorted sets.
    private let processID: String
    private let prefix: [UInt8]
    private let refreshInterval: Duration
    private let timeToLiveMilliseconds: Int64
    /// How long a channel's keys live in Redis after they were written or renewed.
    let keyLifetime: Duration
    private let keyLifetimeBytes: [UInt8]
    // Loop state (the broker's loop).
    private var timer: ScheduledTimer?
    private var stopped = false
    /// Whether Redis already answered a liveness renewal: a later answer that the entry was
    /// new means Redis lost the set.
    private var registeredLiveness = false
    /// Channels whose hash must be rewritten at the next refresh although they did not change
    /// (a command that could not be sent, a hash Redis lost).
    private var pendingRewrites = Set<String>()
    /// The channels whose keys this process wrote, each with the loop time of the last write or
    /// renewal and its entry in ``renewals``.
    private var written: [String: (milliseconds: UInt64, entry: UInt64)] = [:]
    /// One entry per channel of ``written``, in the order they are due for a look; an entry
    /// whose number no longer matches is dropped when it comes up.
    private var renewals = Deque<(name: String, queuedMilliseconds: UInt64, entry: UInt64)>()
    private var nextEntry: UInt64 = 0

    init(broker: RedisBroker) {
        let configuration = broker.configuration.broker.presence
        self.broker = broker
        // A stream of another process may watch any channel.
        registry = PresenceRegistry(configuration: configuration, announcesUnwatchedChannels: true, tracksChangedChannels: true)
        processID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        prefix = Array(broker.configuration.keyPrefix.utf8)
        refreshInterval = configuration.refreshInterval
        timeToLiveMilliseconds = Int64(configuration.entryTimeToLive.wholeMilliseconds)
        keyLifetime = max(configuration.entryTimeToLive * 40, .seconds(1))
        keyLifetimeBytes = Array(String(keyLifetime.wholeMilliseconds).utf8)
        broker.onLoop { self.scheduleRefresh(after: .zero) }
    }

    private var processesKey: [UInt8] { prefix + Array("presence-processes".utf8) }

    private func setKey(_ channel: String) -> [UInt8] { prefix + Array("presence:".utf8) + Array(channel.utf8) }

    private func hashKey(_ channel: String, process: String) -> [UInt8] {
        prefix + Array("presence-members:\(process):".utf8) + Array(channel.utf8)
    }

    // MARK: Mirroring

    private func scheduleRefresh(after delay: Duration) {
        guard !stopped else { return }
        timer = broker.eventLoop.schedule(after: delay) { [weak self] in self?.refresh() }
    }

    /// Renews this process's liveness, writes what changed, renews the keys that are due.
    /// Loop thread.
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
        guard broker.command.isReady, renewLiveness() else {
            for (name, _) in changed { pendingRewrites.insert(name) }
            return
        }
        let now = broker.eventLoop.nowMilliseconds
        let score = Array(String(PresenceRegistry.unixMilliseconds()).utf8)
        for (name, channel) in changed {
            if let channel { write(name, channel, score: score, now: now) } else { remove(name) }
        }
        renewDueKeys(now: now)
        compactRenewals()
    }

    /// Drops the queue's entries of channels removed since they were queued once they are most
    /// of it: channels that come and go (a flood of invented names) would otherwise keep an
    /// entry each, and their names, for a third of ``keyLifetime``. O(queue), at most once per
    /// refresh, amortized by the halving.
    private func compactRenewals() {
        guard renewals.count > 2 * written.count + 1024 else { return }
        renewals = Deque(renewals.filter { written[$0.name]?.entry == $0.entry })
    }

    /// Entries in the renewal queue (tests). Loop thread.
    var renewalQueueCount: Int { renewals.count }

    /// `ZADD` of this process's liveness; false if the connection cannot take it.
    private func renewLiveness() -> Bool {
        let unixNow = PresenceRegistry.unixMilliseconds()
        let expiry = Array(String(unixNow + timeToLiveMilliseconds).utf8)
        let sent = broker.command.send([Array("ZADD".utf8), processesKey, expiry, Array(processID.utf8)]) { [weak self] reply in
            guard let self, !self.stopped, let added = reply?.integer else { return }
            // Added anew after a first answer: Redis lost the set, and with it (restart, flush)
            // this process's channel keys. Write them all again.
            if added == 1, self.registeredLiveness { self.pendingRewrites.formUnion(self.registry.channelNames()) }
            self.registeredLiveness = true
        }
        guard sent else { return false }
        broker.command.send([Array("PEXPIRE".utf8), processesKey, keyLifetimeBytes]) { _ in }
        // Processes dead for longer than any of their keys can live.
        let forgotten = Array(String(unixNow - Int64(keyLifetime.wholeMilliseconds)).utf8)
        broker.command.send([Array("ZREMRANGEBYSCORE".utf8), processesKey, Array("-inf".utf8), forgotten]) { _ in }
        return true
    }

    private func write(_ name: String, _ channel: PresenceRegistry.Channel, score: [UInt8], now: UInt64) {
        var arguments: [[UInt8]] = [
            hashKey(name, process: processID), setKey(name), keyLifetimeBytes, score, Array(processID.utf8),
            Array("n".utf8), Array(String(channel.connections).utf8),
        ]
        arguments.reserveCapacity(arguments.count + 2 * channel.members.count)
        for member in channel.members.values {
            arguments.append(Array("m:".utf8) + Array(member.sub.utf8))
            arguments.append(Array("\(member.connections):\(member.sinceUnixMilliseconds)".utf8))
        }
        let sent = broker.evaluate(broker.presenceWriteSHA, RedisScripts.presenceWrite, keyCount: 2, arguments) { _ in }
        guard sent else {
            pendingRewrites.insert(name)
            return
        }
        if let previous = written[name] {
            written[name] = (now, previous.entry)  // its place in the queue stays
        } else {
            written[name] = (now, nextEntry)
            renewals.append((name, now, nextEntry))
            nextEntry &+= 1
        }
    }

    private func remove(_ name: String) {
        written[name] = nil
        let commands: [[[UInt8]]] = [
            [Array("DEL".utf8), hashKey(name, process: processID)], [Array("ZREM".utf8), setKey(name), Array(processID.utf8)],
        ]
        send(commands, rewriting: name)
    }

    /// Renews the keys of the channels written or renewed a third of ``keyLifetime`` ago or
    /// more; a channel written since goes back in the queue.
    private func renewDueKeys(now: UInt64) {
        let third = UInt64(keyLifetime.wholeMilliseconds / 3)
        guard now >= third else { return }
        let due = now - third
        // Each entry looked at once: one put back now is not due again before `third`.
        for _ in 0..<renewals.count {
            guard let first = renewals.first, first.queuedMilliseconds <= due else { break }
            renewals.removeFirst()
            guard let state = written[first.name], state.entry == first.entry else { continue }  // removed
            if state.milliseconds <= due {
                guard renew(first.name) else { continue }  // rewritten at the next refresh
                written[first.name] = (now, state.entry)
            }
            renewals.append((first.name, now, state.entry))
        }
    }

    /// `PEXPIRE` of a channel's keys; false if the connection cannot take it.
    private func renew(_ name: String) -> Bool {
        let sent = broker.command.send([Array("PEXPIRE".utf8), hashKey(name, process: processID), keyLifetimeBytes]) { [weak self] reply in
            // 0: Redis no longer has the hash (restarted, flushed, evicted): write it again now.
            if let self, reply?.integer == 0, !self.stopped { self.pendingRewrites.insert(name) }
        }
        guard sent else {
            written[name] = nil
            pendingRewrites.insert(name)
            return false
        }
        broker.command.send([Array("PEXPIRE".utf8), setKey(name), keyLifetimeBytes]) { _ in }
        return true
    }

    /// Sends `commands` in order; if the connection cannot take them, `name` is rewritten at
    /// the next refresh. Returns whether all were sent.
    @discardableResult
    private func send(_ commands: [[[UInt8]]], rewriting name: String) -> Bool {
        for command in commands where !broker.command.send(command, { _ in }) {
            pendingRewrites.insert(name)
            return false
        }
        return true
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
        let set = setKey(channel)
        let failure = BrokerError.backend("cannot read presence from \(broker.configuration.url)")
        let sent = broker.command.send([Array("ZRANGE".utf8), set, Array("0".utf8), Array("-1".utf8)]) { [self] reply in
            guard let ids = reply?.elements else { return completion(.failure(failure)) }
            let processes = ids.compactMap(\.text).filter { $0 != self.processID }
            if processes.isEmpty { return completion(.success([])) }
            let sent = broker.command.send([Array("ZMSCORE".utf8), processesKey] + processes.map { Array($0.utf8) }) { [self] reply in
                guard let scores = reply?.elements, scores.count == processes.count else { return completion(.failure(failure)) }
                let now = Double(PresenceRegistry.unixMilliseconds())
                let forgotten = now - Double(keyLifetime.wholeMilliseconds)
                var live: [String] = []
                var gone: [[UInt8]] = []
                for (process, score) in zip(processes, scores) {
                    let expiry = score.text.flatMap(Double.init)
                    if let expiry, expiry > now {
                        live.append(process)
                    } else if (expiry ?? -.infinity) < forgotten {
                        gone.append(Array(process.utf8))
                    }
                }
                // A process whose liveness lapsed may only be stalled (a busy loop, a paused
                // Redis): its entry stays, ignored, and counts again at its next refresh. One
                // gone for longer than its keys live goes (were it back, it writes every channel).
                if !gone.isEmpty { broker.command.send([Array("ZREM".utf8), set] + gone) { _ in } }
                readHashes(of: live, channel, failure: failure, completion: completion)
            }
            if !sent { completion(.failure(failure)) }
        }
        if !sent { completion(.failure(failure)) }
    }

    /// `HGETALL` of each process's hash of `channel`. Loop thread.
    private func readHashes(
        of processes: [String], _ channel: String, failure: BrokerError, completion: @escaping (Result<[RedisValue], any Error>) -> Void
    ) {
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
        let names = Set(registry.channelNames()).union(registry.takeChangedChannels().map(\.name)).union(written.keys)
        guard broker.command.isReady else { return done() }
        var waiting = 0
        let confirmed: (RedisValue?) -> Void = { _ in
            waiting -= 1
            if waiting == 0 { done() }
        }
        if broker.command.send([Array("ZREM".utf8), processesKey, Array(processID.utf8)], confirmed) { waiting += 1 }
        for name in names {
            if broker.command.send([Array("DEL".utf8), hashKey(name, process: processID)], confirmed) { waiting += 1 }
            if broker.command.send([Array("ZREM".utf8), setKey(name), Array(processID.utf8)], confirmed) { waiting += 1 }
        }
        if waiting == 0 { done() }
    }
}
