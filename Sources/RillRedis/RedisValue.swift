import CHiredis

/// A Redis reply, copied out of hiredis's `redisReply`, which hiredis frees as soon as the reply
/// callback returns.
package enum RedisValue: Sendable, Hashable {
    /// A bulk string (binary safe).
    case bulk([UInt8])
    /// A status reply such as `OK`.
    case status(String)
    /// An error reply such as `ERR unknown command`.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A nil bulk string or nil array.
    case null
    /// An array reply.
    indirect case array([RedisValue])

    /// Copies `reply` and everything it points to.
    init(copying reply: UnsafePointer<redisReply>) {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            self = .bulk(Self.bytes(value.str, value.len))
        case REDIS_REPLY_STATUS:
            self = .status(String(decoding: Self.bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(value.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                if let element = value.element[index] { elements.append(RedisValue(copying: element)) } else { elements.append(.null) }
            }
            self = .array(elements)
        default:
            self = .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// A bulk or status reply as text.
    package var text: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    /// The elements of an array reply.
    package var elements: [RedisValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The value of an integer reply.
    package var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The message of an error reply.
    package var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}
