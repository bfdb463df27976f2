import RillPubSub

/// The names RedisBroker uses in Redis, all under the configured prefix (default `rill:`).
struct RedisKeys {
    /// `<prefix>lastid`: the last event id assigned (one counter for every channel).
    let lastID: [UInt8]
    /// `<prefix>since`: the id where the history Redis holds begins (see
    /// `RedisScripts.history_start`): a position before it was given out by a Redis that has
    /// since lost its data.
    let historyStart: [UInt8]
    /// `<prefix>anchor:<random>`: a channel only this process subscribes to, so that the
    /// subscriber connection never drops out of subscribed mode when the last real channel is
    /// unsubscribed while another SUBSCRIBE is still in flight (older hiredis releases assert
    /// in exactly that case).
    let anchor: [UInt8]
    private let prefix: [UInt8]
    private let pubsubPrefix: [UInt8]

    init(prefix: String, database: Int) {
        self.prefix = Array(prefix.utf8)
        lastID = self.prefix + Array("lastid".utf8)
        historyStart = self.prefix + Array("since".utf8)
        // Pub/sub is shared by all databases; the number keeps brokers on different databases
        // (whose streams differ) apart.
        pubsubPrefix = self.prefix + Array((database == 0 ? "channel:" : "db\(database):channel:").utf8)
        anchor = self.prefix + Array("anchor:\(String(UInt64.random(in: 1...UInt64.max), radix: 36))".utf8)
    }

    /// `<prefix>stream:<channel>`: the channel's history.
    func stream(_ channel: String) -> [UInt8] { prefix + Array("stream:".utf8) + Array(channel.utf8) }

    /// `<prefix>meta:<channel>`: a hash with the highest id trimming removed from the channel's
    /// history (`trimmed`) and its newest id (`newest`).
    func meta(_ channel: String) -> [UInt8] { prefix + Array("meta:".utf8) + Array(channel.utf8) }

    /// `<prefix>pids:<channel>`: a hash from publisher ids to the entry ids of the channel's
    /// events that carry them (events with a broker-assigned id are not in it).
    func publisherIDs(_ channel: String) -> [UInt8] { prefix + Array("pids:".utf8) + Array(channel.utf8) }

    /// `<prefix>channels`: a sorted set of the channels' stream keys by their last publish
    /// (milliseconds of Redis's clock), trimmed to the history's age: where a pattern's replay
    /// finds the channels that may hold what a client missed.
    var channelIndex: [UInt8] { prefix + Array("channels".utf8) }

    /// The channel whose stream key is `key` (a member of ``channelIndex``).
    func channel(fromStream key: [UInt8]) -> String? {
        let streamPrefix = prefix + Array("stream:".utf8)
        guard key.count > streamPrefix.count, key.starts(with: streamPrefix) else { return nil }
        return String(decoding: key[streamPrefix.count...], as: UTF8.self)
    }

    /// The Redis glob (`PSUBSCRIBE`) for `pattern`: every pub/sub channel of a channel the
    /// pattern matches, and possibly others (Redis's `*` crosses `/`, and a `**` segment with its
    /// slash becomes one `*`), which the broker filters out. Glob metacharacters in literal parts
    /// are escaped.
    func glob(for pattern: ChannelPattern) -> [UInt8] {
        pubsubPrefix + Array(pattern.redisGlob.utf8)
    }

    /// `<prefix>channel:<channel>`: the pub/sub channel live events of the channel go through.
    func pubsub(_ channel: String) -> [UInt8] { pubsubPrefix + Array(channel.utf8) }

    /// The broker channel a pub/sub channel name belongs to, or nil for any other name.
    func channel(fromPubSub name: [UInt8]) -> String? {
        guard name.count > pubsubPrefix.count, name.starts(with: pubsubPrefix) else { return nil }
        return String(decoding: name[pubsubPrefix.count...], as: UTF8.self)
    }
}
