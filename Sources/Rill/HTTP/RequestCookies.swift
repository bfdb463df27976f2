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
/// fields; all are read.
public struct RequestCookies: Sendable, Sequence {
    private let fields: HTTPFields

    init(_ fields: HTTPFields) { self.fields = fields }

    /// The value of the first cookie named `name` (a browser sends the one with the most
    /// specific path first), or nil.
    public subscript(name: String) -> String? {
        for (cookieName, value) in self where cookieName == name { return value }
        return nil
    }

    /// The cookies in the order sent, as name and value; pairs without `=` are skipped.
    public func makeIterator() -> Iterator {
        Iterator(values: fields[values: .cookie].makeIterator())
    }

    /// Reads the pairs of each `Cookie` field in turn.
    public struct Iterator: IteratorProtocol {
        private var values: IndexingIterator<[String]>
        private var pairs: ArraySlice<Substring> = []

        init(values: IndexingIterator<[String]>) { self.values = values }

        public mutating func next() -> (name: String, value: String)? {
            while true {
                while let pair = pairs.popFirst() {
                    let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                    guard let equals = trimmed.firstIndex(of: "=") else { continue }
                    var name = trimmed[..<equals]
                    while let last = name.last, last == " " || last == "\t" { name = name.dropLast() }
                    var value = trimmed[trimmed.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
                    while let last = value.last, last == " " || last == "\t" { value = value.dropLast() }
                    if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                    guard !name.isEmpty else { continue }
                    return (String(name), String(value))
                }
                guard let field = values.next() else { return nil }
                pairs = field.split(separator: ";", omittingEmptySubsequences: true)[...]
            }
        }
    }
}

extension Request {
    /// The request's cookies, by name: `request.cookies["session"]`.
    public var cookies: RequestCookies { RequestCookies(headerFields) }
}
