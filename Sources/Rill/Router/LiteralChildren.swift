/// The literal edges out of one trie node, looked up by the raw UTF-8 bytes of a decoded segment.
///
/// Literals compare byte for byte rather than with `String` equality: `String` uses Unicode
/// canonical equivalence, which costs normalization work on non-ASCII text and would make `é`
/// (NFC) and `e` + combining accent (NFD) the same route. URLs identify resources by bytes, and
/// nginx and other servers compare them that way, so the router does too.
///
/// Lookups take an `UnsafeBufferPointer` so the router can probe with a slice of the request's
/// own bytes (or a stack buffer of decoded bytes) without creating a `String` per segment.
/// Most nodes have a handful of literals, where a length-first linear scan is fastest; a node with
/// many (a flat API with hundreds of top-level paths) switches to an open-addressing hash table.
struct LiteralChildren: Sendable {
    /// One literal segment and the node it leads to.
    struct Edge: Sendable {
        /// The segment's UTF-8 bytes, exactly as written in the pattern.
        var bytes: [UInt8]
        /// ``LiteralChildren/hash(_:)`` of `bytes`, kept to rebuild the table and to skip most
        /// byte comparisons on collisions.
        var hash: UInt64
        /// Index of the child node in the trie.
        var child: Int
    }

    /// Above this many edges lookups switch from a linear scan to the hash table.
    static var linearScanLimit: Int { 8 }

    /// Every edge, in insertion order.
    private(set) var edges: [Edge] = []

    /// Open-addressing table of indices into `edges` (`-1` = empty); empty while scanning
    /// linearly. Its size is a power of two at least twice the edge count, so probes stay short.
    private var slots: [Int] = []

    /// Creates a node's empty set of literal edges.
    init() {}

    /// The child reached by the literal whose bytes equal `segment`, if any.
    @inline(__always)
    func child(matching segment: UnsafeBufferPointer<UInt8>) -> Int? {
        // Edges are reached through indices rather than copied out, which would retain and
        // release each one's byte array on every probe.
        if slots.isEmpty {
            for index in edges.indices where edges[index].bytes.count == segment.count {
                if Self.equal(edges[index].bytes, segment) {
                    return edges[index].child
                }
            }
            return nil
        }
        let hash = Self.hash(segment)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = slots[slot]
            if index < 0 { return nil }
            if edges[index].hash == hash && Self.equal(edges[index].bytes, segment) {
                return edges[index].child
            }
            slot = (slot &+ 1) & mask
        }
    }

    /// Byte equality, with the length check first.
    @inline(__always)
    private static func equal(_ bytes: [UInt8], _ segment: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count == segment.count && bytes.withUnsafeBufferPointer { $0.elementsEqual(segment) }
    }

    /// The child reached by the literal `segment`, for building the trie.
    func child(matching segment: Substring) -> Int? {
        PercentDecoding.withUTF8Bytes(of: segment) { child(matching: $0) }
    }

    /// Adds an edge; the caller has checked that no edge with these bytes exists.
    mutating func insert(_ segment: Substring, child: Int) {
        let bytes = Array(segment.utf8)
        let hash = bytes.withUnsafeBufferPointer { Self.hash($0) }
        edges.append(Edge(bytes: bytes, hash: hash, child: child))
        if edges.count > Self.linearScanLimit && edges.count * 2 > slots.count {
            rebuildSlots()
        } else if !slots.isEmpty {
            place(edges.count - 1)
        }
    }

    /// Grows the table to keep it at most half full and re-places every edge.
    private mutating func rebuildSlots() {
        var capacity = 16
        while capacity < edges.count * 2 { capacity *= 2 }
        slots = Array(repeating: -1, count: capacity)
        for index in edges.indices {
            place(index)
        }
    }

    /// Puts edge `index` into the first free slot of its probe sequence.
    private mutating func place(_ index: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: edges[index].hash) & mask
        while slots[slot] >= 0 {
            slot = (slot &+ 1) & mask
        }
        slots[slot] = index
    }

    /// FNV-1a over the bytes: a few cycles per byte for the short segments URLs have.
    ///
    /// Being unseeded is fine here: the table only ever holds the application's own literals, so
    /// a peer choosing segments can pick which probe sequence is walked but cannot lengthen one.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
