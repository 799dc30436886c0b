import Archive
import Attestation
import Debian
import Foundation
import ImageBuild
import OCI
import Policy
import SBOM
import VEX
import Vulnerability

/// A catalog problem that stops the whole build, in one line.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Builds every spec of a catalog into one store, several at once, and reports on each image:
/// its audit, its evidence, and its reduction against its conventional baseline. An image whose
/// tags already name its lock's digest (`ImageBuilder.lockAnnotation`) is reused, not rebuilt:
/// a catalog build with nothing changed writes nothing and keeps every digest.
public struct CatalogBuilder: Sendable {
    /// What signed builds need: the key, its file (hidden from the build child) and our binary.
    public struct Signing: Sendable {
        public var key: SigningKey
        public var keyPath: String
        public var executable: String
        public init(key: SigningKey, keyPath: String, executable: String) {
            self.key = key
            self.keyPath = keyPath
            self.executable = executable
        }
    }

    public var store: ImageLayout
    public var signing: Signing?
    /// The key the images' signatures and attestations are verified with (the signing key's
    /// public half when there is one).
    public var verificationKey: VerificationKey?
    public var database: VulnerabilityDatabase?
    public var compression: Compression
    /// How many specs build at once (each builds its architectures in parallel too).
    public var jobs: Int
    /// Whether each image's baseline is built (once per baseline lock) and compared.
    public var baselines: Bool
    public var client: RepositoryClient
    public var builderVersion: String
    /// Statements derived from vulnerability data, attested with signed builds (as `harden build`).
    public var derivedVEX: (@Sendable (ImageInventory, PURL) throws -> [VEXStatement])?
    public var progress: @Sendable (String) -> Void
    /// Signed builds run one at a time: a finished build child's clean-up ends every process
    /// in another user namespace, which would include a second child.
    private let signedBuilds = AsyncGate()

    public init(store: ImageLayout, signing: Signing? = nil, verificationKey: VerificationKey? = nil,
                database: VulnerabilityDatabase? = nil, compression: Compression = .gzip,
                jobs: Int = ProcessInfo.processInfo.activeProcessorCount, baselines: Bool = true, client: RepositoryClient = RepositoryClient(),
                builderVersion: String, derivedVEX: (@Sendable (ImageInventory, PURL) throws -> [VEXStatement])? = nil,
                progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.signing = signing
        self.verificationKey = verificationKey ?? signing?.key.publicKey
        self.database = database
        self.compression = compression
        self.jobs = max(1, jobs)
        self.baselines = baselines
        self.client = client
        self.builderVersion = builderVersion
        self.derivedVEX = derivedVEX
        self.progress = progress
    }

    /// The specs of a catalog directory: every `*.yaml` in it, sorted.
    public static func specs(in directory: String) throws -> [String] {
        let names = try FileSystem.listDirectory(directory).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        guard !names.isEmpty else { throw CatalogError("\(directory) holds no image spec (*.yaml)") }
        return names.map { directory + "/" + $0 }
    }

    /// Builds (or reuses) every spec, then writes the report and its documents into
    /// `reportDirectory` when given. An image that fails is in the report with its problem.
    public func build(specs: [String], reportDirectory: String? = nil) async throws -> CatalogReport {
        if let reportDirectory { try FileSystem.createDirectory(reportDirectory + "/documents") }
        var images: [CatalogReport.Image] = []
        try await withThrowingTaskGroup(of: CatalogReport.Image.self) { group in
            var pending = specs[...]
            func startNext() {
                guard let spec = pending.popFirst() else { return }
                group.addTask { await self.image(spec, reportDirectory: reportDirectory) }
            }
            for _ in 0..<jobs { startNext() }
            while let image = try await group.next() {
                images.append(image)
                startNext()
            }
        }
        let feeds = (try? database?.feeds()) ?? nil
        let report = CatalogReport(
            generated: UTCTime.rfc3339(Int64(Date().timeIntervalSince1970)), builder: "harden \(builderVersion)",
            signedBy: verificationKey?.keyID,
            vulnerabilityData: feeds.map { "CVEs after VEX from \($0.map(\.name).joined(separator: ", "))." }
                ?? "No vulnerability database: CVEs not counted ('harden db update').",
            images: images.sorted { $0.name < $1.name })
        if let reportDirectory {
            try FileSystem.writeAtomically(reportDirectory + "/catalog.json", bytes: try report.json())
            try FileSystem.writeAtomically(reportDirectory + "/catalog.md", bytes: Array(report.markdown().utf8))
            try FileSystem.writeAtomically(reportDirectory + "/index.html", bytes: Array(CatalogPage.html(report).utf8))
        }
        return report
    }

    /// One spec: built or reused, audited, compared with its baseline and its previous release.
    private func image(_ specPath: String, reportDirectory: String?) async -> CatalogReport.Image {
        let fallbackName = String(specPath.split(separator: "/").last ?? Substring(specPath)).replacingOccurrences(of: ".yaml", with: "")
        var entry = CatalogReport.Image(name: fallbackName, status: "failed", variants: [], problems: [])
        let spec: ImageSpec
        do { spec = try ImageSpec(contentsOf: specPath) } catch {
            entry.problems.append("\(error)")
            return entry
        }
        entry.name = spec.name
        entry.description = spec.description
        let variants: [Variant] = spec.dev.enabled ? [.minimal, .dev] : [.minimal]
        let previous = variants.map { try? store.resolve(tag: $0.tag(spec)) }
        let indexes: [Descriptor]
        do {
            let lockDigest = try currentLockDigest(specPath)
            if let lockDigest, try previous.allSatisfy({ try $0.map { try self.lockDigest(of: $0) == lockDigest } ?? false }) {
                indexes = previous.compactMap { $0 }
                entry.status = "unchanged"
                progress("\(spec.name): unchanged (lock \(lockDigest.dropFirst(7).prefix(12))), reused")
            } else {
                indexes = try await build(specPath, spec: spec)
                entry.status = previous[0] == nil ? "built" : previous[0]?.digest == indexes[0].digest ? "unchanged" : "rebuilt"
            }
            entry.lockDigest = try currentLockDigest(specPath)
        } catch {
            entry.problems.append("build: \(error)")
            return entry
        }
        let compared = spec.archs.contains(Platform.hostArchitecture) ? Platform.hostArchitecture : spec.archs[0]
        entry.comparedArchitecture = compared
        let auditor = Auditor(database: database, key: verificationKey)
        var minimalContents: ImageContents?
        var minimalScan: ScanReport?
        for (variant, index) in zip(variants, indexes) {
            var reported = CatalogReport.Variant(variant: variant.rawValue, tag: variant.tag(spec), digest: index.digest.description, platforms: [])
            do {
                for manifest in try ImageGraph.manifests(under: index, in: store) {
                    let architecture = manifest.platform?.architecture ?? ""
                    let contents = try Auditor.contents(of: manifest, in: store, reference: reported.tag)
                    let scan = try auditor.scan(contents, in: store, target: reported.tag)
                    let audit = auditor.audit(contents, scan: scan, in: store, reference: reported.tag)
                    if let problem = contents.inventoryProblem { entry.problems.append("\(reported.tag) \(architecture): \(problem)") }
                    if variant == .minimal && architecture == compared { (minimalContents, minimalScan) = (contents, scan) }
                    let documents = variant == .minimal && reportDirectory != nil
                        ? try writeDocuments(of: manifest, name: "\(spec.name)-\(variant.rawValue)-\(architecture)", into: reportDirectory ?? "") : [:]
                    reported.platforms.append(CatalogReport.Platform(
                        architecture: architecture, manifest: manifest.digest.description, grade: audit.grade, hardened: audit.hardened,
                        figures: audit.figures,
                        findings: Dictionary(audit.checks.filter { $0.status != .pass }.map { ($0.check, "\($0.status.rawValue): \($0.detail)") },
                                             uniquingKeysWith: { first, _ in first }),
                        evidence: Dictionary(audit.checks.filter { ["signature", "sbom", "provenance"].contains($0.check) }.map { ($0.check, $0.status.rawValue) },
                                             uniquingKeysWith: { first, _ in first }),
                        documents: documents))
                }
            } catch {
                entry.problems.append("\(reported.tag): \(error)")
            }
            entry.variants.append(reported)
        }
        if baselines, let minimalContents {
            do {
                let (baseline, contents, scan) = try await baseline(specPath, spec: spec, architecture: compared, auditor: auditor)
                entry.baseline = baseline
                entry.reduction = ImageDiff(from: (baseline.tag, contents, scan), to: (spec.name, minimalContents, minimalScan)).reduction
            } catch {
                entry.problems.append("baseline: \(error)")
            }
        }
        if let old = previous[0], old.digest != indexes.first?.digest, let minimalContents {
            do {
                let manifest = try ImageGraph.manifest(for: Platform(architecture: compared), under: old, in: store)
                let contents = try Auditor.contents(of: manifest, in: store, reference: spec.name)
                let diff = ImageDiff(from: (old.digest.description, contents, try auditor.scan(contents, in: store, target: spec.name)),
                                     to: (spec.name, minimalContents, minimalScan))
                entry.previous = CatalogReport.Release(digest: old.digest.description, packagesChanged: diff.changed + diff.added + diff.removed,
                                                       cvesFixed: diff.cvesFixed, cvesAdded: diff.cvesAdded)
            } catch {
                entry.problems.append("previous release \(old.digest.short): \(error)")
            }
        }
        return entry
    }

    /// The digest of the spec's lock, when it has one that matches the spec; nil when it has none
    /// (the build writes it). A lock older than its spec stops this image: relock it first.
    private func currentLockDigest(_ specPath: String) throws -> String? {
        let path = LockFile.path(forSpec: specPath)
        guard FileSystem.exists(path) else { return nil }
        let lock = try LockFile.read(path)
        try lock.check(specSHA256: sha256Hex(try FileSystem.read(specPath, limit: 4 << 20)), specPath: specPath)
        return try lock.digest()
    }

    private func lockDigest(of index: Descriptor) throws -> String? {
        try store.readDocument(ImageIndex.self, index, kind: "image index").annotations?[ImageBuilder.lockAnnotation]
    }

    /// Builds every variant of the spec (signed when there is a key) and stores it under its tags.
    private func build(_ specPath: String, spec: ImageSpec) async throws -> [Descriptor] {
        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-catalog")
        defer { try? FileSystem.remove(scratch) }
        let label = spec.name
        let progress = self.progress
        let log: @Sendable (String) -> Void = { progress("\(label): \($0)") }
        let staging: ImageLayout
        let images: [BuiltImage]
        if let signing {
            let build = SignedBuild(key: signing.key, specPath: specPath, lockPath: nil, compression: compression, variant: nil, epoch: nil,
                                    hidden: [signing.keyPath], executable: signing.executable, builderVersion: builderVersion,
                                    derivedVEX: derivedVEX, progress: log)
            (staging, images) = try await signedBuilds.run { try await build.run(scratch: scratch) }
        } else {
            staging = try ImageLayout.create(at: scratch + "/layout")
            images = try await ImageBuilder(client: client, compression: compression, progress: log).build(specPath: specPath, into: staging)
        }
        let ordered = images.sorted { $0.variant == .minimal && $1.variant != .minimal }
        for image in ordered {
            try store.copyImage(image.index, from: staging, tag: image.tag)
            try store.copyAttachments(of: image.index, from: staging)
            progress("\(image.tag): \(image.index.digest.short) stored")
        }
        return ordered.map(\.index)
    }

    /// The spec's baseline, reused when the store's names its baseline lock, else built; audited
    /// on `architecture`.
    private func baseline(_ specPath: String, spec: ImageSpec, architecture: String, auditor: Auditor) async throws
        -> (CatalogReport.Baseline, ImageContents, ScanReport?) {
        let tag = Variant.baseline.tag(spec)
        var index = try? store.resolve(tag: tag)
        let lockPath = Baseline.lockPath(forSpec: specPath)
        // The stored baseline is reused while it names a baseline lock that still matches the spec.
        var reusable = false
        if let index, FileSystem.exists(lockPath) {
            let lock = try LockFile.read(lockPath)
            let fresh = (try? lock.check(specSHA256: sha256Hex(try FileSystem.read(specPath, limit: 4 << 20)), specPath: specPath)) != nil
            reusable = try fresh && lockDigest(of: index) == lock.digest()
        }
        if !reusable {
            let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-baseline")
            defer { try? FileSystem.remove(scratch) }
            let staging = try ImageLayout.create(at: scratch + "/layout")
            let label = spec.name
            let progress = self.progress
            let image = try await ImageBuilder(client: client, compression: compression, progress: { progress("\(label) baseline: \($0)") })
                .buildBaseline(specPath: specPath, into: staging)
            try store.copyImage(image.index, from: staging, tag: tag)
            try store.copyAttachments(of: image.index, from: staging)
            index = image.index
        }
        guard let index else { throw CatalogError("no baseline image") }
        let manifest = try ImageGraph.manifest(for: Platform(architecture: architecture), under: index, in: store)
        let contents = try Auditor.contents(of: manifest, in: store, reference: tag)
        let scan = try auditor.scan(contents, in: store, target: tag)
        let audit = Auditor(database: database).audit(contents, scan: scan, in: store, reference: tag)
        let failed = audit.checks.filter { AuditCheck.hardening.contains($0.check) && $0.status == .fail }.map(\.check)
        return (CatalogReport.Baseline(tag: tag, digest: index.digest.description, architecture: architecture, grade: audit.grade,
                                       figures: audit.figures, failed: failed), contents, scan)
    }

    /// The SBOMs attached to `manifest`, and with a key its verified provenance and VEX, as files
    /// in `directory/documents`; returns kind → path relative to `directory`.
    private func writeDocuments(of manifest: Descriptor, name: String, into directory: String) throws -> [String: String] {
        var documents: [String: String] = [:]
        func save(_ kind: String, _ bytes: [UInt8]) throws {
            let relative = "documents/\(name).\(kind).json"
            try FileSystem.writeAtomically(directory + "/" + relative, bytes: bytes)
            documents[kind] = relative
        }
        for referrer in try store.referrers(of: manifest.digest) {
            let kind: String
            switch referrer.artifactType {
            case MediaType.spdxJSON?: kind = "spdx"
            case MediaType.cycloneDXJSON?: kind = "cyclonedx"
            default: continue
            }
            let artifact = try store.readDocument(ImageManifest.self, referrer, kind: "SBOM artifact")
            guard let layer = artifact.layers.first else { continue }
            try save(kind, try store.readBlob(layer, limit: 256 << 20))
        }
        if let key = verificationKey {
            for (kind, type) in [("provenance", PredicateType.slsaProvenance), ("vex", PredicateType.openVEX)] {
                if let statement = try store.verifiedStatements(of: manifest.digest, key: key, predicateType: type).first {
                    try save(kind, statement.predicate)
                }
            }
        }
        return documents
    }
}

/// Runs one body at a time, in the order they arrived (an async mutex).
actor AsyncGate {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
