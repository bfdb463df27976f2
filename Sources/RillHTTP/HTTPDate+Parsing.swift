extension HTTPDate {
    /// The seconds since 1970 of an HTTP-date (RFC 9110 §5.6.7) in any of its three forms —
    /// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete RFC 850
    /// `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994` —, or nil for
    /// anything else (a recipient ignores an invalid date in a conditional header).
    ///
    /// The day must exist in its month (`30 Feb` is nil); the weekday is not checked against
    /// the date; a two-digit RFC 850 year is read as 1970–2069.
    public static func secondsSince1970(parsing text: some StringProtocol) -> Int? {
        let words = String(text).split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var time: String?
        switch words.count {
        case 6 where words[5] == "GMT":
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            guard words[1].count == 2, words[3].count == 4 else { return nil }
            (day, month, year, time) = (digits(words[1]), monthNumber(words[2]), digits(words[3]), words[4])
        case 4 where words[3] == "GMT":
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let parts = words[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0].count == 2, parts[2].count == 2, let shortYear = digits(parts[2]) else { return nil }
            (day, month, year, time) = (digits(parts[0]), monthNumber(parts[1]), shortYear < 70 ? 2000 + shortYear : 1900 + shortYear, words[2])
        case 5:
            // asctime: Sun Nov  6 08:49:37 1994 (the day is padded with a space)
            guard words[2].count <= 2, words[4].count == 4 else { return nil }
            (day, month, year, time) = (digits(words[2]), monthNumber(words[1]), digits(words[4]), words[3])
        default:
            return nil
        }
        guard let day, let month, let year, let time, year >= 0, (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
            let hour = digits(clock[0]), let minute = digits(clock[1]), let second = digits(clock[2]),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        return days(fromCivilYear: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The days of `month` (1–12) in `year` of the Gregorian calendar: 30 February is no date.
    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The value of a run of ASCII digits (no sign, no spaces), or nil.
    private static func digits(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    private static func monthNumber(_ name: String) -> Int? {
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return names.firstIndex(of: name).map { $0 + 1 }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    private static func days(fromCivilYear year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
