import RillCore
import RillSSE

/// The fields of a published event as Redis stores and carries them.
///
/// In the stream entry each present field is one field/value pair named by a letter (`d` data,
/// `e` event, `i` the publisher's id, `r` retry in whole milliseconds, `c` comment), readable
/// with `redis-cli XRANGE`. In the pub/sub message the same fields follow the entry id as
/// `<letter><byte count>:<bytes>` items, so any byte (line breaks, NUL) survives:
///
/// ```
/// 1700000000000-0 e6:notifyd5:hello
/// ```
///
/// Every process rebuilds the identical `ServerSentEvent`, and so the identical bytes, from
/// either form. Unknown letters are skipped (room for later fields).
struct EventRecord: Hashable, Sendable {
    var data: [UInt8]?
    var event: [UInt8]?
    var id: [UInt8]?
    var retryMilliseconds: Int64?
    var comment: [UInt8]?

    init(data: [UInt8]? = nil, event: [UInt8]? = nil, id: [UInt8]? = nil, retryMilliseconds: Int64? = nil, comment: [UInt8]? = nil) {
        self.data = data
        self.event = event
        self.id = id
        self.retryMilliseconds = retryMilliseconds
        self.comment = comment
    }

    /// The record of `event` as a publisher gave it.
    init(_ event: ServerSentEvent) {
        data = event.data.map { Array($0.utf8) }
        self.event = event.event.map { Array($0.utf8) }
        id = event.id.map { Array($0.utf8) }
        retryMilliseconds = event.retry.map { Int64(clamping: $0.wholeMilliseconds) }
        comment = event.comment.map { Array($0.utf8) }
    }

    private var pairs: [(UInt8, [UInt8])] {
        var pairs: [(UInt8, [UInt8])] = []
        if let data { pairs.append((UInt8(ascii: "d"), data)) }
        if let event { pairs.append((UInt8(ascii: "e"), event)) }
        if let id { pairs.append((UInt8(ascii: "i"), id)) }
        if let retryMilliseconds { pairs.append((UInt8(ascii: "r"), Array(String(retryMilliseconds).utf8))) }
        if let comment { pairs.append((UInt8(ascii: "c"), comment)) }
        return pairs
    }

    /// Field/value arguments for `XADD` (at least one pair: an event with no field at all gets
    /// an empty `n` marker, since a stream entry cannot be empty).
    var streamArguments: [[UInt8]] {
        var arguments: [[UInt8]] = []
        for (letter, value) in pairs {
            arguments.append([letter])
            arguments.append(value)
        }
        if arguments.isEmpty { arguments = [[UInt8(ascii: "n")], []] }
        return arguments
    }

    /// The pub/sub form of the fields (what follows `<entry id> ` in the message).
    var messageFields: [UInt8] {
        var bytes: [UInt8] = []
        for (letter, value) in pairs {
            bytes.append(letter)
            bytes.append(contentsOf: String(value.count).utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: value)
        }
        return bytes
    }

    /// Parses the pub/sub form; nil when malformed.
    init?(messageFields bytes: ArraySlice<UInt8>) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let letter = bytes[index]
            index += 1
            var count = 0
            var digits = 0
            while index < bytes.endIndex, bytes[index] != UInt8(ascii: ":") {
                let digit = bytes[index]
                guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9"), digits < 10 else { return nil }
                count = count * 10 + Int(digit - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            guard digits > 0, index < bytes.endIndex, bytes.endIndex - (index + 1) >= count else { return nil }
            index += 1
            let value = Array(bytes[index..<(index + count)])
            index += count
            guard set(letter, value) else { return nil }
        }
    }

    /// Parses an `XRANGE` entry's field/value list; nil when malformed.
    init?(streamFields fields: [RedisValue]) {
        guard fields.count % 2 == 0 else { return nil }
        var index = 0
        while index < fields.count {
            guard case .bulk(let name) = fields[index], case .bulk(let value) = fields[index + 1] else { return nil }
            if name.count == 1 { guard set(name[0], value) else { return nil } }
            index += 2
        }
    }

    private mutating func set(_ letter: UInt8, _ value: [UInt8]) -> Bool {
        switch letter {
        case UInt8(ascii: "d"): data = value
        case UInt8(ascii: "e"): event = value
        case UInt8(ascii: "i"): id = value
        case UInt8(ascii: "c"): comment = value
        case UInt8(ascii: "r"):
            guard let milliseconds = Int64(String(decoding: value, as: UTF8.self)) else { return false }
            retryMilliseconds = milliseconds
        default: break  // a field of a later format version
        }
        return true
    }

    /// The event subscribers receive: the publisher's id, or else the entry id.
    func serverSentEvent(entryID: StreamID) -> ServerSentEvent {
        ServerSentEvent(
            data: data.map { String(decoding: $0, as: UTF8.self) },
            event: event.map { String(decoding: $0, as: UTF8.self) },
            id: id.map { String(decoding: $0, as: UTF8.self) } ?? entryID.description,
            retry: retryMilliseconds.map { .milliseconds($0) },
            comment: comment.map { String(decoding: $0, as: UTF8.self) })
    }
}
