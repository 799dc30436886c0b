import Archive
import Debian
import SBOM
import VEX
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
/// `docs/spec.md` documents every field; `docs/spec.schema.json` is its JSON Schema.
public struct ImageSpec: Sendable, Equatable {
    public struct Repository: Sendable, Equatable {
        public var url: String
        public var suites: [String]
        public var components: [String]
        public var keyring: String
    }

    public struct User: Sendable, Equatable {
        public var name: String
        public var uid: Int
        public var gid: Int
        public var home: String
        public var shell: String
    }

    public struct Group: Sendable, Equatable {
        public var name: String
        public var gid: Int
        public var members: [String]
    }

    /// Users and groups written to /etc/passwd and /etc/group, and who the image runs as.
    public struct Accounts: Sendable, Equatable {
        public var users: [User]
        public var groups: [Group]
        /// A user name from `users`, `root`, or a numeric uid.
        public var runAs: String

        public static let `default` = Accounts(
            users: [User(name: "nonroot", uid: 65532, gid: 65532, home: "/home/nonroot", shell: "/sbin/nologin")],
            groups: [Group(name: "nonroot", gid: 65532, members: [])],
            runAs: "nonroot")
    }

    /// A change to the file tree after the packages are unpacked.
    public struct PathChange: Sendable, Equatable {
        public enum Kind: String, Sendable { case directory, file, symlink, permissions }
        public var path: String
        public var kind: Kind
        public var mode: UInt32?
        public var uid: Int?
        public var gid: Int?
        public var contents: String?
        public var target: String?
    }

    /// The dev variant: same packages plus a shell, apt, dpkg and `packages`, running as root.
    public struct DevVariant: Sendable, Equatable {
        public var enabled: Bool
        public var packages: [PackageRequest]
        public var user: String
        public var entrypoint: [String]?
        public var cmd: [String]?

        public static let `default` = DevVariant(enabled: true, packages: [], user: "root", entrypoint: nil, cmd: nil)
        /// What every dev variant adds: a shell and the package managers.
        public static let basePackages = ["dash", "bash", "coreutils", "apt", "dpkg"]
    }

    /// A command run in the built image by `harden test`.
    public struct Test: Sendable, Equatable {
        public enum Variant: String, Sendable { case minimal, dev, both }
        public var name: String
        /// Command and arguments; empty runs the image's entrypoint.
        public var run: [String]
        public var expectOutput: String?
        public var expectStatus: Int32
        public var variant: Variant
    }

    public struct Layering: Sendable, Equatable {
        public enum Strategy: String, Sendable { case single, packages }
        public var strategy: Strategy
        /// Most layers for `packages` (the last one takes the rest and the generated files).
        public var max: Int

        public static let `default` = Layering(strategy: .single, max: 1)
    }

    public var name: String
    public var description: String?
    /// The Debian release, e.g. `bookworm`; its `-updates` and `-security` suites are included.
    public var debian: String
    public var archs: [String]
    public var packages: [PackageRequest]
    /// Explicit repositories; empty means the host's apt configuration.
    public var repositories: [Repository]
    public var accounts: Accounts
    public var entrypoint: [String]?
    public var cmd: [String]?
    /// Environment, in key order; PATH and SSL_CERT_FILE have defaults.
    public var env: [String: String]
    public var workdir: String?
    public var stopSignal: String?
    public var labels: [String: String]
    public var annotations: [String: String]
    public var paths: [PathChange]
    public var osRelease: [String: String]
    public var dev: DevVariant
    public var tests: [Test]
    public var layering: Layering
    /// The tag images get in the local store (`name:tag` and `name:tag-dev`).
    public var tag: String
    /// The maintainers' VEX statements, published with every image as a signed OpenVEX attestation.
    public var vex: [VEXEntry]

    /// A maintainer's statement about a vulnerability in the image: `packages` (binary names;
    /// none: the whole image) with a `status` and the reasons the OpenVEX spec asks for.
    public struct VEXEntry: Sendable, Equatable {
        public var vulnerability: String
        public var packages: [String]
        public var status: VEXStatus
        public var justification: VEXJustification?
        public var impact: String?
        public var action: String?

        public init(vulnerability: String, packages: [String] = [], status: VEXStatus, justification: VEXJustification? = nil,
                    impact: String? = nil, action: String? = nil) {
            self.vulnerability = vulnerability
            self.packages = packages
            self.status = status
            self.justification = justification
            self.impact = impact
            self.action = action
        }
    }

    public static let supportedArchitectures = ["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x", "riscv64"]
    static let topLevelKeys = ["name", "description", "debian", "archs", "packages", "repositories", "accounts", "entrypoint",
                               "cmd", "env", "workdir", "stop-signal", "labels", "annotations", "paths", "os-release",
                               "variants", "tests", "layering", "tag", "vex"]

    /// Parses and validates a spec; errors name the key and the line.
    public init(yaml text: String, file: String) throws {
        let reader = NodeReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, _) {
            let key = duplicates.first ?? ""
            throw SpecError(file: file, line: Self.secondLine(of: key, in: text), message: "'\(key)' appears twice")
        } catch let error as YamlError {
            throw SpecError(file: file, line: Self.line(of: error), message: "malformed YAML: \(Self.summary(of: error))")
        }
        guard let root, root.mapping != nil else {
            throw reader.fail(root, "a spec must be a YAML mapping of keys such as name, debian, packages")
        }
        let fields = try reader.fields(root, allowed: Self.topLevelKeys, context: "spec")

        guard let nameNode = fields["name"] else { throw reader.fail(root, "missing required key 'name'") }
        name = try reader.string(nameNode, "name")
        guard Self.isSimpleName(name) else { throw reader.fail(nameNode, "'name' must be lowercase letters, digits, '.', '-' or '_'") }
        description = try fields["description"].map { try reader.string($0, "description") }
        guard let debianNode = fields["debian"] else { throw reader.fail(root, "missing required key 'debian' (e.g. debian: bookworm)") }
        debian = try reader.string(debianNode, "debian")
        if debian != "bookworm" { throw reader.fail(debianNode, "'debian' must be bookworm (Debian 12), got '\(debian)'") }

        archs = ["amd64"]
        if let node = fields["archs"] {
            archs = try reader.strings(node, "archs")
            for (arch, item) in zip(archs, node.sequence ?? []) where !Self.supportedArchitectures.contains(arch) {
                throw reader.fail(item, "unknown architecture '\(arch)' (known: \(Self.supportedArchitectures.joined(separator: ", ")))")
            }
            if archs.isEmpty { throw reader.fail(node, "'archs' must list at least one architecture") }
            if Set(archs).count != archs.count { throw reader.fail(node, "'archs' lists an architecture twice") }
        }
        packages = try fields["packages"].map { try reader.packageRequests($0, "packages") } ?? []
        if packages.filter({ !$0.excluded }).isEmpty { throw reader.fail(fields["packages"] ?? root, "'packages' must request at least one package") }
        repositories = try (fields["repositories"].map { try reader.list($0, "repositories") } ?? []).map { try Self.repository($0, reader) }

        accounts = try fields["accounts"].map { try Self.accounts($0, reader) } ?? .default
        entrypoint = try fields["entrypoint"].map { try reader.strings($0, "entrypoint") }
        cmd = try fields["cmd"].map { try reader.strings($0, "cmd") }
        env = try fields["env"].map { try reader.stringMap($0, "env") } ?? [:]
        for (key, node) in (fields["env"]?.mapping.map { Array($0) } ?? []) where !Self.isEnvName(key.scalar?.string ?? "") {
            throw reader.fail(node, "invalid environment variable name '\(key.scalar?.string ?? "")'")
        }
        workdir = try fields["workdir"].map { try reader.absolutePath($0, "workdir") }
        stopSignal = try fields["stop-signal"].map { try reader.string($0, "stop-signal") }
        if let signal = stopSignal, !signal.hasPrefix("SIG") && Int(signal) == nil {
            throw reader.fail(fields["stop-signal"], "'stop-signal' must be a signal name such as SIGTERM, or a number")
        }
        labels = try fields["labels"].map { try reader.stringMap($0, "labels") } ?? [:]
        annotations = try fields["annotations"].map { try reader.stringMap($0, "annotations") } ?? [:]
        paths = try (fields["paths"].map { try reader.list($0, "paths") } ?? []).map { try Self.pathChange($0, reader) }
        osRelease = try fields["os-release"].map { try reader.stringMap($0, "os-release") } ?? [:]
        for (key, node) in (fields["os-release"]?.mapping.map { Array($0) } ?? []) where !Self.isEnvName(key.scalar?.string ?? "") {
            throw reader.fail(node, "os-release keys are variable names such as PRETTY_NAME")
        }
        dev = .default
        if let node = fields["variants"] {
            let variants = try reader.fields(node, allowed: ["dev"], context: "variants")
            if let devNode = variants["dev"] { dev = try Self.devVariant(devNode, reader) }
        }
        tests = try (fields["tests"].map { try reader.list($0, "tests") } ?? []).map { try Self.test($0, reader) }
        layering = try fields["layering"].map { try Self.layering($0, reader) } ?? .default
        tag = try fields["tag"].map { try reader.string($0, "tag") } ?? "latest"
        if !Self.isTag(tag) { throw reader.fail(fields["tag"], "'tag' must be letters, digits, '_', '.' or '-'") }
        vex = try (fields["vex"].map { try reader.list($0, "vex") } ?? []).map { try Self.vexEntry($0, reader) }

        // Cross-field checks.
        let userNames = accounts.users.map(\.name) + ["root"]
        if !userNames.contains(accounts.runAs) && Int(accounts.runAs) == nil {
            throw reader.fail(fields["accounts"], "'run-as' names '\(accounts.runAs)', which is not among the accounts' users")
        }
        if !userNames.contains(dev.user) && Int(dev.user) == nil {
            throw reader.fail(fields["variants"], "the dev variant's 'user' names '\(dev.user)', which is not a known user")
        }
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

    /// The package requests of the dev variant: the image's, the dev base set and the variant's extras.
    /// Exclusions of packages the dev variant needs are lifted.
    public var devPackages: [PackageRequest] {
        let devNames = Set(DevVariant.basePackages + dev.packages.filter { !$0.excluded }.map(\.name))
        let kept = packages.filter { !($0.excluded && devNames.contains($0.name)) }
        let extra = (DevVariant.basePackages.map { PackageRequest(name: $0) } + dev.packages)
            .filter { request in !kept.contains { $0.name == request.name } }
        return kept + extra
    }

    // MARK: - Sections

    /// The spec's `vex:` statements about an image of it: the product is the image, the named
    /// packages its subcomponents (by their purls in `inventory`). A statement naming packages of
    /// which this image (a variant, an architecture) holds none is left out.
    public func vexStatements(for inventory: ImageInventory, product: PURL) throws -> [VEXStatement] {
        try vex.compactMap { entry in
            let packages = inventory.packages.filter { entry.packages.contains($0.name) }
            if !entry.packages.isEmpty && packages.isEmpty { return nil }
            return VEXStatement(vulnerability: VEXVulnerability(name: entry.vulnerability),
                                products: [VEXProduct(purl: product, subcomponents: try packages.map { try PURL($0.purl) })],
                                status: entry.status, justification: entry.justification,
                                impactStatement: entry.impact, actionStatement: entry.action)
        }
    }

    private static func vexEntry(_ node: Node, _ reader: NodeReader) throws -> VEXEntry {
        let f = try reader.fields(node, allowed: ["vulnerability", "packages", "status", "justification", "impact", "action"], context: "vex statement")
        guard let vulnerabilityNode = f["vulnerability"], let statusNode = f["status"] else {
            throw reader.fail(node, "a vex statement needs 'vulnerability' (e.g. CVE-2024-5535) and 'status'")
        }
        let statusText = try reader.string(statusNode, "status")
        guard let status = VEXStatus(rawValue: statusText) else {
            throw reader.fail(statusNode, "status '\(statusText)' is not one of \(VEXStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let justification = try f["justification"].map { item -> VEXJustification in
            let text = try reader.string(item, "justification")
            guard let value = VEXJustification(rawValue: text) else {
                throw reader.fail(item, "justification '\(text)' is not one of \(VEXJustification.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return value
        }
        let entry = VEXEntry(vulnerability: try reader.string(vulnerabilityNode, "vulnerability"),
                             packages: try f["packages"].map { try reader.strings($0, "packages") } ?? [],
                             status: status, justification: justification,
                             impact: try f["impact"].map { try reader.string($0, "impact") },
                             action: try f["action"].map { try reader.string($0, "action") })
        if status == .notAffected && justification == nil && entry.impact == nil {
            throw reader.fail(node, "a not_affected statement needs a 'justification' or an 'impact' statement")
        }
        if status == .affected && entry.action == nil { throw reader.fail(node, "an affected statement needs an 'action' statement") }
        return entry
    }

    private static func repository(_ node: Node, _ reader: NodeReader) throws -> Repository {
        let f = try reader.fields(node, allowed: ["url", "suites", "components", "keyring"], context: "repository")
        guard let urlNode = f["url"], let url = try? reader.string(urlNode, "url"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw reader.fail(f["url"] ?? node, "a repository needs an http(s) 'url'")
        }
        let suites = try f["suites"].map { try reader.strings($0, "suites") } ?? []
        let components = try f["components"].map { try reader.strings($0, "components") } ?? []
        guard !suites.isEmpty, !components.isEmpty else { throw reader.fail(node, "a repository needs 'suites' and 'components'") }
        guard let keyringNode = f["keyring"], let keyring = try? reader.string(keyringNode, "keyring"), keyring.hasPrefix("/") else {
            throw reader.fail(node, "a repository needs a 'keyring': the absolute path of the keyring that signs it")
        }
        return Repository(url: url, suites: suites, components: components, keyring: keyring)
    }

    private static func accounts(_ node: Node, _ reader: NodeReader) throws -> Accounts {
        let f = try reader.fields(node, allowed: ["users", "groups", "run-as"], context: "accounts")
        var users: [User] = []
        for item in try f["users"].map({ try reader.list($0, "users") }) ?? [] {
            let u = try reader.fields(item, allowed: ["name", "uid", "gid", "home", "shell"], context: "user")
            guard let nameNode = u["name"], let uidNode = u["uid"] else { throw reader.fail(item, "a user needs 'name' and 'uid'") }
            let name = try reader.string(nameNode, "name")
            guard isSimpleName(name), name != "root" else { throw reader.fail(nameNode, "invalid user name '\(name)'") }
            let uid = try reader.int(uidNode, "uid", range: 1...2_147_483_646)
            let gid = try u["gid"].map { try reader.int($0, "gid", range: 0...2_147_483_646) } ?? uid
            let home = try u["home"].map { try reader.absolutePath($0, "home") } ?? "/home/\(name)"
            let shell = try u["shell"].map { try reader.absolutePath($0, "shell") } ?? "/sbin/nologin"
            users.append(User(name: name, uid: uid, gid: gid, home: home, shell: shell))
        }
        var groups: [Group] = []
        for item in try f["groups"].map({ try reader.list($0, "groups") }) ?? [] {
            let g = try reader.fields(item, allowed: ["name", "gid", "members"], context: "group")
            guard let nameNode = g["name"], let gidNode = g["gid"] else { throw reader.fail(item, "a group needs 'name' and 'gid'") }
            let name = try reader.string(nameNode, "name")
            guard isSimpleName(name) else { throw reader.fail(nameNode, "invalid group name '\(name)'") }
            groups.append(Group(name: name, gid: try reader.int(gidNode, "gid", range: 1...2_147_483_646),
                                members: try g["members"].map { try reader.strings($0, "members") } ?? []))
        }
        // Every user's primary group exists.
        for user in users where !groups.contains(where: { $0.gid == user.gid }) {
            groups.append(Group(name: user.name, gid: user.gid, members: []))
        }
        if users.isEmpty && f["users"] == nil { users = Accounts.default.users; groups = Accounts.default.groups }
        if Set(users.map(\.uid)).count != users.count { throw reader.fail(f["users"], "two users share a uid") }
        let runAs = try f["run-as"].map { try reader.string($0, "run-as") } ?? (users.first?.name ?? "root")
        return Accounts(users: users, groups: groups, runAs: runAs)
    }

    private static func pathChange(_ node: Node, _ reader: NodeReader) throws -> PathChange {
        let f = try reader.fields(node, allowed: ["path", "type", "mode", "uid", "gid", "contents", "target"], context: "path")
        guard let pathNode = f["path"], let typeNode = f["type"] else { throw reader.fail(node, "a path entry needs 'path' and 'type'") }
        let path = try reader.absolutePath(pathNode, "path")
        let typeText = try reader.string(typeNode, "type")
        guard let kind = PathChange.Kind(rawValue: typeText) else {
            throw reader.fail(typeNode, "unknown path type '\(typeText)' (directory, file, symlink, permissions)")
        }
        var change = PathChange(path: path, kind: kind)
        change.mode = try f["mode"].map { try reader.mode($0) }
        change.uid = try f["uid"].map { try reader.int($0, "uid", range: 0...2_147_483_646) }
        change.gid = try f["gid"].map { try reader.int($0, "gid", range: 0...2_147_483_646) }
        change.contents = try f["contents"].map { try reader.string($0, "contents") }
        change.target = try f["target"].map { try reader.string($0, "target") }
        if kind == .symlink && change.target == nil { throw reader.fail(node, "a symlink needs a 'target'") }
        if kind != .symlink && change.target != nil { throw reader.fail(f["target"], "'target' is only for symlinks") }
        if kind != .file && change.contents != nil { throw reader.fail(f["contents"], "'contents' is only for files") }
        if kind == .permissions && change.mode == nil && change.uid == nil && change.gid == nil {
            throw reader.fail(node, "a permissions entry needs 'mode', 'uid' or 'gid'")
        }
        return change
    }

    private static func devVariant(_ node: Node, _ reader: NodeReader) throws -> DevVariant {
        if let scalar = node.scalar, let enabled = Bool(scalar.string) {
            return DevVariant(enabled: enabled, packages: [], user: "root", entrypoint: nil, cmd: nil)
        }
        let f = try reader.fields(node, allowed: ["packages", "user", "entrypoint", "cmd", "enabled"], context: "dev variant")
        return DevVariant(
            enabled: try f["enabled"].map { try reader.bool($0, "enabled") } ?? true,
            packages: try f["packages"].map { try reader.packageRequests($0, "packages") } ?? [],
            user: try f["user"].map { try reader.string($0, "user") } ?? "root",
            entrypoint: try f["entrypoint"].map { try reader.strings($0, "entrypoint") },
            cmd: try f["cmd"].map { try reader.strings($0, "cmd") })
    }

    private static func test(_ node: Node, _ reader: NodeReader) throws -> Test {
        let f = try reader.fields(node, allowed: ["name", "run", "expect-output", "expect-status", "variant"], context: "test")
        guard let nameNode = f["name"] else { throw reader.fail(node, "a test needs a 'name'") }
        let variantText = try f["variant"].map { try reader.string($0, "variant") } ?? "both"
        guard let variant = Test.Variant(rawValue: variantText) else {
            throw reader.fail(f["variant"], "'variant' must be minimal, dev or both")
        }
        return Test(name: try reader.string(nameNode, "name"),
                    run: try f["run"].map { try reader.strings($0, "run") } ?? [],
                    expectOutput: try f["expect-output"].map { try reader.string($0, "expect-output") },
                    expectStatus: Int32(try f["expect-status"].map { try reader.int($0, "expect-status", range: 0...255) } ?? 0),
                    variant: variant)
    }

    private static func layering(_ node: Node, _ reader: NodeReader) throws -> Layering {
        let f = try reader.fields(node, allowed: ["strategy", "max"], context: "layering")
        let text = try f["strategy"].map { try reader.string($0, "strategy") } ?? "single"
        guard let strategy = Layering.Strategy(rawValue: text) else { throw reader.fail(f["strategy"], "'strategy' must be single or packages") }
        let max = try f["max"].map { try reader.int($0, "max", range: 1...100) } ?? (strategy == .single ? 1 : 8)
        return Layering(strategy: strategy, max: strategy == .single ? 1 : max)
    }

    // MARK: - Names

    static func isSimpleName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 || $0 == 95 }
    }

    static func isEnvName(_ text: String) -> Bool {
        guard let first = text.utf8.first, !(first >= 48 && first <= 57) else { return false }
        return text.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    static func isTag(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 100 else { return false }
        func word(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        return word(first) && text.utf8.allSatisfy { word($0) || $0 == 46 || $0 == 45 }
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

extension ImageSpec.PathChange {
    init(path: String, kind: Kind) {
        self.init(path: path, kind: kind, mode: nil, uid: nil, gid: nil, contents: nil, target: nil)
    }
}

/// Typed access to YAML nodes with errors that name the key and the line.
struct NodeReader {
    let file: String

    func fail(_ node: Node?, _ message: String) -> SpecError { SpecError(file: file, line: node?.mark?.line, message: message) }

    /// The keys of a mapping, each checked against `allowed`.
    func fields(_ node: Node, allowed: [String], context: String) throws -> [String: Node] {
        guard let mapping = node.mapping else { throw fail(node, "\(context) must be a mapping") }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, "keys must be strings") }
            guard allowed.contains(key) else {
                throw fail(keyNode, "unknown key '\(key)' in \(context) (known: \(allowed.joined(separator: ", ")))")
            }
            result[key] = value
        }
        return result
    }

    func string(_ node: Node, _ key: String) throws -> String {
        guard let scalar = node.scalar else { throw fail(node, "'\(key)' must be a string") }
        return scalar.string
    }

    func strings(_ node: Node, _ key: String) throws -> [String] {
        try list(node, key).map { item in
            guard let scalar = item.scalar else { throw fail(item, "items of '\(key)' must be strings") }
            return scalar.string
        }
    }

    func list(_ node: Node, _ key: String) throws -> [Node] {
        guard let items = node.sequence else { throw fail(node, "'\(key)' must be a list") }
        return Array(items)
    }

    func stringMap(_ node: Node, _ key: String) throws -> [String: String] {
        guard let mapping = node.mapping else { throw fail(node, "'\(key)' must be a mapping of names to strings") }
        var result: [String: String] = [:]
        for (k, v) in mapping {
            guard let name = k.scalar?.string, let value = v.scalar?.string else { throw fail(v, "values of '\(key)' must be strings") }
            result[name] = value
        }
        return result
    }

    func int(_ node: Node, _ key: String, range: ClosedRange<Int>) throws -> Int {
        guard let text = node.scalar?.string, let value = Int(text) else { throw fail(node, "'\(key)' must be a whole number") }
        guard range.contains(value) else { throw fail(node, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound)") }
        return value
    }

    func bool(_ node: Node, _ key: String) throws -> Bool {
        guard let value = node.scalar.flatMap({ Bool($0.string) }) else { throw fail(node, "'\(key)' must be true or false") }
        return value
    }

    /// An octal mode written as `0755` or `"0755"` (YAML would read a bare 0755 as a number: we take its digits).
    func mode(_ node: Node) throws -> UInt32 {
        guard let text = node.scalar?.string, let value = UInt32(text, radix: 8), value <= 0o7777 else {
            throw fail(node, "'mode' must be octal digits such as 0755")
        }
        return value
    }

    func absolutePath(_ node: Node, _ key: String) throws -> String {
        let text = try string(node, key)
        let (clean, hazards) = TarPath.normalize(text)
        guard text.hasPrefix("/"), hazards == [.absolutePath] || hazards.isEmpty, !text.split(separator: "/").contains("..") else {
            throw fail(node, "'\(key)' must be an absolute path without '..' (got '\(text)')")
        }
        return clean == "." ? "/" : "/" + clean
    }

    func packageRequests(_ node: Node, _ key: String) throws -> [PackageRequest] {
        try zip(strings(node, key), list(node, key)).map { text, item in
            do { return try PackageRequest(parsing: text) } catch { throw fail(item, "\(error)") }
        }
    }
}
