/// A response's head as an HTTP/2 stream carries it: the status and the regular fields in
/// arrival order (names lowercase, as HTTP/2 requires).
package struct HTTP2ResponseHead: Sendable, Equatable {
    /// `:status`; 0 until it arrived.
    package var status = 0
    /// The regular fields, in order.
    package var fields: [(name: String, value: String)] = []

    /// An empty head, filled as its fields arrive.
    package init() {}

    /// The value of the first field named `name` (lowercase), or nil.
    package func value(of name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Adds one field as received.
    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let name = String(decoding: name, as: UTF8.self)
        let value = String(decoding: value, as: UTF8.self)
        if name == ":status" {
            status = Int(value) ?? 0
        } else {
            fields.append((name, value))
        }
    }

    package static func == (lhs: HTTP2ResponseHead, rhs: HTTP2ResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
