/// A request's head as an HTTP/2 stream carries it: the pseudo-header fields and the regular
/// ones in arrival order (names lowercase, as HTTP/2 requires; nghttp2 has checked them).
package struct HTTP2RequestHead: Sendable, Equatable {
    /// `:method`.
    package var method = ""
    /// `:scheme`.
    package var scheme = ""
    /// `:authority` (the `Host` of HTTP/1.1), empty when absent.
    package var authority = ""
    /// `:path`: the request-target, with the query.
    package var path = ""
    /// The regular fields, in order.
    package var fields: [(name: String, value: String)] = []
    /// The header list's size as HTTP/2 counts it (name, value and 32 bytes per field).
    package var byteCount = 0

    package init() {}

    /// Adds one field as received.
    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let name = String(decoding: name, as: UTF8.self)
        let value = String(decoding: value, as: UTF8.self)
        switch name {
        case ":method": method = value
        case ":scheme": scheme = value
        case ":authority": authority = value
        case ":path": path = value
        default: fields.append((name, value))
        }
    }

    package static func == (lhs: HTTP2RequestHead, rhs: HTTP2RequestHead) -> Bool {
        lhs.method == rhs.method && lhs.scheme == rhs.scheme && lhs.authority == rhs.authority && lhs.path == rhs.path
            && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
