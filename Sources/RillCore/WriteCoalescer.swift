/// The writes a transport gathers between `beginCoalescingWrites()` and
/// `endCoalescingWrites()` so that they leave in one (say a response head and the first bytes of
/// its body): the bookkeeping every ``Transport`` shares, the sending its own.
///
/// ```swift
/// public func write(_ bytes: UnsafeRawBufferPointer) {
///     guard !isClosing, !bytes.isEmpty, !coalescer.gather(bytes) else { return }
///     send(bytes)
/// }
/// public func endCoalescingWrites() {
///     if let bytes = coalescer.end() { bytes.withUnsafeBytes { send($0) } }
/// }
/// ```
///
/// Twelve bytes in its owner (one array reference, one 32-bit depth); no storage while nothing
/// is gathered.
package struct WriteCoalescer {
    private var gathered: [UInt8] = []
    private var depth: Int32 = 0

    /// Not gathering.
    package init() {}

    /// Whether writes are being gathered (a begin without its end).
    package var isGathering: Bool { depth > 0 }

    /// The bytes gathered so far (queued, in the sense of a transport's `queuedBytes`).
    package var gatheredByteCount: Int { gathered.count }

    /// Starts (or nests) gathering.
    package mutating func begin() { depth += 1 }

    /// Ends one ``begin()``. Returns the gathered bytes, to send now, when it ended the
    /// outermost one and something was gathered; nil otherwise.
    package mutating func end() -> [UInt8]? {
        precondition(depth > 0, "endCoalescingWrites without beginCoalescingWrites")
        depth -= 1
        return depth == 0 ? takeGathered() : nil
    }

    /// Keeps a copy of `bytes` while gathering: true when it did (the caller sends nothing),
    /// false when the caller must send them itself.
    package mutating func gather(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard depth > 0 else { return false }
        gathered.append(contentsOf: bytes)
        return true
    }

    /// ``gather(_:)-(UnsafeRawBufferPointer)`` for an array, which is kept (shared, not
    /// copied) when it is the first thing gathered.
    package mutating func gather(_ bytes: [UInt8]) -> Bool {
        guard depth > 0 else { return false }
        if gathered.isEmpty {
            gathered = bytes
        } else {
            gathered.append(contentsOf: bytes)
        }
        return true
    }

    /// Takes what was gathered (a transport closing sends it first), leaving the depth as it
    /// is; nil when nothing was.
    package mutating func takeGathered() -> [UInt8]? {
        guard !gathered.isEmpty else { return nil }
        defer { gathered = [] }
        return gathered
    }
}
