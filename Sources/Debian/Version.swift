/// A Debian version: [epoch:]upstream[-revision], ordered exactly as dpkg orders it.
///
/// Parsing follows dpkg: surrounding whitespace is ignored, the epoch is the part before the first
/// colon (a number from 0 to 2147483647), the revision is the part after the last hyphen, and the
/// upstream version must start with a digit. One leniency: a trailing hyphen ("1.0-", an empty
/// revision) is accepted and means the same as no revision, as in dpkg's own comparison table
/// (Dpkg::Version accepts it; the C `dpkg --compare-versions` rejects it as "revision number is empty").
///
/// Equality and hashing agree with the ordering: "1.0000-1" == "1.0-1", "0:1" == "1".
public struct DebianVersion: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The epoch; 0 when absent.
    public let epoch: Int
    /// The upstream part (may contain colons when there is an epoch, hyphens when there is a revision).
    public let upstream: String
    /// The Debian revision; "" when absent.
    public let revision: String
    /// The text as given (without surrounding whitespace).
    public let description: String

    /// Parses `text`, throwing `DebianError.invalidVersion` with dpkg's reason when it is not a valid version.
    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        var start = 0, end = bytes.count
        while start < end, Self.isSpace(bytes[start]) { start += 1 }
        while end > start, Self.isSpace(bytes[end - 1]) { end -= 1 }
        func fail(_ reason: String) -> DebianError { .invalidVersion(text, reason: reason) }
        guard start < end else { throw fail("version string is empty") }
        if bytes[start..<end].contains(where: Self.isSpace) { throw fail("version string has embedded spaces") }

        var epoch = 0
        var upstreamStart = start
        if let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) {
            var i = start
            let negative = bytes[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            let digitsStart = i
            var value = 0
            while i < colon, Self.isDigit(bytes[i]) {
                value = value * 10 + Int(bytes[i] - 48)
                if value > Int(Int32.max) { value = Int(Int32.max) + 1 }
                i += 1
            }
            if i == digitsStart { throw fail("epoch in version is empty") }
            if i != colon { throw fail("epoch in version is not number") }
            if negative && value != 0 { throw fail("epoch in version is negative") }
            if value > Int(Int32.max) { throw fail("epoch in version is too big") }
            if colon + 1 == end { throw fail("nothing after colon in version number") }
            epoch = value
            upstreamStart = colon + 1
        }

        var upstreamEnd = end
        var revisionRange = end..<end
        if let hyphen = bytes[upstreamStart..<end].lastIndex(of: UInt8(ascii: "-")) {
            upstreamEnd = hyphen
            revisionRange = (hyphen + 1)..<end
        }
        guard upstreamStart < upstreamEnd else { throw fail("version number is empty") }
        guard Self.isDigit(bytes[upstreamStart]) else { throw fail("version number does not start with digit") }
        for c in bytes[upstreamStart..<upstreamEnd] where !(Self.isAlnum(c) || Self.upstreamExtras(c)) {
            throw fail("invalid character in version number")
        }
        for c in bytes[revisionRange] where !(Self.isAlnum(c) || Self.revisionExtras(c)) {
            throw fail("invalid character in revision number")
        }
        self.epoch = epoch
        self.upstream = String(decoding: bytes[upstreamStart..<upstreamEnd], as: UTF8.self)
        self.revision = String(decoding: bytes[revisionRange], as: UTF8.self)
        self.description = String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Compares two versions as dpkg does: -1 when `a` sorts before `b`, 0 when equal, 1 when after.
    public static func compare(_ a: DebianVersion, _ b: DebianVersion) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        let upstream = compareParts(a.upstream, b.upstream)
        if upstream != 0 { return upstream }
        return compareParts(a.revision, b.revision)
    }

    public static func < (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) < 0 }

    public static func == (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) == 0 }

    /// Hashes a normalized form, so that versions dpkg considers equal hash alike.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        Self.normalized(upstream, into: &hasher)
        hasher.combine(0xFF as UInt8)
        Self.normalized(revision, into: &hasher)
    }

    /// Decodes from a single string.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(container.decode(String.self))
    }

    /// Encodes as a single string (the text as given).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: - Comparison

    /// Compares an upstream version or a revision with dpkg's algorithm.
    static func compareParts(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { pa in b.withUTF8 { pb in compareBytes(pa, pb) } }
    }

    /// The dpkg algorithm: alternate non-digit runs (compared character by character, with `~` lowest,
    /// then the end, then letters, then other characters) and digit runs (compared as numbers).
    static func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var i = 0, j = 0
        let na = a.count, nb = b.count
        while i < na || j < nb {
            // Non-digit run.
            while (i < na && !isDigit(a[i])) || (j < nb && !isDigit(b[j])) {
                let ac = i < na ? weight(a[i]) : 0
                let bc = j < nb ? weight(b[j]) : 0
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1
                j += 1
            }
            // Digit run: compared as numbers of any length, without converting them.
            while i < na && a[i] == 48 { i += 1 }
            while j < nb && b[j] == 48 { j += 1 }
            let ai = i, bj = j
            while i < na && isDigit(a[i]) { i += 1 }
            while j < nb && isDigit(b[j]) { j += 1 }
            let lengthA = i - ai, lengthB = j - bj
            if lengthA != lengthB { return lengthA < lengthB ? -1 : 1 }
            for k in 0..<lengthA where a[ai + k] != b[bj + k] {
                return a[ai + k] < b[bj + k] ? -1 : 1
            }
        }
        return 0
    }

    /// The sort weight of a character in a non-digit run; digits and the end weigh 0.
    @inline(__always)
    static func weight(_ c: UInt8) -> Int {
        if isDigit(c) { return 0 }
        if isLetter(c) { return Int(c) }
        if c == UInt8(ascii: "~") { return -1 }
        return Int(c) + 256
    }

    /// Feeds a canonical form of a part to `hasher`: digit runs without leading zeros, an absent digit
    /// run as 0, and trailing empty-run/zero pairs dropped. Two parts compare equal exactly when
    /// their canonical forms are equal.
    static func normalized(_ part: String, into hasher: inout Hasher) {
        let bytes = Array(part.utf8)
        var canonical: [UInt8] = []
        canonical.reserveCapacity(bytes.count + 4)
        var i = 0
        while i < bytes.count {
            let runStart = i
            while i < bytes.count && !isDigit(bytes[i]) { i += 1 }
            canonical.append(contentsOf: bytes[runStart..<i])
            while i < bytes.count && bytes[i] == 48 { i += 1 }
            let digitStart = i
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            if digitStart == i { canonical.append(48) } else { canonical.append(contentsOf: bytes[digitStart..<i]) }
        }
        // Only the first pair can have an empty non-digit run; ("", 0) alone equals the empty part.
        if canonical == [48] { canonical = [] }
        hasher.combine(canonical.count)
        canonical.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    // MARK: - Characters

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }
    @inline(__always) static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) &- 97 < 26 }
    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || isLetter(c) }
    static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
    static func upstreamExtras(_ c: UInt8) -> Bool {
        c == UInt8(ascii: ".") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
            || c == UInt8(ascii: "~") || c == UInt8(ascii: ":")
    }
    static func revisionExtras(_ c: UInt8) -> Bool {
        c == UInt8(ascii: ".") || c == UInt8(ascii: "+") || c == UInt8(ascii: "~")
    }
}
