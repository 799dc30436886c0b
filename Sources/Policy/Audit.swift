import Archive
import Attestation
import Foundation
import OCI
import SBOM
import VEX
import Vulnerability

/// One check of `harden audit`, and what it found.
public struct AuditCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable, Comparable {
        case pass, warn, fail

        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
        private var rank: Int { self == .pass ? 0 : self == .warn ? 1 : 2 }
    }

    /// user, shell, package-manager, setuid, world-writable, secrets, packages, vulnerabilities,
    /// signature, sbom, provenance.
    public var check: String
    public var status: Status
    public var detail: String
    /// The paths (or CVEs) the check is about, when it names any.
    public var items: [String]

    public init(_ check: String, _ status: Status, _ detail: String, items: [String] = []) {
        self.check = check
        self.status = status
        self.detail = detail
        self.items = items
    }

    /// The checks that make an image hardened (the rest are about its evidence and CVEs).
    public static let hardening: Set<String> = ["user", "shell", "package-manager", "setuid", "world-writable", "secrets"]
}

/// What an image holds, counted: the axes `harden diff` compares.
public struct ImageFigures: Sendable, Codable, Equatable {
    public var packages: Int
    public var files: Int
    public var executables: Int
    public var setIDFiles: Int
    /// The bytes of its regular files.
    public var bytes: Int64
    /// The bytes of its compressed layers.
    public var compressedBytes: Int64
    /// Findings after VEX by severity; nil without a vulnerability database.
    public var vulnerabilities: [String: Int]?

    public var cves: Int? { vulnerabilities.map { $0.values.reduce(0, +) } }
}

/// Everything `harden audit` found about one platform image.
public struct AuditReport: Sendable, Codable {
    public var image: String
    /// The platform manifest audited.
    public var digest: String
    public var platform: String
    /// The config's `User` and what it resolves to.
    public var user: String
    public var figures: ImageFigures
    public var checks: [AuditCheck]
    /// A (every check passes), B (warnings only), C (one failure), D (two or three), F (more).
    public var grade: String

    /// Whether every hardening check passed.
    public var hardened: Bool { checks.filter { AuditCheck.hardening.contains($0.check) }.allSatisfy { $0.status == .pass } }

    static func grade(_ checks: [AuditCheck]) -> String {
        let failures = checks.filter { $0.status == .fail }.count
        switch failures {
        case 0: return checks.contains { $0.status == .warn } ? "B" : "A"
        case 1: return "C"
        case 2, 3: return "D"
        default: return "F"
        }
    }

    /// The table: one line per check, the paths it names (at most `listed` of them) below it.
    public func text(listed: Int = 8) -> String {
        var lines = ["\(image) \(platform) \(digest.prefix(19))",
                     "  \(figures.packages) packages, \(figures.files) files, \(figures.executables) executables, "
                         + "\(formatBytes(figures.bytes)) (\(formatBytes(figures.compressedBytes)) compressed)", ""]
        for check in checks {
            lines.append("  \(check.status.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) "
                         + "\(check.check.padding(toLength: 16, withPad: " ", startingAt: 0)) \(check.detail)")
            for item in check.items.prefix(listed) { lines.append("        \(item)") }
            if check.items.count > listed { lines.append("        ... and \(check.items.count - listed) more (--format json lists all)") }
        }
        let counts = Dictionary(grouping: checks, by: \.status).mapValues(\.count)
        lines.append("")
        lines.append("grade \(grade): \(counts[.pass] ?? 0) passed, \(counts[.warn] ?? 0) warnings, \(counts[.fail] ?? 0) failed")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Audits an image, ours or anyone's: how it runs, what an attacker would find in it, its CVEs,
/// and the evidence attached to it. Only the image's own bytes are trusted for the hardening
/// checks; its signatures and attestations count only when `key` verifies them.
public struct Auditor {
    public var database: VulnerabilityDatabase?
    /// VEX documents to apply besides the image's own signed ones.
    public var vex: [VEXDocument]
    public var key: VerificationKey?

    public init(database: VulnerabilityDatabase? = nil, vex: [VEXDocument] = [], key: VerificationKey? = nil) {
        self.database = database
        self.vex = vex
        self.key = key
    }

    /// Paths whose presence means the image holds an OS package manager.
    public static let packageManagers: [String] = ["/usr/bin/dpkg", "/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/aptitude",
                                                   "/usr/bin/rpm", "/usr/bin/yum", "/usr/bin/dnf", "/usr/bin/microdnf",
                                                   "/sbin/apk", "/usr/bin/zypper", "/usr/bin/pacman"]
    /// Language package managers: a warning, since a runtime image may need one.
    public static let languagePackageManagers: [String] = ["/usr/bin/pip", "/usr/bin/pip3", "/usr/bin/npm", "/usr/bin/gem"]
    /// Files whose mere presence with contents is a leaked credential.
    static let credentialFiles: [String] = [".netrc", ".git-credentials", ".pgpass", ".npmrc", ".pypirc", ".docker/config.json",
                                            ".aws/credentials", ".kube/config", ".ssh/id_rsa", ".ssh/id_ecdsa", ".ssh/id_ed25519", ".ssh/id_dsa"]

    /// What a file's first bytes say about it being a secret, or nil.
    public static func secretMark(path: String, prefix: [UInt8]) -> String? {
        if let name = credentialFiles.first(where: { path.hasSuffix("/" + $0) || path == $0 }), !prefix.isEmpty {
            return "credentials file (\(name))"
        }
        guard let begin = prefix.firstRange(of: Array("-----BEGIN ".utf8)) else { return nil }
        let line = prefix[begin.upperBound...].prefix { $0 != 0x0A }.prefix(64)
        return line.firstRange(of: Array("PRIVATE KEY-----".utf8)) == nil ? nil
            : "PEM private key (\(String(decoding: line.dropLast(5), as: UTF8.self)))"
    }

    /// Reads and audits the platform manifest `manifest` in `layout`.
    public func audit(_ manifest: Descriptor, in layout: ImageLayout, reference: String) throws -> AuditReport {
        let contents = try Self.contents(of: manifest, in: layout, reference: reference)
        return audit(contents, scan: try scan(contents, in: layout, target: reference), in: layout, reference: reference)
    }

    /// Audits what was read of a platform image (`contents`, and its `scan` when there is one).
    public func audit(_ contents: ImageContents, scan: ScanReport?, in layout: ImageLayout, reference: String) -> AuditReport {
        let (user, userCheck) = Self.userCheck(contents)
        let checks = [userCheck] + hardeningChecks(contents) + [packagesCheck(contents), vulnerabilityCheck(scan, contents)]
            + evidenceChecks(contents.manifest, in: layout, reference: reference)
        return AuditReport(image: reference, digest: contents.manifest.digest.description,
                           platform: (contents.manifest.platform ?? contents.config.platform).description,
                           user: user, figures: Self.figures(contents, vulnerabilities: scan?.findings), checks: checks,
                           grade: AuditReport.grade(checks))
    }

    /// The merged filesystem and inventory of a platform manifest, files sniffed for secrets.
    public static func contents(of manifest: Descriptor, in layout: ImageLayout, reference: String) throws -> ImageContents {
        try ImageContents.read(manifest: manifest, from: layout, imageName: ImageReference.shortName(of: reference), sniff: secretMark)
    }

    /// The counts of `contents`, with the findings' severities when there are findings.
    public static func figures(_ contents: ImageContents, vulnerabilities: [Finding]?) -> ImageFigures {
        let files = contents.entries.filter { $0.kind == .file }
        return ImageFigures(packages: contents.inventory?.packages.count ?? 0, files: files.count,
                            executables: files.filter(\.isExecutable).count, setIDFiles: files.filter(\.isSetID).count,
                            bytes: files.reduce(0) { $0 + $1.size }, compressedBytes: contents.layerBytes,
                            vulnerabilities: vulnerabilities.map { Dictionary(grouping: $0, by: { $0.severity.rawValue }).mapValues(\.count) })
    }

    /// The user the image runs as: the config's `User`, names looked up in its /etc/passwd.
    static func userCheck(_ contents: ImageContents) -> (String, AuditCheck) {
        let user = contents.config.config?.User ?? ""
        switch ImageVerifier.uid(ofUser: user, passwd: { contents.passwd }) {
        case nil: return (user, AuditCheck("user", .fail, "user '\(user)' is not in the image's /etc/passwd"))
        case 0?: return (user.isEmpty ? "root" : user, AuditCheck("user", .fail, "runs as root (User '\(user)')"))
        case let uid?: return (user, AuditCheck("user", .pass, "runs as uid \(uid) (User '\(user)')"))
        }
    }

    private func hardeningChecks(_ contents: ImageContents) -> [AuditCheck] {
        var checks: [AuditCheck] = []
        let shells = contents.existing(ImageVerifier.shells)
        checks.append(shells.isEmpty ? AuditCheck("shell", .pass, "no shell (\(ImageVerifier.shells.count) paths checked)")
            : AuditCheck("shell", .fail, "\(shells.count) shell(s)", items: shells))
        let managers = contents.existing(Self.packageManagers)
        let language = contents.existing(Self.languagePackageManagers)
        checks.append(!managers.isEmpty ? AuditCheck("package-manager", .fail, "\(managers.count) package manager program(s)", items: managers + language)
            : !language.isEmpty ? AuditCheck("package-manager", .warn, "no OS package manager; \(language.count) language package manager(s)", items: language)
            : AuditCheck("package-manager", .pass, "no package manager"))
        let setID = contents.entries.filter(\.isSetID)
        checks.append(setID.isEmpty ? AuditCheck("setuid", .pass, "no setuid or setgid file")
            : AuditCheck("setuid", .fail, "\(setID.count) setuid/setgid file(s)",
                         items: setID.map { "\($0.path) (\(String($0.mode, radix: 8)), owner \($0.uid))" }))
        let writable = contents.entries.filter(\.isWorldWritable)
        let unsafe = writable.filter { !$0.isSticky }
        let sticky = writable.filter(\.isSticky).map(\.path)
        checks.append(unsafe.isEmpty
            ? AuditCheck("world-writable", .pass, sticky.isEmpty ? "nothing world-writable" : "only sticky directories: \(sticky.joined(separator: ", "))")
            : AuditCheck("world-writable", .fail, "\(unsafe.count) world-writable path(s) without the sticky bit",
                         items: unsafe.map { "\($0.path) (\($0.kind.rawValue), \(String($0.mode, radix: 8)))" }))
        let secrets = contents.entries.filter { $0.mark != nil }
        checks.append(secrets.isEmpty ? AuditCheck("secrets", .pass, "no private key or credentials file (\(contents.entries.filter { $0.kind == .file }.count) files read)")
            : AuditCheck("secrets", .fail, "\(secrets.count) file(s) look like private keys or credentials",
                         items: secrets.map { "\($0.path): \($0.mark ?? "")" }))
        return checks
    }

    private func packagesCheck(_ contents: ImageContents) -> AuditCheck {
        guard let inventory = contents.inventory else {
            return AuditCheck("packages", .warn, "no package database: scanners cannot see what is inside (\(contents.inventoryProblem ?? ""))")
        }
        guard inventory.warnings.isEmpty else {
            return AuditCheck("packages", .warn, "\(inventory.packages.count) packages, \(inventory.warnings.count) problem(s) reading them",
                              items: inventory.warnings)
        }
        return AuditCheck("packages", .pass, "\(inventory.packages.count) packages, \(inventory.osName) \(inventory.osVersion)")
    }

    /// The scan of `contents` after VEX (this auditor's documents and, with `key`, the image's own
    /// signed ones); nil without a database or a package inventory.
    public func scan(_ contents: ImageContents, in layout: ImageLayout, target: String) throws -> ScanReport? {
        guard let database, let inventory = contents.inventory else { return nil }
        var documents = vex
        if let key {
            documents += try layout.verifiedStatements(of: contents.manifest.digest, key: key, predicateType: PredicateType.openVEX)
                .map { try VEXDocument.decode($0.predicate, file: "the VEX attestation of \(contents.manifest.digest.short)") }
        }
        return try ImageScan.report(inventory, target: target, database: database, documents: documents)
    }

    private func vulnerabilityCheck(_ report: ScanReport?, _ contents: ImageContents) -> AuditCheck {
        guard let report else {
            return AuditCheck("vulnerabilities", .warn, database == nil ? "not scanned: no vulnerability database (harden db update)"
                                                                          : "not scanned: no package database")
        }
        let findings = report.findings
        let fixable = findings.filter { $0.fixedVersion != nil }
        let serious = findings.filter { $0.severity >= .high }
        let bySeverity = Severity.allCases.reversed().compactMap { severity -> String? in
            let count = findings.filter { $0.severity == severity }.count
            return count == 0 ? nil : "\(count) \(severity.rawValue)"
        }.joined(separator: ", ")
        let suppressed = report.suppressed.isEmpty ? "" : "; \(report.suppressed.count) taken out by VEX"
        let items = findings.sorted { ($0.severity, $1.cve) > ($1.severity, $0.cve) }
            .map { "\($0.cve) \($0.severity.rawValue) \($0.package) \($0.version)" + ($0.fixedVersion.map { " fixed in \($0)" } ?? "") }
        if !fixable.isEmpty {
            return AuditCheck("vulnerabilities", .fail, "\(findings.count) CVEs (\(bySeverity)), \(fixable.count) with a fix: relock (harden update)\(suppressed)", items: items)
        }
        if !serious.isEmpty {
            return AuditCheck("vulnerabilities", .warn, "\(findings.count) CVEs (\(bySeverity)), none fixed yet\(suppressed)", items: items)
        }
        return AuditCheck("vulnerabilities", .pass,
                          findings.isEmpty ? "no known CVE\(suppressed)" : "\(findings.count) CVEs (\(bySeverity)), none high or fixed\(suppressed)",
                          items: items)
    }

    /// Signatures, SBOMs and provenance of the platform manifest: verified with `key` (its blobs
    /// first), else only found.
    private func evidenceChecks(_ manifest: Descriptor, in layout: ImageLayout, reference: String) -> [AuditCheck] {
        let name = manifest.platform?.description ?? manifest.digest.short
        let signatures = (try? layout.signatures(of: manifest.digest).count) ?? 0
        let envelopes = (try? layout.attestationEnvelopes(of: manifest.digest).count) ?? 0
        let attachedSBOMs = ((try? layout.referrers(of: manifest.digest)) ?? [])
            .filter { [MediaType.spdxJSON, MediaType.cycloneDXJSON].contains($0.artifactType ?? "") }.count
        guard let key else {
            let unverified = "not verified: pass --key PUBLIC-KEY"
            return [
                signatures > 0 ? AuditCheck("signature", .warn, "\(signatures) signature(s), \(unverified)") : AuditCheck("signature", .fail, "not signed"),
                envelopes + attachedSBOMs > 0 ? AuditCheck("sbom", .warn, "\(attachedSBOMs) SBOM(s) and \(envelopes) attestation(s) attached, \(unverified)")
                    : AuditCheck("sbom", .fail, "no SBOM attached"),
                envelopes > 0 ? AuditCheck("provenance", .warn, "\(envelopes) attestation(s) attached, \(unverified)")
                    : AuditCheck("provenance", .fail, "no provenance attached"),
            ]
        }
        let report = ImageVerifier(key: key, policy: VerificationPolicy()).verify(manifest, in: layout, reference: reference)
        let integrity = report.checks.first { $0.check == "integrity" && !$0.passed }
        let signature = report.checks.first { $0.check == "signature" && $0.subject == name }
        let verified = Set(report.attestations[name] ?? [])
        func attested(_ check: String, _ types: [String]) -> AuditCheck {
            let found = types.map(PredicateType.shortName).filter(verified.contains)
            return found.isEmpty ? AuditCheck(check, .fail, "no \(check) attestation signed by key \(key.keyID.prefix(16))")
                : AuditCheck(check, .pass, "\(found.joined(separator: ", ")) attestation signed by key \(key.keyID.prefix(16)) and about this image")
        }
        return [
            integrity.map { AuditCheck("signature", .fail, $0.detail) }
                ?? signature.map { AuditCheck("signature", $0.passed ? .pass : .fail, $0.detail) }
                ?? AuditCheck("signature", .fail, "not signed"),
            attested("sbom", [PredicateType.spdx, PredicateType.cycloneDX]),
            attested("provenance", [PredicateType.slsaProvenance]),
        ]
    }
}
