internal import CNGHTTP2

/// A header list laid out for nghttp2: every name and value in one byte buffer, with the
/// ranges that the `nghttp2_nv` entries point into. Both session kinds submit their heads
/// through it, so a head costs one allocation for its bytes, not one per field.
struct HTTP2HeaderBlock {
    private var storage: [UInt8] = []
    private var ranges: [(name: Range<Int>, value: Range<Int>)] = []

    /// An empty block with room for `fieldCount` fields.
    init(reservingCapacity fieldCount: Int) {
        ranges.reserveCapacity(fieldCount)
    }

    /// Appends one field (the name as given: HTTP/2 wants it lowercase).
    mutating func add(_ name: some Collection<UInt8>, _ value: some Collection<UInt8>) {
        let nameStart = storage.count
        storage.append(contentsOf: name)
        let valueStart = storage.count
        storage.append(contentsOf: value)
        ranges.append((nameStart..<valueStart, valueStart..<storage.count))
    }

    /// Calls `body` with the `nghttp2_nv` entries, valid only during the call (nghttp2 copies
    /// them when a head is submitted).
    mutating func withEntries<Result>(_ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> Result) -> Result {
        let ranges = self.ranges
        return storage.withUnsafeMutableBufferPointer { bytes in
            var entries = ranges.map { range in
                nghttp2_nv(
                    name: bytes.baseAddress! + range.name.lowerBound, value: bytes.baseAddress! + range.value.lowerBound,
                    namelen: range.name.count, valuelen: range.value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return entries.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}
