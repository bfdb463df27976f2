import RillHTTP
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Formatting HTTP dates")
struct HTTPDateTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 GMT"),
        (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
        (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (-2_207_520_000, "Thu, 18 Jan 1900 00:00:00 GMT"),
    ])
    func `known instants format as IMF-fixdate`(seconds: Int, expected: String) {
        #expect(HTTPDate.string(fromSecondsSince1970: seconds) == expected)
    }

    @Test func `every day from 1970 to 2400 matches a naive calendar walk`() {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        var dayNumber = 0
        for year in 1970..<2400 {
            let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            let lengths = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            for month in 0..<12 {
                for day in 1...lengths[month] {
                    // Noon plus a few seconds also exercises the time-of-day fields.
                    let seconds = dayNumber * 86_400 + 12 * 3600 + 34 * 60 + 56
                    let dayText = day < 10 ? "0\(day)" : "\(day)"
                    let expected = "\(weekdays[dayNumber % 7]), \(dayText) \(months[month]) \(year) 12:34:56 GMT"
                    let actual = HTTPDate.string(fromSecondsSince1970: seconds)
                    if actual != expected {
                        Issue.record("day \(dayNumber): \(actual) != \(expected)")
                        return
                    }
                    dayNumber += 1
                }
            }
        }
        #expect(dayNumber == 157_054)
    }

    @Test func `write appends the same 29 bytes as string`() {
        var buffer = Array("Date: ".utf8)
        HTTPDate.write(secondsSince1970: 784_111_777, into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "Date: Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func `the date line is the header line for the present second`() {
        var line = HTTPDateLine()
        let before = time(nil)
        let first = line.current()
        let after = time(nil)
        let text = String(decoding: first, as: UTF8.self)
        let candidates = (before...after).map { "date: \(HTTPDate.string(fromSecondsSince1970: $0))\r\n" }
        #expect(candidates.contains(text))
        // Within the same second the cached line comes back unchanged.
        if time(nil) == after { #expect(line.current() == first) }
    }
}
