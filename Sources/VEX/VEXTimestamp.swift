import Archive
import Foundation

/// RFC 3339 timestamps as OpenVEX uses them. Harden writes UTC to the second
/// (`2024-05-01T12:00:00Z`); it reads any RFC 3339 date-time (fractions and offsets too) and keeps
/// whole seconds, so what is read writes back unchanged in meaning.
public enum VEXTimestamp {
    /// `date` as `YYYY-MM-DDThh:mm:ssZ` (fractions of a second dropped).
    public static func format(_ date: Date) -> String {
        UTCTime.rfc3339(seconds(date))
    }

    /// The instant `text` names, to the second, or nil when it is not an RFC 3339 date-time
    /// (`2024-05-01T12:00:00Z`, `2024-05-01T07:00:00.25-05:00`).
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int64? {
            guard start + count <= b.count else { return nil }
            var value: Int64 = 0
            for byte in b[start..<start + count] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func isByte(_ index: Int, _ options: String) -> Bool { index < b.count && options.utf8.contains(b[index]) }
        guard let year = number(0, 4), isByte(4, "-"), let month = number(5, 2), isByte(7, "-"), let day = number(8, 2),
              isByte(10, "Tt"), let hour = number(11, 2), isByte(13, ":"), let minute = number(14, 2), isByte(16, ":"),
              let second = number(17, 2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        var index = 19
        if isByte(index, ".") {
            index += 1
            let start = index
            while index < b.count, b[index] >= UInt8(ascii: "0"), b[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > start else { return nil }
        }
        var offset: Int64 = 0
        if isByte(index, "Zz") {
            index += 1
        } else if isByte(index, "+-") {
            guard let offsetHour = number(index + 1, 2), isByte(index + 3, ":"), let offsetMinute = number(index + 4, 2),
                  offsetHour <= 23, offsetMinute <= 59 else { return nil }
            offset = (offsetHour * 3600 + offsetMinute * 60) * (b[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == b.count else { return nil }
        let local = UTCTime.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: TimeInterval(local - offset))
    }

    /// `date` to the whole second (rounded down), as documents hold it.
    static func truncated(_ date: Date) -> Date {
        Date(timeIntervalSince1970: TimeInterval(seconds(date)))
    }

    private static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
