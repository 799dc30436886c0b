import Foundation
import Debian

/// A licence found in a Debian copyright file: an SPDX expression and the texts of the
/// `LicenseRef-` identifiers it uses.
struct CopyrightLicense: Equatable {
    var expression: String
    var extractedTexts: [String: String]

    static let noAssertion = CopyrightLicense(expression: "NOASSERTION", extractedTexts: [:])
}

/// Turns `/usr/share/doc/<package>/copyright` into an SPDX licence expression.
///
/// Machine-readable (DEP-5) files give the distinct `License:` short names of their `Files`
/// paragraphs, mapped to SPDX ids where one exists; other files only count when they point at
/// `/usr/share/common-licenses/<name>`. Anything else is `NOASSERTION`: nothing is guessed.
enum CopyrightParser {
    /// DEP-5 short names (lower-cased) → SPDX ids.
    static let dep5ToSPDX: [String: String] = {
        var table: [String: String] = [
            "expat": "MIT", "mit": "MIT", "zlib": "Zlib", "isc": "ISC",
            "apache-1.0": "Apache-1.0", "apache-1.1": "Apache-1.1", "apache-2.0": "Apache-2.0", "apache-2": "Apache-2.0",
            "artistic": "Artistic-1.0-Perl", "artistic-1.0": "Artistic-1.0", "artistic-2.0": "Artistic-2.0",
            "bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause",
            "bsd-2-clause-freebsd": "BSD-2-Clause-FreeBSD", "0bsd": "0BSD",
            "cc0-1.0": "CC0-1.0", "cc0": "CC0-1.0",
            "cc-by-3.0": "CC-BY-3.0", "cc-by-4.0": "CC-BY-4.0", "cc-by-sa-3.0": "CC-BY-SA-3.0", "cc-by-sa-4.0": "CC-BY-SA-4.0",
            "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0", "epl-1.0": "EPL-1.0", "epl-2.0": "EPL-2.0",
            "psf-2": "PSF-2.0", "psf-2.0": "PSF-2.0", "python": "Python-2.0", "python-2.0": "Python-2.0",
            "x11": "X11", "curl": "curl", "openssl": "OpenSSL", "ssleay": "SSLeay-standalone",
            "bsl-1.0": "BSL-1.0", "boost-1.0": "BSL-1.0", "ftl": "FTL", "libpng": "Libpng", "libpng-2.0": "libpng-2.0",
            "ijg": "IJG", "ofl-1.1": "OFL-1.1", "wtfpl": "WTFPL", "unlicense": "Unlicense",
            "unicode-dfs-2016": "Unicode-DFS-2016", "lppl-1.3c": "LPPL-1.3c", "bzip2-1.0.6": "bzip2-1.0.6",
            "tcl": "TCL", "ruby": "Ruby", "php-3.01": "PHP-3.01", "zpl-2.1": "ZPL-2.1", "cddl-1.0": "CDDL-1.0",
            "gpl": "GPL-1.0-or-later", "lgpl": "LGPL-2.0-or-later",
            "public-domain": "LicenseRef-public-domain",
        ]
        // The versioned GNU family: NAME-V (only) and NAME-V+ (or later).
        let gnu: [(String, String, [String])] = [
            ("gpl", "GPL", ["1", "2", "3"]), ("lgpl", "LGPL", ["2", "2.1", "3"]), ("agpl", "AGPL", ["3"]),
            ("gfdl", "GFDL", ["1.1", "1.2", "1.3"]),
        ]
        for (short, spdx, versions) in gnu {
            for version in versions {
                let spdxVersion = version.contains(".") ? version : version + ".0"
                for written in Set([version, spdxVersion]) {
                    table["\(short)-\(written)"] = "\(spdx)-\(spdxVersion)-only"
                    table["\(short)-\(written)+"] = "\(spdx)-\(spdxVersion)-or-later"
                }
            }
        }
        return table
    }()

    /// `/usr/share/common-licenses/<name>` → SPDX id (bookworm's base-files).
    static let commonLicenses: [String: String] = [
        "Apache-2.0": "Apache-2.0", "Artistic": "Artistic-1.0-Perl", "BSD": "BSD-3-Clause", "CC0-1.0": "CC0-1.0",
        "GFDL-1.2": "GFDL-1.2-only", "GFDL-1.3": "GFDL-1.3-only", "GFDL": "GFDL-1.3-only",
        "GPL": "GPL-1.0-or-later", "GPL-1": "GPL-1.0-only", "GPL-2": "GPL-2.0-only", "GPL-3": "GPL-3.0-only",
        "LGPL": "LGPL-2.0-or-later", "LGPL-2": "LGPL-2.0-only", "LGPL-2.1": "LGPL-2.1-only", "LGPL-3": "LGPL-3.0-only",
        "MPL-1.1": "MPL-1.1", "MPL-2.0": "MPL-2.0",
    ]

    /// Parses a copyright file's bytes. `path` names it in warnings.
    static func parse(_ bytes: [UInt8], path: String, warnings: inout [String]) -> CopyrightLicense {
        let firstLine = String(decoding: bytes.prefix { $0 != 10 }, as: UTF8.self)
        if firstLine.lowercased().hasPrefix("format:") && firstLine.contains("copyright-format/1.0") {
            return parseDEP5(String(decoding: bytes, as: UTF8.self), path: path, warnings: &warnings)
        }
        return parseFreeForm(bytes)
    }

    /// Common-licenses references in a free-form file, e.g. `/usr/share/common-licenses/GPL-2`.
    /// The marker is found in the bytes; only the few characters after it are decoded.
    static func parseFreeForm(_ bytes: [UInt8]) -> CopyrightLicense {
        let marker = Array("/usr/share/common-licenses/".utf8)
        var ids: Set<String> = []
        var from = 0
        while let found = bytes[from...].firstRange(of: marker) {
            from = found.upperBound
            // Names are short; one longer than this window matches no common licence either way.
            let window = String(decoding: bytes[from..<min(bytes.count, from + 128)], as: UTF8.self)
            var name = window.prefix { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }
            while name.hasSuffix(".") { name.removeLast() }
            if let id = commonLicenses[String(name)] { ids.insert(id) }
        }
        guard !ids.isEmpty else { return .noAssertion }
        return CopyrightLicense(expression: ids.sorted().joined(separator: " AND "), extractedTexts: [:])
    }

    /// A DEP-5 file: the expressions of the `Files` paragraphs' `License` fields.
    static func parseDEP5(_ text: String, path: String, warnings: inout [String]) -> CopyrightLicense {
        let paragraphs = Deb822.paragraphs(Array(text.utf8), file: path, warnings: &warnings)
        // Stand-alone License paragraphs give the texts of short names.
        var texts: [String: String] = [:]
        for paragraph in paragraphs where paragraph["Files"] == nil {
            guard let license = paragraph["License"] else { continue }
            let (name, body) = splitLicenseField(license)
            if !body.isEmpty && texts[name.lowercased()] == nil { texts[name.lowercased()] = body }
        }
        var expressions: Set<String> = []
        var extracted: [String: String] = [:]
        for paragraph in paragraphs where paragraph["Files"] != nil {
            guard let license = paragraph["License"] else { continue }
            let (name, body) = splitLicenseField(license)
            if !body.isEmpty && texts[name.lowercased()] == nil { texts[name.lowercased()] = body }
            guard let expression = spdxExpression(name, texts: texts, extracted: &extracted, path: path) else { continue }
            expressions.insert(expression)
        }
        // Texts of short names that only appeared after their use.
        for (id, text) in extracted where text.isEmpty {
            extracted[id] = "License named in \(path); no licence text given there."
        }
        guard !expressions.isEmpty else { return .noAssertion }
        let sorted = expressions.sorted()
        let expression = sorted.count == 1 ? sorted[0] : sorted.map { $0.contains(" ") ? "(\($0))" : $0 }.joined(separator: " AND ")
        return CopyrightLicense(expression: expression, extractedTexts: extracted)
    }

    /// Splits a License field into its first line (the short names) and the licence text.
    static func splitLicenseField(_ value: String) -> (name: String, body: String) {
        let bytes = Array(value.utf8)
        // Lines as splitting the String at "\n" finds them: "\r\n" is one character, not a break.
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") && (index == 0 || bytes[index - 1] != UInt8(ascii: "\r")) {
            lines.append(bytes[start..<index])
            start = index + 1
        }
        lines.append(bytes[start...])
        let name = String(decoding: lines[0], as: UTF8.self).trimmingUnicodeWhitespace(newlines: false)
        var body: [UInt8] = []
        body.reserveCapacity(bytes.count)
        for (number, line) in lines.dropFirst().enumerated() {
            if number > 0 { body.append(UInt8(ascii: "\n")) }
            let rest = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            if rest.startIndex > line.startIndex, let next = rest.first, next >= 0x80 {
                // A blank may combine with the mark after it into one character: decide as characters do.
                let text = String(decoding: line, as: UTF8.self).drop { $0 == " " || $0 == "\t" }
                if text != "." { body.append(contentsOf: text.utf8) }
                continue
            }
            if !rest.elementsEqual(CollectionOfOne(UInt8(ascii: "."))) { body.append(contentsOf: rest) }
        }
        return (name, String(decoding: body, as: UTF8.self).trimmingUnicodeWhitespace(newlines: true))
    }

    /// The SPDX form of a DEP-5 licence line such as `GPL-2+ or Artistic, and BSD-3-clause`.
    static func spdxExpression(_ line: String, texts: [String: String], extracted: inout [String: String], path: String) -> String? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !words.isEmpty else { return nil }
        // Tokens: names (possibly with "with ... exception") and the operators.
        var top: [(op: String?, group: [String])] = []   // comma-separated groups with their leading operator
        var current: [String] = []
        var pendingOp: String?
        for word in words {
            if word.hasSuffix(",") {
                current.append(String(word.dropLast()))
                top.append((pendingOp, current))
                current = []
                pendingOp = nil
                continue
            }
            if current.isEmpty, !top.isEmpty, pendingOp == nil, ["and", "or"].contains(word.lowercased()) {
                pendingOp = word.uppercased()
                continue
            }
            current.append(word)
        }
        if !current.isEmpty { top.append((pendingOp, current)) }

        func term(_ words: [String]) -> String {
            // "GPL-2+ with Autoconf exception": an SPDX exception when the list has one for it.
            if let with = words.firstIndex(where: { $0.lowercased() == "with" }), with > 0 {
                let base = term(Array(words[..<with]))
                var named = words[(with + 1)...].map { $0.lowercased() }
                if named.last == "exception" { named.removeLast() }
                if !base.hasPrefix("LicenseRef-"), let exception = spdxException(named.joined(separator: " "), base: base) {
                    return "\(base) WITH \(exception)"
                }
            }
            let name = words.joined(separator: " ")
            if let id = dep5ToSPDX[name.lowercased()] {
                if id.hasPrefix("LicenseRef-") && extracted[id] == nil {
                    extracted[id] = texts[name.lowercased()] ?? ""
                }
                return id
            }
            let id = "LicenseRef-" + sanitize(name)
            if extracted[id] == nil || extracted[id] == "" { extracted[id] = texts[name.lowercased()] ?? "" }
            return id
        }
        // Within a group: "or" binds looser than "and", as DEP-5 reads it.
        func group(_ words: [String]) -> String {
            var alternatives: [[String]] = [[]]
            for word in words {
                if word.lowercased() == "or" { alternatives.append([]) } else { alternatives[alternatives.count - 1].append(word) }
            }
            let parts = alternatives.filter { !$0.isEmpty }.map { alternative -> String in
                var conjuncts: [[String]] = [[]]
                for word in alternative {
                    if word.lowercased() == "and" { conjuncts.append([]) } else { conjuncts[conjuncts.count - 1].append(word) }
                }
                let terms = conjuncts.filter { !$0.isEmpty }.map(term)
                return terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " AND ") + ")"
            }
            if parts.count == 1 { return parts[0].hasPrefix("(") && parts[0].hasSuffix(")") ? String(parts[0].dropFirst().dropLast()) : parts[0] }
            return "(" + parts.joined(separator: " OR ") + ")"
        }
        let groups = top.filter { !$0.group.isEmpty }
        guard let first = groups.first else { return nil }
        var result = group(first.group)
        for next in groups.dropFirst() {
            let op = next.op ?? "AND"
            let piece = group(next.group)
            result = "(" + unwrap(result) + " " + op + " " + piece + ")"
        }
        return unwrap(result)
    }

    /// The SPDX exception id for an exception named in a DEP-5 `with … exception` clause
    /// (lower-cased, without the word "exception"), given the licence it modifies; nil when the
    /// SPDX exception list has none (the whole clause then becomes a `LicenseRef-`).
    static func spdxException(_ name: String, base: String) -> String? {
        switch name {
        case "autoconf": base.hasPrefix("GPL-3") ? "Autoconf-exception-3.0" : "Autoconf-exception-2.0"
        case "bison": "Bison-exception-2.2"
        case "classpath": "Classpath-exception-2.0"
        case "font": "Font-exception-2.0"
        case "gcc-runtime-3.1", "gcc-exception-3.1", "gcc runtime library": "GCC-exception-3.1"
        case "libtool": "Libtool-exception"
        case "linux-syscall-note": "Linux-syscall-note"
        case "llvm": "LLVM-exception"
        case "texinfo": "Texinfo-exception"
        default: nil
        }
    }

    /// Drops one pair of outer parentheses when they enclose the whole expression.
    static func unwrap(_ expression: String) -> String {
        guard expression.hasPrefix("("), expression.hasSuffix(")") else { return expression }
        var depth = 0
        for (index, character) in expression.enumerated() {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if depth == 0 && index < expression.count - 1 { return expression }
        }
        return String(expression.dropFirst().dropLast())
    }

    /// A `LicenseRef-` suffix: letters, digits, `.` and `-` only.
    static func sanitize(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            if scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "-") {
                out.unicodeScalars.append(scalar)
            } else if scalar == "+" {
                out += "-plus"
            } else if !out.hasSuffix("-") {
                out += "-"
            }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "unknown" : out
    }
}

/// Licence detection for callers outside the SBOM module (the image builder's annotations).
public enum LicenseDetection {
    /// The SPDX expression a copyright file declares, or `NOASSERTION`. Never guessed.
    public static func expression(ofCopyright bytes: [UInt8], path: String) -> String {
        var warnings: [String] = []
        return CopyrightParser.parse(bytes, path: path, warnings: &warnings).expression
    }
}

extension StringProtocol {
    /// What Foundation's `trimmingCharacters(in: .whitespaces)` gives (`.whitespacesAndNewlines`
    /// with `newlines`): without leading and trailing tabs and Unicode space separators (Zs),
    /// and with `newlines` also U+000A–U+000D, U+0085, U+2028 and U+2029. Native: no bridging
    /// to NSString, which costs more than the parsing around it.
    func trimmingUnicodeWhitespace(newlines: Bool) -> String {
        func blank(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x09: true
            case 0x0A...0x0D, 0x85, 0x2028, 0x2029: newlines
            default: scalar.properties.generalCategory == .spaceSeparator
            }
        }
        let scalars = Substring(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !blank($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !blank($0) })!
        return String(Substring(scalars[first...last]))
    }
}
