/// The bytes the `text/event-stream` grammar is made of, named so that byte-level code reads like
/// the spec. The format is defined on UTF-8, where these values never occur inside a multi-byte
/// sequence, so scanning for them byte by byte is safe.
enum ASCII {
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let colon: UInt8 = 0x3A
    static let space: UInt8 = 0x20
    static let null: UInt8 = 0x00
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
}
