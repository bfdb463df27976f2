import RillHTTP

/// Frames a broker event as an HTTP/1.1 chunk once for all the streams it goes to. A broker
/// hands one event to all its subscribers in a row, so one remembered event serves a whole
/// fan-out: the first stream frames it, every other one shares the same array (no copy, no
/// allocation per subscriber). Loop-confined; one per server.
struct SharedChunkFramer {
    /// The last event's bytes (kept, so their storage cannot be reused by another event while
    /// remembered) and its chunk.
    private var source: [UInt8] = []
    private var chunk: [UInt8] = []

    /// `encoded` as one chunk: `size CRLF bytes CRLF`.
    ///
    /// The comparison is an identity check for the event being fanned out (the same array),
    /// a length check for most others; equal bytes from another event frame equally.
    mutating func chunk(of encoded: [UInt8]) -> [UInt8] {
        if encoded == source && !chunk.isEmpty { return chunk }
        var framed: [UInt8] = []
        framed.reserveCapacity(encoded.count + 12)
        HTTPResponseSerializer.writeChunk(encoded, into: &framed)
        source = encoded
        chunk = framed
        return framed
    }
}
