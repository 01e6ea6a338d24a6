import Foundation

/// Writes one compact JSON object into a byte array, for the records journal. Foundation's
/// `JSONEncoder` spent about 40 µs of the writer's thread on a typical record
/// (docs/performance.md); this writes the same document (same keys, nil values left out as
/// `Codable` does, dates as ISO 8601 UTC with milliseconds) in a fraction of that.
struct JSONLineWriter {
    private(set) var bytes: [UInt8] = []
    /// One entry per open object or array: whether a value was written in it yet.
    private var hasValue: [Bool] = []

    init(capacity: Int = 2048) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: - Structure

    mutating func beginObject(_ key: String? = nil) {
        prefix(key)
        bytes.append(UInt8(ascii: "{"))
        hasValue.append(false)
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        hasValue.removeLast()
    }

    mutating func beginArray(_ key: String) {
        prefix(key)
        bytes.append(UInt8(ascii: "["))
        hasValue.append(false)
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        hasValue.removeLast()
    }

    // MARK: - Values (a nil value writes nothing, as `encodeIfPresent` does)

    mutating func string(_ key: String?, _ value: String?) {
        guard let value else { return }
        prefix(key)
        quoted(value)
    }

    mutating func strings(_ key: String, _ values: [String]) {
        beginArray(key)
        for value in values { string(nil, value) }
        endArray()
    }

    mutating func int(_ key: String, _ value: Int?) {
        guard let value else { return }
        prefix(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func double(_ key: String, _ value: Double?) {
        guard let value, value.isFinite else { return }
        prefix(key)
        bytes.append(contentsOf: "\(value)".utf8)
    }

    mutating func bool(_ key: String, _ value: Bool) {
        prefix(key)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    mutating func date(_ key: String, _ value: Date?) {
        guard let value else { return }
        prefix(key)
        bytes.append(UInt8(ascii: "\""))
        Self.appendISO8601(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: - Helpers

    private mutating func prefix(_ key: String?) {
        if let last = hasValue.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            hasValue[hasValue.count - 1] = true
        }
        if let key {
            quoted(key)
            bytes.append(UInt8(ascii: ":"))
        }
    }

    /// RFC 8259 §7: quote, backslash and control characters are escaped; everything else is
    /// copied as its UTF-8 bytes, a run at a time.
    private mutating func quoted(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              Self.hexDigit(byte >> 4), Self.hexDigit(byte & 0x0F)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
    static func appendISO8601(_ date: Date, to bytes: inout [UInt8]) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let (days, dayMilliseconds) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (dayNumber, within) = dayMilliseconds < 0 ? (days - 1, dayMilliseconds + 86_400_000) : (days, dayMilliseconds)
        let (year, month, day) = civilDate(daysSinceEpoch: dayNumber)
        func digits(_ value: Int64, _ count: Int) {
            // Zero-padded decimal, written from the last digit backwards (values here are small).
            var remaining = value < 0 ? 0 : value
            let start = bytes.count
            for _ in 0..<count { bytes.append(UInt8(ascii: "0")) }
            var position = bytes.count - 1
            while remaining > 0, position >= start {
                bytes[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                position -= 1
            }
        }
        digits(year, 4); bytes.append(UInt8(ascii: "-"))
        digits(month, 2); bytes.append(UInt8(ascii: "-"))
        digits(day, 2); bytes.append(UInt8(ascii: "T"))
        digits(within / 3_600_000, 2); bytes.append(UInt8(ascii: ":"))
        digits(within / 60_000 % 60, 2); bytes.append(UInt8(ascii: ":"))
        digits(within / 1000 % 60, 2); bytes.append(UInt8(ascii: "."))
        digits(within % 1000, 3); bytes.append(UInt8(ascii: "Z"))
    }

    /// Proleptic Gregorian year, month and day of a day count from 1970-01-01 (the era-based
    /// conversion: 400-year eras of 146,097 days, years starting in March).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
