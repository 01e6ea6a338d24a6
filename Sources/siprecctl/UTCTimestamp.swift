import Foundation

/// RFC 3339 times in and out, always shown in UTC. A small parser of its own, so output never
/// depends on the machine's locale or time zone.
enum UTCTimestamp {
    /// `2026-11-30T18:51:17.123Z` (also with a `+hh:mm` offset, a space or lowercase `t`,
    /// without fraction) → Date. nil for anything else.
    static func parse(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        var reader = DigitReader(bytes: scalars)
        guard let year = reader.number(digits: 4), reader.skip("-"),
              let month = reader.number(digits: 2), reader.skip("-"),
              let day = reader.number(digits: 2) else { return nil }
        guard reader.skipAny(["T", "t", " "]),
              let hour = reader.number(digits: 2), reader.skip(":"),
              let minute = reader.number(digits: 2), reader.skip(":"),
              let second = reader.number(digits: 2) else { return nil }
        var fraction = 0.0
        if reader.skip(".") {
            var scale = 0.1
            var sawDigit = false
            while let digit = reader.digit() {
                fraction += Double(digit) * scale
                scale /= 10
                sawDigit = true
            }
            guard sawDigit else { return nil }
        }
        var offsetSeconds = 0
        if reader.skipAny(["Z", "z"]) {
            offsetSeconds = 0
        } else if let sign = reader.signCharacter() {
            guard let offsetHours = reader.number(digits: 2), reader.skip(":"),
                  let offsetMinutes = reader.number(digits: 2), offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard reader.atEnd, isValid(year: year, month: month, day: day),
              hour < 24, minute < 60, second < 61 else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// `YYYY-MM-DD HH:MM:SS` in UTC (seconds truncated).
    static func display(_ date: Date) -> String {
        let (days, secondOfDay, _) = splitEpoch(date)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " "
            + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
    }

    /// A time from the server shown in UTC; the text itself when it is not RFC 3339, "-" when absent.
    static func display(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "-" }
        guard let date = parse(text) else { return text }
        return display(date)
    }

    /// `2026-11-30T18:51:17Z` (with `.123` when the time has milliseconds).
    static func rfc3339(_ date: Date) -> String {
        let (days, secondOfDay, milliseconds) = splitEpoch(date)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
            + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if milliseconds > 0 { text += "." + pad(milliseconds, 3) }
        return text + "Z"
    }

    /// What `--from` / `--to` accept: RFC 3339, `YYYY-MM-DD` (midnight UTC), or
    /// `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DDTHH:MM[:SS]` (UTC). Returns RFC 3339 in UTC, nil if unreadable.
    static func queryValue(fromArgument argument: String) -> String? {
        let text = argument.trimmingCharacters(in: .whitespaces)
        if let date = parse(text) { return rfc3339(date) }
        if text.utf8.count == 10, let date = parse(text + "T00:00:00Z") { return rfc3339(date) }
        if text.utf8.count == 16, let date = parse(text + ":00Z") { return rfc3339(date) }
        if text.utf8.count == 19, let date = parse(text + "Z") { return rfc3339(date) }
        return nil
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, UTC)

    /// Whole milliseconds first (so `.123` parsed stays `.123`), then day, second of day, millisecond.
    private static func splitEpoch(_ date: Date) -> (days: Int, secondOfDay: Int, millisecond: Int) {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let (days, rest) = floorDivision(totalMilliseconds, 86_400_000)
        return (days, rest / 1000, rest % 1000)
    }

    /// Quotient rounded toward minus infinity and a non-negative remainder.
    private static func floorDivision(_ value: Int, _ divisor: Int) -> (quotient: Int, remainder: Int) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    private static func isValid(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let length = month == 2 && leap ? 29 : lengths[month - 1]
        return day <= length
    }

    /// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Reads the fixed-width fields of a timestamp.
    private struct DigitReader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func digit() -> Int? {
            guard position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) else { return nil }
            defer { position += 1 }
            return Int(bytes[position] - UInt8(ascii: "0"))
        }

        mutating func number(digits count: Int) -> Int? {
            var value = 0
            for _ in 0..<count {
                guard let next = digit() else { return nil }
                value = value * 10 + next
            }
            return value
        }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }

        mutating func skipAny(_ characters: [Unicode.Scalar]) -> Bool {
            for character in characters where skip(character) { return true }
            return false
        }

        /// +1 for "+", -1 for "-", nil otherwise.
        mutating func signCharacter() -> Int? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }
    }
}
