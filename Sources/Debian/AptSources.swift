import Archive
import Foundation

/// A Debian repository: where packages come from and which key signs them.
public struct AptRepository: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Base URL, e.g. `http://deb.debian.org/debian` (no trailing slash).
    public var uri: String
    public var suites: [String]
    public var components: [String]
    /// Keyring files that may sign this repository's Release files.
    public var keyrings: [String]
    /// Architectures the repository is restricted to (nil: any).
    public var architectures: [String]?

    public init(uri: String, suites: [String], components: [String], keyrings: [String], architectures: [String]? = nil) {
        var uri = uri
        while uri.hasSuffix("/") { uri.removeLast() }
        self.uri = uri
        self.suites = suites
        self.components = components
        self.keyrings = keyrings
        self.architectures = architectures
    }

    public var description: String { "\(uri) \(suites.joined(separator: " ")) [\(components.joined(separator: " "))]" }
}

/// Errors about package sources.
public enum SourcesError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(file: String, line: Int, reason: String)
    case noRepositories(String)

    public var description: String {
        switch self {
        case .invalid(let file, let line, let reason): "\(file):\(line): \(reason)"
        case .noRepositories(let why): "no package repositories: \(why)"
        }
    }
}

/// Reads apt's own configuration, so that a spec needs to name no mirror (as mmdebstrap does).
public enum AptSources {
    /// The keyrings apt trusts when a source has no `Signed-By`.
    public static func defaultKeyrings(root: String = "") -> [String] {
        var result: [String] = []
        if FileSystem.exists(root + "/etc/apt/trusted.gpg") { result.append(root + "/etc/apt/trusted.gpg") }
        let dir = root + "/etc/apt/trusted.gpg.d"
        for name in (try? FileSystem.listDirectory(dir)) ?? [] where name.hasSuffix(".gpg") || name.hasSuffix(".asc") {
            result.append(dir + "/" + name)
        }
        return result
    }

    /// The binary (`deb`) repositories configured on this host: `/etc/apt/sources.list` and
    /// `/etc/apt/sources.list.d/*.list` and `*.sources`, in apt's order. Disabled entries are skipped.
    public static func host(root: String = "") throws -> [AptRepository] {
        var repositories: [AptRepository] = []
        let main = root + "/etc/apt/sources.list"
        if FileSystem.exists(main) { repositories += try parseOneLine(try readText(main), file: main, root: root) }
        let dir = root + "/etc/apt/sources.list.d"
        for name in (try? FileSystem.listDirectory(dir)) ?? [] {
            let path = dir + "/" + name
            if name.hasSuffix(".list") {
                repositories += try parseOneLine(try readText(path), file: path, root: root)
            } else if name.hasSuffix(".sources") {
                repositories += try parseDeb822(try readText(path), file: path, root: root)
            }
        }
        return repositories
    }

    /// Parses deb822 `.sources` text (Types, URIs, Suites, Components, Signed-By, Architectures, Enabled).
    public static func parseDeb822(_ text: String, file: String, root: String = "") throws -> [AptRepository] {
        let paragraphs: [ControlParagraph]
        do {
            paragraphs = try ControlFile.parse(text)
        } catch let DebianError.malformedControl(line, reason) {
            throw SourcesError.invalid(file: file, line: line, reason: reason)
        }
        var result: [AptRepository] = []
        for paragraph in paragraphs {
            func words(_ field: String) -> [String] {
                (paragraph[field] ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
            }
            if (paragraph["Enabled"] ?? "yes").lowercased() == "no" { continue }
            guard words("Types").contains("deb") else { continue }
            let uris = words("URIs"), suites = words("Suites")
            guard !uris.isEmpty, !suites.isEmpty else {
                throw SourcesError.invalid(file: file, line: paragraph.lineNumber, reason: "a source needs URIs and Suites")
            }
            let components = words("Components")
            if components.isEmpty && !suites.allSatisfy({ $0.hasSuffix("/") }) {
                throw SourcesError.invalid(file: file, line: paragraph.lineNumber, reason: "Components is required unless every suite is an exact path ending in '/'")
            }
            let keyrings = try signedBy(paragraph["Signed-By"], file: file, line: paragraph.lineNumber, root: root)
            let architectures = words("Architectures")
            for uri in uris {
                result.append(AptRepository(uri: uri, suites: suites, components: components, keyrings: keyrings,
                                            architectures: architectures.isEmpty ? nil : architectures))
            }
        }
        return result
    }

    /// Parses one-line `sources.list` text: `deb [opt=val ...] URI SUITE COMPONENT...`.
    public static func parseOneLine(_ text: String, file: String, root: String = "") throws -> [AptRepository] {
        var result: [AptRepository] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            var tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let type = tokens.first else { continue }
            tokens.removeFirst()
            guard type == "deb" else { continue }
            var options: [String: String] = [:]
            if let first = tokens.first, first.hasPrefix("[") {
                var optionText = ""
                while let token = tokens.first {
                    tokens.removeFirst()
                    optionText += " " + token
                    if token.hasSuffix("]") { break }
                }
                for pair in optionText.trimmingCharacters(in: CharacterSet(charactersIn: " []")).split(separator: " ") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { options[parts[0]] = parts[1] }
                }
            }
            guard tokens.count >= 2 else {
                throw SourcesError.invalid(file: file, line: index + 1, reason: "expected 'deb URI SUITE [COMPONENT...]'")
            }
            let keyrings = try signedBy(options["signed-by"].map { $0.replacingOccurrences(of: ",", with: " ") }, file: file, line: index + 1, root: root)
            result.append(AptRepository(uri: tokens[0], suites: [tokens[1]], components: Array(tokens.dropFirst(2)),
                                        keyrings: keyrings, architectures: options["arch"]?.split(separator: ",").map(String.init)))
        }
        return result
    }

    private static func signedBy(_ value: String?, file: String, line: Int, root: String) throws -> [String] {
        guard let value, !value.isEmpty else { return defaultKeyrings(root: root) }
        if value.contains("BEGIN PGP PUBLIC KEY BLOCK") {
            throw SourcesError.invalid(file: file, line: line, reason: "inline Signed-By keys are not supported: put the key in a keyring file")
        }
        let paths = value.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," }).map(String.init)
        guard paths.allSatisfy({ $0.hasPrefix("/") }) else {
            throw SourcesError.invalid(file: file, line: line, reason: "Signed-By must name keyring files (fingerprints are not supported)")
        }
        return paths.map { root + $0 }
    }

    private static func readText(_ path: String) throws -> String {
        String(decoding: try FileSystem.read(path, limit: 1 << 20), as: UTF8.self)
    }
}
