import Archive

/// A parsed `Release` file: what a suite holds and the SHA-256 of every index in it.
public struct ReleaseFile: Sendable, Equatable {
    /// One index listed in the `SHA256` field.
    public struct IndexFile: Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
    }

    public var origin: String?
    public var suite: String?
    public var codename: String?
    /// Seconds since the epoch.
    public var date: Int64
    public var validUntil: Int64?
    public var architectures: [String]
    public var components: [String]
    public var acquireByHash: Bool
    public var files: [String: IndexFile]

    /// Parses Release text (the signed content of InRelease).
    public init(text: [UInt8]) throws {
        let paragraphs = try ControlFile.parse(text)
        guard let release = paragraphs.first else { throw RepositoryError.invalidRelease("empty Release file") }
        origin = release["Origin"]
        suite = release["Suite"]
        codename = release["Codename"]
        guard let dateText = release["Date"] else { throw RepositoryError.invalidRelease("no Date field") }
        date = try Self.parseDate(dateText)
        validUntil = try release["Valid-Until"].map(Self.parseDate)
        architectures = (release["Architectures"] ?? "").split(separator: " ").map(String.init)
        components = (release["Components"] ?? "").split(separator: " ").map(String.init)
        acquireByHash = release["Acquire-By-Hash"]?.lowercased() == "yes"
        files = [:]
        for line in (release["SHA256"] ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 3, let size = Int64(parts[1]), size >= 0, parts[0].count == 64,
                  parts[0].utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
            else { throw RepositoryError.invalidRelease("bad SHA256 line '\(line)'") }
            files[String(parts[2])] = IndexFile(path: String(parts[2]), size: size, sha256: String(parts[0]))
        }
        guard !files.isEmpty else { throw RepositoryError.invalidRelease("no SHA256 index list (MD5/SHA1-only Release files are refused)") }
    }

    /// Parses an RFC 2822 date as Release files use it: `Sat, 28 Nov 2026 14:05:12 UTC` (or `+0000`).
    public static func parseDate(_ text: String) throws -> Int64 {
        var parts = text.split(separator: " ").map(String.init)
        if let first = parts.first, first.hasSuffix(",") { parts.removeFirst() }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count >= 4, let day = Int64(parts[0]), let monthIndex = months.firstIndex(of: parts[1]),
              let year = Int64(parts[2]) else { throw RepositoryError.invalidRelease("unreadable date '\(text)'") }
        let time = parts[3].split(separator: ":").compactMap { Int64($0) }
        guard time.count == 3, (1...31).contains(day), (0...23).contains(time[0]), (0...59).contains(time[1]), (0...60).contains(time[2])
        else { throw RepositoryError.invalidRelease("unreadable date '\(text)'") }
        var offset: Int64 = 0
        if parts.count > 4 {
            let zone = parts[4]
            if zone == "UTC" || zone == "GMT" || zone == "Z" {
                offset = 0
            } else if zone.count == 5, let sign = zone.first, sign == "+" || sign == "-", let value = Int64(zone.dropFirst()) {
                offset = (value / 100 * 3600 + value % 100 * 60) * (sign == "-" ? -1 : 1)
            } else {
                throw RepositoryError.invalidRelease("unknown time zone in date '\(text)'")
            }
        }
        return UTCTime.days(year: year, month: Int64(monthIndex + 1), day: day) * 86_400
            + time[0] * 3600 + time[1] * 60 + time[2] - offset
    }
}
