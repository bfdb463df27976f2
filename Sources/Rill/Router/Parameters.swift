/// The path parameters a route captured, in the order they appear in the path.
///
/// Named parameters (`:id` in a pattern) are stored under their name without the colon. A
/// catch-all (`**`) capture is stored under the name ``catchAllName`` and is also available as
/// ``catchAll``, so iterating yields everything the route captured. Values are percent-decoded.
///
/// Most routes capture zero to two values: the pairs are a small array searched linearly
/// (`NameValuePairs`, shared with ``URLQuery``), which keeps the path order.
public struct Parameters: Sendable, Hashable {
    /// The name a `**` capture is stored under when iterating or subscripting.
    ///
    /// It cannot clash with a named parameter because the router rejects `*` in parameter names.
    public static let catchAllName = "**"

    @usableFromInline
    var entries: NameValuePairs

    /// Creates an empty set of parameters.
    public init() {
        entries = NameValuePairs()
    }

    /// Wraps captures the router has already collected.
    init(entries: [NameValuePairs.Pair]) {
        self.entries = NameValuePairs(entries)
    }

    /// The decoded value captured for the parameter `name` (without the leading `:`), or `nil`
    /// when the matched route has no such parameter.
    @inlinable
    public subscript(_ name: String) -> String? {
        entries.first(named: name)
    }

    /// The rest of the path a `**` route captured: decoded segments joined with `/`, with no
    /// leading or trailing slash. Empty when the catch-all matched nothing (`/files` or `/files/`
    /// for `/files/**`), and `nil` when the route has no catch-all.
    ///
    /// Segments are decoded individually, so an encoded slash (`%2F`) comes back as a plain `/`
    /// here; code that maps this onto a file system must still reject `..` and similar itself.
    @inlinable
    public var catchAll: String? {
        self[Self.catchAllName]
    }

    /// Whether the route captured nothing at all (no named parameters and no catch-all).
    @inlinable
    public var isEmpty: Bool {
        entries.pairs.isEmpty
    }

    /// How many values were captured, counting a catch-all as one.
    @inlinable
    public var count: Int {
        entries.pairs.count
    }
}

extension Parameters: Sequence {
    /// Iterates the captured `(name, value)` pairs in path order.
    public typealias Iterator = NameValueIterator

    /// Returns an iterator over the captured `(name, value)` pairs in path order.
    @inlinable
    public func makeIterator() -> Iterator {
        Iterator(entries)
    }

    /// The exact number of pairs, so `Array(parameters)` allocates once.
    @inlinable
    public var underestimatedCount: Int {
        entries.pairs.count
    }
}

extension Parameters: ExpressibleByDictionaryLiteral {
    /// Creates parameters from a literal, in the order written; handy for testing handlers
    /// without going through the router.
    public init(dictionaryLiteral elements: (String, String)...) {
        entries = NameValuePairs(elements.map { NameValuePairs.Pair(name: $0.0, value: $0.1) })
    }
}

extension Parameters: CustomStringConvertible {
    /// A compact rendering for logs, such as `[id: 42, **: a/b]`.
    public var description: String {
        entries.description
    }
}
