import Foundation
import Testing
import Debian

/// The repository root, found from this file's path (Tests/DebianTests/…).
func repositoryRoot(_ file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}

@Suite struct VersionTests {
    struct Vector: Sendable, CustomStringConvertible {
        var a: String, b: String, expected: Int
        var description: String { "\(a) \(b) \(expected)" }
    }

    static func vectors() throws -> [Vector] {
        let path = repositoryRoot() + "/../shared/reference/testvectors/dpkg-version-compare.txt"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line -> Vector? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            let parts = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let expected = try #require(parts.count == 3 ? Int(parts[2]) : nil, "bad vector line: \(line)")
            return Vector(a: String(parts[0]), b: String(parts[1]), expected: expected)
        }
    }

    @Test func dpkgComparisonTable() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count >= 40)
        for vector in vectors {
            let a = try DebianVersion(vector.a), b = try DebianVersion(vector.b)
            #expect(DebianVersion.compare(a, b) == vector.expected, "\(vector)")
            #expect(DebianVersion.compare(b, a) == -vector.expected, "\(vector) reversed")
            #expect((a == b) == (vector.expected == 0), "\(vector) ==")
            #expect((a < b) == (vector.expected < 0), "\(vector) <")
            if vector.expected == 0 { #expect(a.hashValue == b.hashValue, "\(vector) hash") }
        }
    }

    @Test func components() throws {
        let v = try DebianVersion("1:2.36-9+deb12u4")
        #expect(v.epoch == 1)
        #expect(v.upstream == "2.36")
        #expect(v.revision == "9+deb12u4")
        #expect(v.description == "1:2.36-9+deb12u4")

        let plain = try DebianVersion("2.36")
        #expect(plain.epoch == 0 && plain.upstream == "2.36" && plain.revision == "")

        // Revision after the last hyphen; colons in upstream with an epoch.
        let hyphens = try DebianVersion("1:1.2-rc1-3:4-5")
        #expect(hyphens.epoch == 1 && hyphens.upstream == "1.2-rc1-3:4" && hyphens.revision == "5")

        // Surrounding whitespace is ignored, as dpkg does.
        let spaced = try DebianVersion("  1.0-1 \t")
        #expect(spaced.description == "1.0-1" && spaced.revision == "1")

        let maxEpoch = try DebianVersion("2147483647:1")
        #expect(maxEpoch.epoch == Int(Int32.max))
    }

    @Test(arguments: [
        ("", "version string is empty"),
        ("   ", "version string is empty"),
        ("1 2", "version string has embedded spaces"),
        (":1", "epoch in version is empty"),
        ("x:1", "epoch in version is empty"),
        ("1~:1", "epoch in version is not number"),
        ("-1:1", "epoch in version is negative"),
        ("2147483648:1", "epoch in version is too big"),
        ("99999999999999999999999:1", "epoch in version is too big"),
        ("1:", "nothing after colon in version number"),
        ("-1", "version number is empty"),
        ("1:-1", "version number is empty"),
        ("a", "version number does not start with digit"),
        ("1:a1", "version number does not start with digit"),
        ("~1", "version number does not start with digit"),
        ("1_2", "invalid character in version number"),
        ("1.0/2", "invalid character in version number"),
        ("1-a_b", "invalid character in revision number"),
        ("1:1-2:3", "invalid character in revision number"),
        ("1.0-é", "invalid character in revision number"),
    ])
    func invalid(text: String, reason: String) {
        #expect(throws: DebianError.invalidVersion(text, reason: reason)) { try DebianVersion(text) }
    }

    @Test func equalityAndHashingFollowDpkg() throws {
        let groups: [[String]] = [
            ["1.0000-1", "1.0-1", "1.00-01", "0:1.0-1"],
            ["1", "0:1", "1-0", "01", "1-"],
            ["0foo", "0foo-", "0foo-0", "0:0foo0", "00foo00-00"],
            ["0", "0:0-0", "00", "0-"],
            ["1.2~rc1", "1.02~rc01"],
        ]
        for group in groups {
            let versions = try group.map(DebianVersion.init)
            for a in versions {
                for b in versions {
                    #expect(a == b, "\(a) == \(b)")
                    #expect(a.hashValue == b.hashValue, "hash \(a) \(b)")
                }
            }
            #expect(Set(versions).count == 1)
        }
        #expect(try DebianVersion("1.0") != DebianVersion("1.0."))
        #expect(try DebianVersion("1.0a") != DebianVersion("1.0"))
        #expect(try DebianVersion("1:1") != DebianVersion("1"))
    }

    @Test func hugeDigitRunsDoNotOverflow() throws {
        let big = try DebianVersion("123456789012345678901234567890")
        let bigger = try DebianVersion("123456789012345678901234567891")
        let padded = try DebianVersion("000123456789012345678901234567890")
        #expect(big < bigger)
        #expect(big == padded && big.hashValue == padded.hashValue)
        #expect(try DebianVersion("99999999999999999999") > DebianVersion("9999999999999999999"))
    }

    @Test func tildeAndLetterOrdering() throws {
        let sorted = ["1.0~~", "1.0~~a", "1.0~", "1.0~beta", "1.0", "1.0-1", "1.0a", "1.0+", "1.0.1", "1.1", "1:0.1"]
        let versions = try sorted.map(DebianVersion.init)
        for (i, a) in versions.enumerated() {
            for (j, b) in versions.enumerated() {
                let expected = i < j ? -1 : (i > j ? 1 : 0)
                #expect(DebianVersion.compare(a, b) == expected, "\(a) vs \(b)")
            }
        }
        #expect(versions.shuffled().sorted().map(\.description) == sorted)
    }

    @Test func codableAsSingleString() throws {
        let versions = try [DebianVersion("1:2.36-9+deb12u4"), DebianVersion("0.1~rc1")]
        let data = try JSONEncoder().encode(versions)
        #expect(String(decoding: data, as: UTF8.self) == #"["1:2.36-9+deb12u4","0.1~rc1"]"#)
        let decoded = try JSONDecoder().decode([DebianVersion].self, from: data)
        #expect(decoded.map(\.description) == versions.map(\.description))
        #expect(throws: DebianError.self) {
            try JSONDecoder().decode([DebianVersion].self, from: Data(#"["abc"]"#.utf8))
        }
    }
}
