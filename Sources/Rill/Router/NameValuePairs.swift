/// Decoded name/value pairs in their original order: the storage behind both ``Parameters``
/// (a route's path captures) and ``URLQuery`` (a target's query).
///
/// Both hold a handful of pairs, so this is a small array searched linearly — cheaper to build
/// and to look up than a dictionary at those sizes, and it keeps the order, repeats included.
@usableFromInline
struct NameValuePairs: Sendable, Hashable {
    /// One name and its decoded value.
    @usableFromInline
    struct Pair: Sendable, Hashable {
        @usableFromInline var name: String
        @usableFromInline var value: String

        @usableFromInline
        init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    @usableFromInline
    var pairs: [Pair]

    @usableFromInline
    init(_ pairs: [Pair] = []) {
        self.pairs = pairs
    }

    /// The value of the first pair named `name`.
    @inlinable
    func first(named name: String) -> String? {
        for pair in pairs where pair.name == name {
            return pair.value
        }
        return nil
    }

    /// The values of every pair named `name`, in order.
    @inlinable
    func all(named name: String) -> [String] {
        var result: [String] = []
        for pair in pairs where pair.name == name {
            result.append(pair.value)
        }
        return result
    }

    /// `[name: value, …]`, for logs.
    var description: String {
        "[" + pairs.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}

/// Iterates decoded `(name, value)` pairs in their original order (``Parameters`` and
/// ``URLQuery`` are sequences of these).
public struct NameValueIterator: IteratorProtocol {
    @usableFromInline
    var base: IndexingIterator<[NameValuePairs.Pair]>

    @usableFromInline
    init(_ pairs: NameValuePairs) {
        base = pairs.pairs.makeIterator()
    }

    /// Returns the next pair, or `nil` when all have been returned.
    @inlinable
    public mutating func next() -> (name: String, value: String)? {
        guard let pair = base.next() else { return nil }
        return (pair.name, pair.value)
    }
}
