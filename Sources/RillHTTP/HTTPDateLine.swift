#if canImport(Glibc)
    import Glibc
#endif

/// The `date: …\r\n` header line of a response, formatted (``HTTPDate``) at most once per
/// second: a server keeps one per loop and appends ``current()`` to every response head.
public struct HTTPDateLine: Sendable {
    private var second = -1
    private var line: [UInt8] = []

    /// An empty cache; the first ``current()`` formats the line.
    public init() {}

    /// The line for the present second, `date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`.
    public mutating func current() -> [UInt8] {
        let now = time(nil)
        if now != second {
            second = now
            line = Array("date: ".utf8)
            HTTPDate.write(secondsSince1970: now, into: &line)
            line.append(contentsOf: "\r\n".utf8)
        }
        return line
    }
}
