/// Bytes waiting to be sent, kept as the arrays they came in rather than copied into one: an
/// event fanned out to many streams is one array, and every stream that waits to send it holds
/// that array, not a copy — so a thousand slow readers of a channel hold its events once.
///
/// One word (its storage's spare bits tell the cases apart): nothing while empty, the array
/// itself while it holds one (the common case: no allocation), a shared list past that.
/// A value: a copy that changes its list copies it first.
struct ByteChunkQueue {
    /// What ``removeAll()`` took.
    enum Contents {
        case none
        /// A single array, as it was appended.
        case one([UInt8])
        /// Several, in order (the first may be the unread part of a partly read one).
        case many([[UInt8]])
    }

    private enum Storage {
        case empty
        case one([UInt8])
        case many(Chunks)
    }

    /// Two or more arrays, or one that was partly read.
    private final class Chunks {
        var list: [[UInt8]]
        /// The first unread array's index in ``list`` (arrays before it were read and released).
        var head = 0
        /// Bytes of the first unread array already read.
        var headOffset = 0
        /// Unread bytes.
        var byteCount: Int

        init(_ list: [[UInt8]], byteCount: Int, headOffset: Int = 0) {
            self.list = list
            self.byteCount = byteCount
            self.headOffset = headOffset
        }

        /// The unread arrays, in a list of their own.
        func copy() -> Chunks { Chunks(Array(list[head...]), byteCount: byteCount, headOffset: headOffset) }
    }

    private var storage = Storage.empty

    /// Empty.
    init() {}

    /// Whether nothing waits.
    var isEmpty: Bool {
        if case .empty = storage { return true }
        return false
    }

    /// The bytes waiting.
    var byteCount: Int {
        switch storage {
        case .empty: 0
        case .one(let bytes): bytes.count
        case .many(let chunks): chunks.byteCount
        }
    }

    /// Queues `bytes` after what waits, keeping the array (no copy). Empty arrays are ignored.
    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        switch storage {
        case .empty:
            storage = .one(bytes)
        case .one(let first):
            storage = .many(Chunks([first, bytes], byteCount: first.count + bytes.count))
        case .many(var chunks):
            storage = .empty  // so that the list's owner is the only one, if it was
            if !isKnownUniquelyReferenced(&chunks) { chunks = chunks.copy() }
            chunks.list.append(bytes)
            chunks.byteCount += bytes.count
            storage = .many(chunks)
        }
    }

    /// Takes everything that waits, leaving the queue empty.
    mutating func removeAll() -> Contents {
        let taken = storage
        storage = .empty
        switch taken {
        case .empty:
            return .none
        case .one(let bytes):
            return .one(bytes)
        case .many(let chunks):
            if chunks.head == 0 && chunks.headOffset == 0 { return .many(chunks.list) }
            var list = Array(chunks.list[chunks.head...])
            if chunks.headOffset > 0 { list[0] = Array(list[0][chunks.headOffset...]) }
            return .many(list)
        }
    }

    /// Copies the first waiting bytes into `buffer` (as many as fit) and drops them from the
    /// queue, releasing each array once it was read. Returns how many it copied.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        switch storage {
        case .empty:
            return 0
        case .one(let bytes):
            let count = min(bytes.count, buffer.count)
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
            storage = count == bytes.count ? .empty : .many(Chunks([bytes], byteCount: bytes.count - count, headOffset: count))
            return count
        case .many(var chunks):
            storage = .empty
            if !isKnownUniquelyReferenced(&chunks) { chunks = chunks.copy() }
            var copied = 0
            while copied < buffer.count && chunks.byteCount > 0 {
                let head = chunks.head
                let offset = chunks.headOffset
                let count = min(chunks.list[head].count - offset, buffer.count - copied)
                chunks.list[head].withUnsafeBytes {
                    (buffer.baseAddress! + copied).copyMemory(from: $0.baseAddress! + offset, byteCount: count)
                }
                copied += count
                chunks.byteCount -= count
                if offset + count == chunks.list[head].count {
                    chunks.list[head] = []
                    chunks.head += 1
                    chunks.headOffset = 0
                } else {
                    chunks.headOffset += count
                }
            }
            if chunks.byteCount == 0 { return copied }
            // A queue that always lags a little never empties: drop the read slots once they are
            // most of the list, so that it stays within twice what waits.
            if chunks.head >= 16 && chunks.head * 2 >= chunks.list.count {
                chunks.list.removeFirst(chunks.head)
                chunks.head = 0
            }
            storage = .many(chunks)
            return copied
        }
    }

    /// The slots of the list, read or not (0 without one): for tests of its compaction.
    var listCapacityForTesting: Int {
        if case .many(let chunks) = storage { return chunks.list.count }
        return 0
    }
}
