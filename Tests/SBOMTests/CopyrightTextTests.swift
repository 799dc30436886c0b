import Foundation
@testable import SBOM
import Testing
import TestSupport

/// The copyright parser works on bytes and native strings; these check it gives exactly what its
/// Foundation formulation (NSString searching and trimming, the slow path it replaced) gives.
@Suite struct CopyrightTextTests {
    /// The pieces the random texts are made of: ASCII, CRLF, blanks that combine with the mark
    /// after them, no-break and other Unicode spaces, line and paragraph separators, dots.
    static let pieces = ["GPL-2", "/usr/share/common-licenses/", "BSD", "LGPL-2.1", "Apache-2.0", ".", "..", " ", "  ", "\t",
                         "\n", "\r\n", "\r", " \u{301}", "\u{301}", "\u{A0}", "\u{2003}", "\u{2028}", "\u{85}", "é", "+", "-",
                         "x", " .\n", "\n .\n", "\u{FEFF}", "GPL", "common-licenses/GPL-3"]

    /// 20,000 texts of up to 24 pieces, chosen by deterministic noise (so a failure replays).
    static func randomTexts(seed: UInt64) -> [String] {
        var noise = pseudoRandomBytes(count: 20_000 * 25, seed: seed).makeIterator()
        return (0..<20_000).map { _ in
            (0..<Int(noise.next()! % 25)).map { _ in pieces[Int(noise.next()!) % pieces.count] }.joined()
        }
    }

    @Test("licence fields split and trim as Foundation does")
    func splitLicenseField() {
        for text in Self.randomTexts(seed: 7) {
            let (name, body) = CopyrightParser.splitLicenseField(text)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let expectedName = (lines.first.map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
            let expectedBody = lines.dropFirst().map { line -> String in
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                return trimmed == "." ? "" : String(trimmed)
            }.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(name == expectedName, "\(Array(text.unicodeScalars))")
            #expect(body == expectedBody, "\(Array(text.unicodeScalars))")
        }
    }

    @Test("common-licenses references are found as NSString's search finds them")
    func freeForm() {
        for text in Self.randomTexts(seed: 11) {
            var ids: Set<String> = []
            var rest = Substring(text)
            while let range = rest.range(of: "/usr/share/common-licenses/") {
                var name = String(rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" })
                while name.hasSuffix(".") { name.removeLast() }
                if let id = CopyrightParser.commonLicenses[name] { ids.insert(id) }
                rest = rest[range.upperBound...]
            }
            let expected = ids.isEmpty ? "NOASSERTION" : ids.sorted().joined(separator: " AND ")
            #expect(CopyrightParser.parseFreeForm(Array(text.utf8)).expression == expected, "\(Array(text.unicodeScalars))")
        }
    }

    @Test("a name right after the marker, at the end of the file, or past the decoded window")
    func freeFormEdges() {
        #expect(CopyrightParser.parseFreeForm(Array("see /usr/share/common-licenses/GPL-2.".utf8)).expression == "GPL-2.0-only")
        #expect(CopyrightParser.parseFreeForm(Array("/usr/share/common-licenses/".utf8)).expression == "NOASSERTION")
        let long = "/usr/share/common-licenses/GPL-2" + String(repeating: "x", count: 200)
        #expect(CopyrightParser.parseFreeForm(Array(long.utf8)).expression == "NOASSERTION")
        let both = "/usr/share/common-licenses/Apache-2.0 and /usr/share/common-licenses/LGPL-2.1"
        #expect(CopyrightParser.parseFreeForm(Array(both.utf8)).expression == "Apache-2.0 AND LGPL-2.1-only")
    }
}

