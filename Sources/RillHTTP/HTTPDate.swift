/// Formats timestamps as IMF-fixdate (RFC 9110 §5.6.7), the format of the `Date` header.
///
/// Computed with integer arithmetic (Howard Hinnant's civil-from-days algorithm) so the module
/// needs no Foundation; a server formats this at most once per second and caches it.
public enum HTTPDate {
    private static let weekdayNames: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Returns e.g. `Sun, 06 Nov 1994 08:49:37 GMT` for `784111777`. Negative values are dates
    /// before 1970; years outside 0...9999 are not representable and are clamped to four digits.
    public static func string(fromSecondsSince1970 seconds: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(29)
        write(secondsSince1970: seconds, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the IMF-fixdate for `seconds` to `buffer` (29 bytes), for writers that build a
    /// response head without an intermediate `String`.
    public static func write(secondsSince1970 seconds: Int, into buffer: inout [UInt8]) {
        // Floor division so instants before 1970 land on the previous day, not the next.
        let (days, secondOfDay) = floorDivide(seconds, 86_400)
        // 1970-01-01 was a Thursday (index 4).
        let weekday = (days % 7 + 11) % 7
        let (year, month, day) = civil(fromDays: days)

        buffer.append(contentsOf: bytes(of: weekdayNames[weekday]))
        buffer.append(UInt8(ascii: ","))
        buffer.append(UInt8(ascii: " "))
        appendTwoDigits(day, to: &buffer)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: bytes(of: monthNames[month - 1]))
        buffer.append(UInt8(ascii: " "))
        let clampedYear = min(max(year, 0), 9999)
        appendTwoDigits(clampedYear / 100, to: &buffer)
        appendTwoDigits(clampedYear % 100, to: &buffer)
        buffer.append(UInt8(ascii: " "))
        appendTwoDigits(secondOfDay / 3600, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        appendTwoDigits(secondOfDay / 60 % 60, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        appendTwoDigits(secondOfDay % 60, to: &buffer)
        buffer.append(contentsOf: " GMT".utf8)
    }

    /// Proleptic Gregorian (year, month 1...12, day 1...31) for days since 1970-01-01.
    /// http://howardhinnant.github.io/date_algorithms.html#civil_from_days
    private static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468  // days since 0000-03-01
        let era = floorDivide(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097  // [0, 146096]
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365  // [0, 399]
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // [0, 365], from March 1
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // [0, 11]
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func floorDivide(_ value: Int, _ divisor: Int) -> (quotient: Int, remainder: Int) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    private static func appendTwoDigits(_ value: Int, to buffer: inout [UInt8]) {
        buffer.append(UInt8(truncatingIfNeeded: value / 10) + UInt8(ascii: "0"))
        buffer.append(UInt8(truncatingIfNeeded: value % 10) + UInt8(ascii: "0"))
    }

    private static func bytes(of string: StaticString) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount)
    }
}
