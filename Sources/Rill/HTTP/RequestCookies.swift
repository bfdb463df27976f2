import HTTPTypes

/// The cookies a request carries (its `Cookie` fields, RFC 6265 §5.4), read by name.
///
/// ```swift
/// router.get("/events") { request, context in
///     guard let session = request.cookies["session"] else { throw HTTPError(.unauthorized) }
///     …
/// }
/// ```
///
/// An `EventSource` cannot set header fields; its cookies are how it authenticates
/// (`new EventSource(url, { withCredentials: true })` across origins). Values are returned as
/// sent, without their surrounding double quotes and not percent-decoded (RFC 6265 leaves the
/// encoding to the application). Over HTTP/2 a browser may split its cookies over several
/// fields; all are read. The fields are split at the bytes `;` and `=` (RFC 6265 §5.2), never
/// inside what a combining character makes one Swift `Character` with them, so that a cookie
/// cannot hide the one after it.
public struct RequestCookies: Sendable, Sequence {
    private let fields: HTTPFields

    init(_ fields: HTTPFields) { self.fields = fields }

    /// The value of the first cookie named `name` (a browser sends the one with the most
    /// specific path first), or nil.
    public subscript(name: String) -> String? {
        let wanted = Array(name.utf8)
        for field in fields[values: .cookie] {
            var found: String?
            Self.forEachPair(in: field) { cookieName, value in
                guard cookieName.elementsEqual(wanted) else { return true }
                found = String(decoding: value, as: UTF8.self)
                return false
            }
            if let found { return found }
        }
        return nil
    }

    /// The cookies in the order sent, as name and value; pairs without `=` or a name are
    /// skipped.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        var pairs: [(name: String, value: String)] = []
        for field in fields[values: .cookie] {
            Self.forEachPair(in: field) { name, value in
                pairs.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
                return true
            }
        }
        return pairs.makeIterator()
    }

    /// Calls `body` with each `name=value` pair of one `Cookie` field, as bytes, blanks around
    /// both and the value's double quotes removed, until it returns false.
    private static func forEachPair(in field: String, _ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Bool) {
        let bytes = Array(field.utf8)
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: ";") { end += 1 }
            let pair = bytes[start..<end]
            start = end + 1
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = trimmed(pair[pair.startIndex..<equals])
            var value = trimmed(pair[(equals + 1)...])
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            guard !name.isEmpty else { continue }
            if !body(name, value) { return }
        }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes
    }
}

extension Request {
    /// The request's cookies, by name: `request.cookies["session"]`.
    public var cookies: RequestCookies { RequestCookies(headerFields) }
}
