import Archive
import Debian
import Yams

/// An error in a spec file, with the line it is on.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// An image definition, read from YAML and validated: every key known, every value typed.
///
/// ```yaml
/// name: base
/// description: glibc and OpenSSL, for dynamically linked programs
/// debian: bookworm
/// archs: [amd64, arm64]
/// packages: [base-files, netbase, tzdata, ca-certificates, libc6, libssl3, "!debconf"]
/// repositories:          # optional: the host's apt sources are the default
///   - url: http://deb.debian.org/debian
///     suites: [bookworm, bookworm-updates]
///     components: [main]
///     keyring: /usr/share/keyrings/debian-archive-keyring.gpg
/// ```
public struct ImageSpec: Sendable, Equatable {
    public struct Repository: Sendable, Equatable {
        public var url: String
        public var suites: [String]
        public var components: [String]
        public var keyring: String
    }

    public var name: String
    public var description: String?
    /// The Debian release, e.g. `bookworm`; its `-updates` and `-security` suites are included.
    public var debian: String
    public var archs: [String]
    public var packages: [PackageRequest]
    /// Explicit repositories; empty means the host's apt configuration.
    public var repositories: [Repository]

    public static let supportedArchitectures = ["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x", "riscv64"]

    /// Parses and validates a spec; errors name the key and the line.
    public init(yaml text: String, file: String) throws {
        func fail(_ node: Node?, _ message: String) -> SpecError { SpecError(file: file, line: node?.mark?.line, message: message) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, _) {
            let key = duplicates.first ?? ""
            throw SpecError(file: file, line: Self.secondLine(of: key, in: text), message: "'\(key)' appears twice")
        } catch let error as YamlError {
            throw SpecError(file: file, line: Self.line(of: error), message: "malformed YAML: \(Self.summary(of: error))")
        }
        guard let root, let mapping = root.mapping else { throw fail(root, "a spec must be a YAML mapping of keys such as name, debian, packages") }

        var name: String?, description: String?, debian: String?
        var archs: [String] = [], packages: [PackageRequest] = [], repositories: [Repository] = []
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, "keys must be strings") }
            guard seen.insert(key).inserted else { throw fail(keyNode, "'\(key)' appears twice") }
            switch key {
            case "name":
                name = try Self.string(value, key, file: file)
                guard let name, !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 || $0 == 95 }) else {
                    throw fail(value, "'name' must be lowercase letters, digits, '.', '-' or '_'")
                }
            case "description":
                description = try Self.string(value, key, file: file)
            case "debian":
                debian = try Self.string(value, key, file: file)
                if debian != "bookworm" { throw fail(value, "'debian' must be bookworm (Debian 12), got '\(debian ?? "")'") }
            case "archs":
                archs = try Self.strings(value, key, file: file)
                for (arch, node) in zip(archs, value.sequence ?? []) where !Self.supportedArchitectures.contains(arch) {
                    throw fail(node, "unknown architecture '\(arch)' (known: \(Self.supportedArchitectures.joined(separator: ", ")))")
                }
                if archs.isEmpty { throw fail(value, "'archs' must list at least one architecture") }
                if Set(archs).count != archs.count { throw fail(value, "'archs' lists an architecture twice") }
            case "packages":
                for (text, node) in zip(try Self.strings(value, key, file: file), value.sequence ?? []) {
                    do { packages.append(try PackageRequest(parsing: text)) } catch { throw fail(node, "\(error)") }
                }
            case "repositories":
                guard let items = value.sequence else { throw fail(value, "'repositories' must be a list") }
                for item in items { repositories.append(try Self.repository(item, file: file)) }
            default:
                throw fail(keyNode, "unknown key '\(key)' (known: name, description, debian, archs, packages, repositories)")
            }
        }
        guard let name else { throw fail(root, "missing required key 'name'") }
        guard let debian else { throw fail(root, "missing required key 'debian' (e.g. debian: bookworm)") }
        if packages.filter({ !$0.excluded }).isEmpty { throw fail(root, "'packages' must request at least one package") }
        self.name = name
        self.description = description
        self.debian = debian
        self.archs = archs.isEmpty ? ["amd64"] : archs
        self.packages = packages
        self.repositories = repositories
    }

    /// Reads and parses a spec file.
    public init(contentsOf path: String) throws {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path, limit: 4 << 20) } catch { throw SpecError(file: path, line: nil, message: "cannot read: \(error)") }
        try self.init(yaml: String(decoding: bytes, as: UTF8.self), file: path)
    }

    /// The repositories to use: the spec's, else the host's apt sources.
    public func aptRepositories() throws -> [AptRepository] {
        if repositories.isEmpty { return try AptSources.host() }
        return repositories.map { AptRepository(uri: $0.url, suites: $0.suites, components: $0.components, keyrings: [$0.keyring]) }
    }

    // MARK: - Typed values

    private static func string(_ node: Node, _ key: String, file: String) throws -> String {
        guard let scalar = node.scalar else { throw SpecError(file: file, line: node.mark?.line, message: "'\(key)' must be a string") }
        return scalar.string
    }

    private static func strings(_ node: Node, _ key: String, file: String) throws -> [String] {
        guard let items = node.sequence else { throw SpecError(file: file, line: node.mark?.line, message: "'\(key)' must be a list") }
        return try items.map { item in
            guard let scalar = item.scalar else { throw SpecError(file: file, line: item.mark?.line, message: "items of '\(key)' must be strings") }
            return scalar.string
        }
    }

    private static func repository(_ node: Node, file: String) throws -> Repository {
        guard let mapping = node.mapping else { throw SpecError(file: file, line: node.mark?.line, message: "each repository must be a mapping with url, suites, components, keyring") }
        var url: String?, suites: [String] = [], components: [String] = [], keyring: String?
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            switch key {
            case "url": url = try string(value, "url", file: file)
            case "suites": suites = try strings(value, "suites", file: file)
            case "components": components = try strings(value, "components", file: file)
            case "keyring": keyring = try string(value, "keyring", file: file)
            default: throw SpecError(file: file, line: keyNode.mark?.line, message: "unknown repository key '\(key)' (known: url, suites, components, keyring)")
            }
        }
        guard let url, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw SpecError(file: file, line: node.mark?.line, message: "a repository needs an http(s) 'url'")
        }
        guard !suites.isEmpty, !components.isEmpty else { throw SpecError(file: file, line: node.mark?.line, message: "a repository needs 'suites' and 'components'") }
        guard let keyring, keyring.hasPrefix("/") else {
            throw SpecError(file: file, line: node.mark?.line, message: "a repository needs a 'keyring': the absolute path of the keyring that signs it")
        }
        return Repository(url: url, suites: suites, components: components, keyring: keyring)
    }

    /// The line of the second `key:` (Yams reports duplicates without their position).
    private static func secondLine(of key: String, in text: String) -> Int? {
        var seen = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = Substring(line)
            while let first = rest.first, first == " " || first == "-" { rest.removeFirst() }
            if rest.hasPrefix(key + ":") {
                seen += 1
                if seen == 2 { return index + 1 }
            }
        }
        return nil
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }
}
