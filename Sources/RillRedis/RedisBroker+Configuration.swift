public import RillPubSub

extension RedisBroker {
    /// Where Redis is, how to log in, and the broker's bounds and timings.
    ///
    /// ```swift
    /// let configuration = try RedisBroker.Configuration(
    ///     url: "redis://:secret@127.0.0.1:6379/0", broker: .init(historyCount: 500))
    /// ```
    public struct Configuration: Sendable {
        /// The server's host: a numeric IPv4 or IPv6 address, or a name. A name is resolved
        /// again before every (re)connect, on libuv's thread pool (never blocking the loop),
        /// within ``connectTimeout``; with several addresses, successive attempts go round them.
        public var host: String
        /// The server's port (default 6379).
        public var port: Int
        /// The database that holds the streams (`SELECT`, default 0). Pub/sub ignores
        /// databases, so the database number is part of the pub/sub channel names when it is
        /// not 0: brokers on different databases never see each other's events.
        public var database: Int
        /// The ACL user (Redis 6+); nil logs in with the password alone (`AUTH <password>`).
        public var username: String?
        /// The password; nil sends no `AUTH`.
        public var password: String?
        /// History bounds, subscriber buffer and overflow policy, with the meaning they have
        /// for ``InMemoryBroker`` (history is kept in Redis streams; see the type's notes).
        public var broker: BrokerConfiguration
        /// The most events one replay (a subscription with a `Last-Event-ID`) delivers, over all
        /// its channels (default 1,000): when more events follow the client's position, the
        /// newest ones are replayed and the status is `.gap`. The channels' histories are read
        /// newest first in bounded batches (`XREVRANGE … COUNT 129`), merged by id, until this
        /// many are kept: a replay reads and holds about this many events plus one batch per
        /// channel, whatever the number of channels.
        public var maximumReplayEventCount: Int
        /// The most channels a pattern subscription's replay reads (default 64): the channels
        /// the patterns match among those published to since the client's event (the channel
        /// index, `<prefix>channels`, of which at most 10,000 are looked at). Beyond it the
        /// most recently published ones are replayed and the status is `.gap`. Each channel
        /// replayed is subscribed to by name for the subscription's life.
        public var maximumPatternReplayChannelCount: Int
        /// The most live events held per channel while the channel is being set up (its start
        /// position or its catch-up after a lost connection is read; one round trip, at most
        /// ``replyTimeout``). Default: the history count plus 10 % (at most 100) — what the
        /// stream itself keeps. Past it, live events are not held but read back from the stream
        /// before the channel goes live; subscriptions the channel already had end with
        /// ``SubscriptionError/historyLost`` (their clients replay). Nothing is lost either way,
        /// and no publish rate can grow the held list beyond this. A subscribe call in progress
        /// collects at most what one sync can deliver (a catch-up read and this many held events)
        /// plus `broker.subscriberBufferCount` live events; past that the call fails
        /// (``BrokerError/backend(_:)``, a 503 for `Application.eventStream`) and the client
        /// retries with its `Last-Event-ID`.
        public var maxHeldEventsPerChannel: Int?
        /// The prefix of every key and pub/sub channel the broker uses (default `rill:`):
        /// `<prefix>stream:<channel>`, `<prefix>meta:<channel>`, `<prefix>pids:<channel>`,
        /// `<prefix>lastid`, and the pub/sub channel `<prefix>channel:<channel>`.
        public var keyPrefix: String
        /// How long connecting (TCP, `AUTH`, `SELECT`, loading the scripts) may take.
        public var connectTimeout: Duration
        /// How long a connection with commands waiting may go without a reply before it is
        /// considered dead and is reset (hiredis 0.14 has no timeouts of its own). Counted from
        /// the oldest waiting command or the last reply, whichever came later, so a long
        /// pipeline whose replies keep coming is not reset; a loop that was busy past it first
        /// writes and reads what it could not, and gives commands it only now could send half
        /// of it more (once until a reply comes): a Redis that stopped answering is given up
        /// within 1.5 times this. Default 5 s.
        public var replyTimeout: Duration
        /// The first delay before reconnecting after a connection is lost; doubled after every
        /// failed attempt up to ``reconnectMaxDelay``.
        public var reconnectInitialDelay: Duration
        /// The longest delay between reconnection attempts.
        public var reconnectMaxDelay: Duration

        /// Creates a configuration from its parts.
        public init(
            host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil,
            broker: BrokerConfiguration = .init(), keyPrefix: String = "rill:"
        ) {
            self.host = host
            self.port = port
            self.database = database
            self.username = username
            self.password = password
            self.broker = broker
            self.keyPrefix = keyPrefix
            maximumReplayEventCount = 1000
            maximumPatternReplayChannelCount = 64
            maxHeldEventsPerChannel = nil
            connectTimeout = .seconds(2)
            replyTimeout = .seconds(5)
            reconnectInitialDelay = .milliseconds(100)
            reconnectMaxDelay = .seconds(5)
        }

        /// Creates a configuration from a URL:
        /// `redis://[[username]:password@]host[:port][/database]`. The port defaults to 6379
        /// and the database to 0; user and password may be percent-encoded; an IPv6 host is
        /// written in brackets (`redis://[::1]:6380`).
        ///
        /// - Throws: ``BrokerError/backend(_:)`` naming what is wrong with the URL (another
        ///   scheme such as `rediss://`, which is not supported, a port out of range, …).
        public init(url: String, broker: BrokerConfiguration = .init(), keyPrefix: String = "rill:") throws(BrokerError) {
            self.init(broker: broker, keyPrefix: keyPrefix)
            // The URL may carry a password: errors show it with the user information hidden.
            func invalid(_ reason: String) -> BrokerError { .backend("invalid Redis URL '\(Self.redacted(url))': \(reason)") }
            let scheme = "redis://"
            guard url.hasPrefix(scheme) else { throw invalid("only redis:// is supported") }
            var rest = Substring(url.dropFirst(scheme.count))
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                let user: Substring
                let password: Substring?
                if let colon = credentials.firstIndex(of: ":") {
                    user = credentials[..<colon]
                    password = credentials[credentials.index(after: colon)...]
                } else {
                    user = credentials
                    password = nil
                }
                guard let decodedUser = Self.percentDecoded(user) else { throw invalid("bad percent-encoding in the user") }
                if let password {
                    guard let decodedPassword = Self.percentDecoded(password) else {
                        throw invalid("bad percent-encoding in the password")
                    }
                    username = decodedUser.isEmpty ? nil : decodedUser
                    self.password = decodedPassword
                } else {
                    // `redis://secret@host`: a lone credential can only be a password.
                    self.password = decodedUser.isEmpty ? nil : decodedUser
                }
            }
            var hostPort = rest
            if let slash = rest.firstIndex(of: "/") {
                hostPort = rest[..<slash]
                let path = rest[rest.index(after: slash)...]
                if !path.isEmpty {
                    guard let number = Int(path), number >= 0 else { throw invalid("the database must be a number") }
                    database = number
                }
            }
            if hostPort.hasPrefix("[") {
                guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unclosed '[' in the host") }
                host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
                hostPort = hostPort[hostPort.index(after: close)...]
                if !hostPort.isEmpty {
                    guard hostPort.first == ":" else { throw invalid("unexpected text after the host") }
                }
            } else if let colon = hostPort.firstIndex(of: ":") {
                host = String(hostPort[..<colon])
                hostPort = hostPort[colon...]
            } else {
                host = String(hostPort)
                hostPort = ""
            }
            if hostPort.first == ":" {
                guard let number = Int(hostPort.dropFirst()), (1...65535).contains(number) else {
                    throw invalid("the port must be a number from 1 to 65535")
                }
                port = number
            }
            guard !host.isEmpty else { throw invalid("no host") }
        }

        /// The server as a URL, with the password hidden: for messages and logs.
        public var url: String {
            var text = "redis://"
            if username != nil || password != nil {
                text += (username ?? "") + (password == nil ? "" : ":***") + "@"
            }
            text += host.contains(":") ? "[\(host)]" : host
            text += ":\(port)/\(database)"
            return text
        }

        /// `url` with everything between `://` and its last `@` replaced by `***`, for messages:
        /// `redis://***@host:6379/0`. The parser takes the credentials up to the last `@`, so
        /// whatever a password contains (`/`, `@`, …) stays hidden.
        static func redacted(_ url: String) -> String {
            guard let at = url.lastIndex(of: "@") else { return url }
            let afterScheme = url.firstRange(of: "://").map(\.upperBound).flatMap { $0 <= at ? $0 : nil } ?? url.startIndex
            return String(url[..<afterScheme]) + "***" + String(url[at...])
        }

        private static func percentDecoded(_ text: Substring) -> String? {
            var bytes: [UInt8] = []
            var iterator = text.utf8.makeIterator()
            while let byte = iterator.next() {
                guard byte == UInt8(ascii: "%") else {
                    bytes.append(byte)
                    continue
                }
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        private static func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
    }
}

extension RedisBroker.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The server as ``url`` shows it (password hidden) and the key prefix; never the password.
    public var description: String { "RedisBroker.Configuration(\(url), keyPrefix: \(keyPrefix))" }

    public var debugDescription: String { description }

    /// `dump` and the debugger see the fields with the password hidden.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "database": database, "username": username as Any,
                "password": password.map { _ in "***" } as Any, "broker": broker, "maximumReplayEventCount": maximumReplayEventCount,
                "maximumPatternReplayChannelCount": maximumPatternReplayChannelCount,
                "keyPrefix": keyPrefix,
                "connectTimeout": connectTimeout, "replyTimeout": replyTimeout, "reconnectInitialDelay": reconnectInitialDelay,
                "reconnectMaxDelay": reconnectMaxDelay,
            ])
    }
}
