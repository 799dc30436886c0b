import Archive
import Foundation

/// The one encoder for SBOM documents: sorted keys, unescaped slashes, indented, no floats.
/// The same value always gives the same bytes.
enum SBOMJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        do {
            return Array(try encoder.encode(value)) + [10]
        } catch {
            throw SBOMError.encoding("\(error)")
        }
    }

    /// `YYYY-MM-DDThh:mm:ssZ` for an RFC 3339 time (fractions dropped, offsets applied), or nil.
    static func utcSeconds(_ text: String) -> String? {
        let chars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= chars.count else { return nil }
            var value: Int64 = 0
            for index in range {
                guard (48...57).contains(chars[index]) else { return nil }
                value = value * 10 + Int64(chars[index] - 48)
            }
            return value
        }
        guard chars.count >= 20, chars[4] == 45, chars[7] == 45, chars[10] == 84 || chars[10] == 116,
              chars[13] == 58, chars[16] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        if index < chars.count && chars[index] == 46 {
            index += 1
            while index < chars.count && (48...57).contains(chars[index]) { index += 1 }
        }
        guard index < chars.count else { return nil }
        var offset: Int64 = 0
        if chars[index] == 90 || chars[index] == 122 {
            guard index + 1 == chars.count else { return nil }
        } else if chars[index] == 43 || chars[index] == 45 {
            guard index + 6 == chars.count, chars[index + 3] == 58,
                  let oh = number((index + 1)..<(index + 3)), let om = number((index + 4)..<(index + 6)) else { return nil }
            offset = (oh * 60 + om) * 60 * (chars[index] == 43 ? 1 : -1)
        } else {
            return nil
        }
        let seconds = UTCTime.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return UTCTime.rfc3339(seconds)
    }

    /// A Debian `Maintainer` field, `Name <mail>`, as its name and mail (nil when it has none).
    static func maintainer(_ field: String) -> (name: String, email: String?) {
        let trimmed = field.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let open = trimmed.lastIndex(of: "<"), trimmed.hasSuffix(">") else { return (trimmed, nil) }
        let email = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        return (trimmed[..<open].trimmingCharacters(in: .whitespaces), email.isEmpty ? nil : email)
    }

    /// The document time: the image's `created`, normalised to UTC seconds, or the epoch.
    static func timestamp(_ inventory: ImageInventory) -> String {
        inventory.created.flatMap(utcSeconds) ?? "1970-01-01T00:00:00Z"
    }
}
