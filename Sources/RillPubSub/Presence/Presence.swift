/// Who is subscribed to a channel: how many subscriptions it has and, up to a limit, the
/// identities (`sub`) behind them, each with its number of subscriptions and since when.
///
/// ```swift
/// let presence = try await app.presence(of: "chat", limit: 100)
/// print(presence.count, presence.members.map(\.sub))
/// ```
public struct Presence: Sendable, Equatable, Codable {
    /// One identity subscribed to the channel.
    public struct Member: Sendable, Equatable, Codable {
        /// The identity (a JWT's `sub`).
        public var sub: String
        /// Its subscriptions to the channel (a user with two tabs has two).
        public var connections: Int
        /// When its oldest current subscription began, in milliseconds since 1970 (UTC).
        public var sinceUnixMilliseconds: Int64

        /// Creates a member.
        public init(sub: String, connections: Int, sinceUnixMilliseconds: Int64) {
            self.sub = sub
            self.connections = connections
            self.sinceUnixMilliseconds = sinceUnixMilliseconds
        }
    }

    /// The channel.
    public var channel: String
    /// Its subscriptions, anonymous ones included, in every process that shares the store.
    public var count: Int
    /// Identified members, longest present first (ties by `sub`), at most the limit asked for.
    public var members: [Member]
    /// How many identified members there are in all (``members`` may list fewer).
    public var memberCount: Int

    /// Creates a presence.
    public init(channel: String, count: Int, members: [Member], memberCount: Int) {
        self.channel = channel
        self.count = count
        self.members = members
        self.memberCount = memberCount
    }

    /// A presence of `channel` from `members` (every identified member) and `count`: the
    /// longest present `limit` members listed.
    public init(channel: String, count: Int, allMembers members: [Member], limit: Int) {
        let sorted = members.sorted { ($0.sinceUnixMilliseconds, $0.sub) < ($1.sinceUnixMilliseconds, $1.sub) }
        self.init(channel: channel, count: count, members: Array(sorted.prefix(max(0, limit))), memberCount: members.count)
    }
}
