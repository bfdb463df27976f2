/// The bytes the `text/event-stream` grammar is made of, named so that byte-level code reads like
/// the spec. The format is defined on UTF-8, where these values never occur inside a multi-byte
/// sequence, so scanning for them byte by byte is safe.
///
/// Computed rather than `static let`, so each use is a literal that folds into the comparison
/// even where the optimizer cannot see the global's initializer (debug and non-WMO builds).
enum ASCII {
    static var lineFeed: UInt8 { 0x0A }
    static var carriageReturn: UInt8 { 0x0D }
    static var colon: UInt8 { 0x3A }
    static var space: UInt8 { 0x20 }
    static var null: UInt8 { 0x00 }
    static var zero: UInt8 { 0x30 }
    static var nine: UInt8 { 0x39 }
}
