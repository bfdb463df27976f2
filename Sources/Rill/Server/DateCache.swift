import RillHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// The `Date: …\r\n` line, formatted at most once per second per loop.
struct DateCache {
    private var second = -1
    private var line: [UInt8] = []

    mutating func dateLine() -> [UInt8] {
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
