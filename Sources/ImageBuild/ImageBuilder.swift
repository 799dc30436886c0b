import Archive
import Debian
import Foundation
import OCI
import SBOM

/// The two flavours every spec builds.
public enum Variant: String, Sendable, CaseIterable {
    /// Distroless: no shell, no package manager, non-root, hardened.
    case minimal
    /// For building: the same packages plus a shell, apt and dpkg, running as root.
    case dev
    /// The conventional image to compare with, built only by `harden baseline`: the spec's
    /// packages on debian:bookworm-slim's set, unhardened and running as root.
    case baseline

    /// The tag of this variant of a spec's image: `name:tag`, `name:tag-dev`, `name:tag-baseline`.
    public func tag(_ spec: ImageSpec) -> String {
        "\(spec.name):" + tagSuffix(spec)
    }

    /// The tag alone, without the name: `tag`, `tag-dev`, `tag-baseline`.
    public func tagSuffix(_ spec: ImageSpec) -> String {
        self == .minimal ? spec.tag : "\(spec.tag)-\(rawValue)"
    }
}

/// One built image (all architectures of one variant).
public struct BuiltImage: Sendable {
    public var variant: Variant
    /// The tag in the destination (`name:tag` or `name:tag-dev` in the local store).
    public var tag: String
    /// The index over all architectures.
    public var index: Descriptor
    /// Per architecture: the manifest, its package count and uncompressed size.
    public var platforms: [(architecture: String, manifest: Descriptor, packages: Int, uncompressedSize: Int64)]
    /// What hardening changed, per architecture (minimal only).
    public var hardening: [String: [HardeningChange]]
}

/// Errors of a build that are not about a spec, a package or a file tree.
public enum BuildError: Error, Sendable, CustomStringConvertible {
    case noLock(String)
    case missingArchitecture(String)
    /// An architecture was asked for that the spec does not build (the spec's).
    case architectureNotInSpec(String, [String])
    /// The isolated build child could still reach the signing key (what it reached).
    case notIsolated(String)
    /// The isolated build child exited with this status (its own error is on standard error).
    case childFailed(Int32)
    /// What the build child left behind does not hold up to the control plane's checks.
    case untrustedResult(String)

    public var description: String {
        switch self {
        case .noLock(let reason): reason
        case .missingArchitecture(let arch): "the lock has no packages for \(arch): run 'harden lock' again"
        case .architectureNotInSpec(let arch, let archs): "the spec builds \(archs.joined(separator: ", ")), not \(arch)"
        case .notIsolated(let reached): "the build child is not isolated from the signing key, refusing to build: \(reached)"
        case .childFailed(let status): "the isolated build step failed (exit status \(status))"
        case .untrustedResult(let reason): "the build child's output is not trusted: \(reason)"
        }
    }
}

/// Builds hardened images from a spec and its lock: fetch verified .debs, assemble each variant
/// and architecture in memory, harden, write deterministic layers, and store the result.
public struct ImageBuilder: Sendable {
    public var client: RepositoryClient
    public var progress: @Sendable (String) -> Void
    /// `SOURCE_DATE_EPOCH`; nil derives it from the lock (the newest Release date).
    public var epoch: Int64?
    public var compression: Compression
    /// Build only these variants (nil: minimal and, unless the spec disables it, dev).
    public var only: Variant?
    /// Build only these of the spec's architectures (nil: all of them), e.g. for one CI job each.
    public var architectures: [String]?

    /// The annotation of every index and manifest that names the lock it was built from
    /// (`LockFile.digest()`): a catalog build rebuilds an image only when its lock's differs.
    public static let lockAnnotation = "dev.harden.lock.digest"

    public init(client: RepositoryClient = RepositoryClient(), epoch: Int64? = nil, compression: Compression = .gzip,
                only: Variant? = nil, architectures: [String]? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.epoch = epoch
        self.compression = compression
        self.only = only
        self.architectures = architectures
        self.progress = progress
    }

    /// Reads the spec, uses its lock (writing one first if there is none), and builds every
    /// variant into `layout` (a staging or final store). Nothing is tagged until all succeed.
    public func build(specPath: String, lockPath: String? = nil, into layout: ImageLayout) async throws -> [BuiltImage] {
        let specBytes = try wrapSpecRead(specPath)
        let spec = try ImageSpec(yaml: String(decoding: specBytes, as: UTF8.self), file: specPath)
        let lockFile = lockPath ?? LockFile.path(forSpec: specPath)
        let lock: LockFile
        if FileSystem.exists(lockFile) {
            lock = try LockFile.read(lockFile)
            try lock.check(specSHA256: sha256Hex(specBytes), specPath: specPath)
            progress("using \(lockFile)")
        } else {
            progress("no lock yet: resolving \(specPath)")
            lock = try await PackageLocker(client: client).lock(spec, specPath: specPath, specBytes: specBytes, progress: progress)
            try lock.write(to: lockFile)
            progress("wrote \(lockFile)")
        }
        return try await build(spec: spec, lock: lock, into: layout)
    }

    /// Builds from a parsed spec and a lock that matches it.
    public func build(spec: ImageSpec, lock: LockFile, into layout: ImageLayout) async throws -> [BuiltImage] {
        let archs = try Self.selected(architectures, of: spec)
        for arch in archs where lock.packages[arch] == nil { throw BuildError.missingArchitecture(arch) }
        let possible: [Variant] = spec.dev.enabled ? [.minimal, .dev] : [.minimal]
        let variants = possible.filter { only == nil || $0 == only }
        if variants.isEmpty { throw BuildError.noLock("the spec disables the dev variant") }
        if variants.contains(.dev) {
            for arch in archs where lock.variants?["dev"]?[arch] == nil {
                throw BuildError.noLock("the lock has no dev packages for \(arch): run 'harden lock' again")
            }
        }
        let sets = variants.map { variant in
            (variant, archs.map { arch in (arch, (variant == .dev ? lock.variants?["dev"]?[arch] : lock.packages[arch]) ?? []) })
        }
        return try await assemble(sets, spec: spec, lock: lock, into: layout)
    }

    /// An index's annotations from its platform manifests' (all alike but for the licences): the
    /// first platform's, with the licences of every platform, each platform's expression once.
    /// An index assembled later from the platform manifests alone (`catalog publish`) is so byte
    /// for byte the one a whole build writes.
    public static func indexAnnotations(_ platforms: [[String: String]]) -> [String: String] {
        let key = "org.opencontainers.image.licenses"
        var result = platforms.first ?? [:]
        let licenses = Set(platforms.compactMap { $0[key] })
        result[key] = licenses.isEmpty ? nil : licenses.sorted().joined(separator: " AND ")
        return result
    }

    /// `requested` (in the spec's order), each checked to be one of the spec's; all when nil.
    public static func selected(_ requested: [String]?, of spec: ImageSpec) throws -> [String] {
        guard let requested else { return spec.archs }
        for arch in requested where !spec.archs.contains(arch) { throw BuildError.architectureNotInSpec(arch, spec.archs) }
        return spec.archs.filter(requested.contains)
    }

    /// Fetches every .deb of `sets` once, verified, and assembles each variant from its packages
    /// per architecture (in the order given).
    func assemble(_ sets: [(Variant, [(String, [LockFile.Package])])], spec: ImageSpec, lock: LockFile,
                  into layout: ImageLayout) async throws -> [BuiltImage] {
        let epoch = try self.epoch ?? lockEpoch(lock)
        let lockDigest = try lock.digest()
        let all = sets.flatMap { _, byArch in byArch.flatMap(\.1) }
        let progress = self.progress
        let fetcher = PackageFetcher(http: client.http, cache: client.cache)
        let debs = try await fetcher.fetch(all) { done, total, bytes in
            if done == total || done % 25 == 0 { progress("fetched \(done)/\(total) packages (\(bytes / 1024) KiB)") }
        }
        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-build")
        defer { try? FileSystem.remove(scratch) }

        var results: [BuiltImage] = []
        for (variant, byArch) in sets {
            // Architectures in parallel: each assembles and compresses on its own core.
            let platforms = try await withThrowingTaskGroup(of: (Int, PlatformBuild).self) { group in
                for (position, (arch, packages)) in byArch.enumerated() {
                    group.addTask {
                        let assembler = Assembler(spec: spec, variant: variant, architecture: arch, epoch: epoch, lockDigest: lockDigest,
                                                  scratch: scratch, compression: compression, progress: progress)
                        return (position, try assembler.build(packages: packages, debs: debs, into: layout))
                    }
                }
                var collected: [(Int, PlatformBuild)] = []
                for try await item in group { collected.append(item) }
                return collected.sorted { $0.0 < $1.0 }.map(\.1)
            }
            let index = try layout.writeIndex(of: platforms.map(\.manifest),
                                              annotations: Self.indexAnnotations(platforms.map(\.annotations)))
            results.append(BuiltImage(variant: variant, tag: variant.tag(spec), index: index,
                                      platforms: platforms.map { ($0.architecture, $0.manifest, $0.packageCount, $0.uncompressedSize) },
                                      hardening: Dictionary(uniqueKeysWithValues: platforms.map { ($0.architecture, $0.hardening) })))
        }
        return results
    }

    /// The newest Release date in the lock: the same lock gives the same epoch anywhere.
    private func lockEpoch(_ lock: LockFile) throws -> Int64 {
        let dates = lock.releases.compactMap { release -> Int64? in
            let t = release.date
            guard t.count == 20 else { return nil }
            let parts = t.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int64($0) }
            guard parts.count == 6 else { return nil }
            return UTCTime.days(year: parts[0], month: parts[1], day: parts[2]) * 86_400 + parts[3] * 3600 + parts[4] * 60 + parts[5]
        }
        guard let newest = dates.max() else { throw BuildError.noLock("the lock records no Release dates to derive an epoch from; set SOURCE_DATE_EPOCH") }
        return newest
    }

    private func wrapSpecRead(_ path: String) throws -> [UInt8] {
        do { return try FileSystem.read(path, limit: 4 << 20) } catch { throw SpecError(file: path, line: nil, message: "cannot read: \(error)") }
    }
}

/// One architecture of one variant, built.
struct PlatformBuild: Sendable {
    var architecture: String
    var manifest: Descriptor
    var packageCount: Int
    var uncompressedSize: Int64
    var hardening: [HardeningChange]
    /// The manifest's annotations.
    var annotations: [String: String]
}

/// Assembles one variant for one architecture.
struct Assembler: Sendable {
    let spec: ImageSpec
    let variant: Variant
    let architecture: String
    let epoch: Int64
    /// The lock's digest, recorded in every manifest and index (`Assembler.lockAnnotation`).
    let lockDigest: String
    let scratch: String
    let compression: Compression
    let progress: @Sendable (String) -> Void

    func build(packages: [LockFile.Package], debs: [String: String], into layout: ImageLayout) throws -> PlatformBuild {
        let root = RootFS(spool: try ContentSpool(directory: scratch), epoch: epoch)
        var installed: [InstalledPackage] = []
        for package in packages {
            guard let deb = debs[package.sha256] else { throw AssemblyError.invalidPackage(package: package.name, reason: "not fetched") }
            installed.append(try DebUnpacker.unpack(deb, package: package.name, into: root))
        }
        let label = "\(spec.name) \(variant.rawValue) \(architecture)"
        progress("\(label): unpacked \(installed.count) packages, \(root.nodes.count) paths")

        // What the maintainer scripts would have done.
        let rootShell = variant == .minimal ? "/sbin/nologin" : "/bin/bash"
        try SystemFiles.writeAccounts(spec.accounts, rootShell: rootShell, into: root)
        try SystemFiles.writeOSRelease(overrides: spec.osRelease, into: root)
        let hasCABundle = try SystemFiles.writeCABundle(into: root)
        try SystemFiles.writeTimezone(into: root)
        let alternatives = SystemFiles.writeAlternatives(installed, into: root)
        if !alternatives.isEmpty { progress("\(label): alternatives \(alternatives.joined(separator: ", "))") }
        try applyPaths(root)

        var hardening: [HardeningChange] = []
        switch variant {
        case .minimal:
            hardening = Hardening.minimal(root)
            try SystemFiles.writeStatusD(installed, into: root)
            let counts = Dictionary(grouping: hardening, by: \.pass).mapValues(\.count)
            progress("\(label): hardening " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        case .dev, .baseline:
            try SystemFiles.writeDpkgDatabase(installed, architecture: architecture, into: root)
        }

        let licenses = Licenses.derive(installed, root: root)
        let layers = try writeLayers(root, installed: installed, into: layout)
        let config = imageConfig(hasCABundle: hasCABundle)
        let annotations = Self.annotations(spec: spec, epoch: epoch, lockDigest: lockDigest, licenses: Set(licenses))
        var manifest = try layout.writeImage(config: config, layers: layers.map(\.stored), annotations: annotations)
        manifest.platform = Platform(architecture: architecture, variant: architecture == "arm64" ? "v8" : nil)
        try attachSBOMs(to: manifest, packages: packages, layout: layout, label: label)
        let size = root.nodes.values.reduce(Int64(0)) { $0 + $1.size }
        progress("\(label): \(layers.count) layer(s), \(formatBytes(size)) uncompressed, \(formatBytes(layers.reduce(0) { $0 + $1.stored.descriptor.size })) compressed, manifest \(manifest.digest.short)")
        return PlatformBuild(architecture: architecture, manifest: manifest, packageCount: installed.count, uncompressedSize: size,
                             hardening: hardening, annotations: annotations)
    }

    /// SPDX 2.3 and CycloneDX 1.6 documents of the image, read back from its own layers (as any
    /// image would be), with the lock's .deb hashes, attached as referrers of the manifest.
    private func attachSBOMs(to manifest: Descriptor, packages: [LockFile.Package], layout: ImageLayout, label: String) throws {
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: spec.name)
        for warning in inventory.warnings { progress("\(label): SBOM warning: \(warning)") }
        let hashes = Dictionary(packages.map { ("\($0.name):\($0.architecture)", $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let annotations = ["org.opencontainers.image.created": UTCTime.rfc3339(epoch)]
        for (bytes, type) in [(try SPDXWriter.write(inventory, sha256ByPackage: hashes), MediaType.spdxJSON),
                              (try CycloneDXWriter.write(inventory), MediaType.cycloneDXJSON)] {
            let blob = try layout.writeBlob(bytes, mediaType: type)
            try layout.attach(blob, artifactType: type, to: manifest, annotations: annotations)
        }
    }

    /// The spec's `paths:` changes, applied after packages and generated files.
    private func applyPaths(_ root: RootFS) throws {
        for change in spec.paths {
            // Resolve the parent through symlinks (e.g. /var/run -> /run) so nothing is written below a link.
            let merged = RootFS.merged(String(change.path.dropFirst()))
            let parent = FileSystem.parentPath(merged)
            let name = String(merged.split(separator: "/").last ?? Substring(merged))
            let resolvedParent = parent.isEmpty ? "" : (root.resolve(parent) ?? parent)
            let path = resolvedParent.isEmpty ? name : resolvedParent + "/" + name
            switch change.kind {
            case .directory:
                root.makeDirectory(path, mode: change.mode ?? 0o755, uid: change.uid ?? 0, gid: change.gid ?? 0)
            case .file:
                try root.writeFile(path, Array((change.contents ?? "").utf8), mode: change.mode ?? 0o644, uid: change.uid ?? 0, gid: change.gid ?? 0)
            case .symlink:
                root.makeSymlink(path, to: change.target ?? "")
            case .permissions:
                guard var node = root[path] else { throw AssemblyError.invalidPath(change.path, reason: "paths: permissions for a path that does not exist") }
                if let mode = change.mode { node.mode = mode }
                if let uid = change.uid { node.uid = uid }
                if let gid = change.gid { node.gid = gid }
                root.set(path, node)
            }
        }
    }

    struct Layer { var stored: StoredLayer }

    /// One layer, or with `layering: packages` one layer for each of the largest packages
    /// (most shared first) and a last layer with the rest and what Harden generated.
    private func writeLayers(_ root: RootFS, installed: [InstalledPackage], into layout: ImageLayout) throws -> [Layer] {
        let all = root.sortedPaths
        guard spec.layering.strategy == .packages, spec.layering.max > 1 else {
            return [Layer(stored: try layout.writeLayer(compression: compression) { try root.write(to: $0, paths: all) })]
        }
        var owner: [String: String] = [:]
        for path in all { if let package = root[path]?.package, root[path]?.kind != .directory { owner[path] = package } }
        var sizes: [String: Int64] = [:]
        for (path, package) in owner { sizes[package, default: 0] += root[path]?.size ?? 0 }
        let own = installed.map(\.name).filter { (sizes[$0] ?? 0) > 0 }
            .sorted { (sizes[$0] ?? 0, $1) > (sizes[$1] ?? 0, $0) }
            .prefix(spec.layering.max - 1)
        var layers: [Layer] = []
        var placed: Set<String> = []
        for package in own.sorted() {
            let files = all.filter { owner[$0] == package }
            // Each layer carries the directories above its files, so it stands alone.
            var withParents = Set(files)
            for file in files {
                var parent = FileSystem.parentPath(file)
                while !parent.isEmpty && parent != "/" { withParents.insert(parent); parent = FileSystem.parentPath(parent) }
            }
            let paths = withParents.sorted(by: TarPath.canonicallyPrecedes)
            layers.append(Layer(stored: try layout.writeLayer(compression: compression) { try root.write(to: $0, paths: paths) }))
            placed.formUnion(files)
        }
        let rest = all.filter { !placed.contains($0) }
        layers.append(Layer(stored: try layout.writeLayer(compression: compression) { try root.write(to: $0, paths: rest) }))
        return layers
    }

    private func imageConfig(hasCABundle: Bool) -> ImageConfiguration {
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        if hasCABundle { env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt" }
        env.merge(spec.env) { $1 }
        let user: String
        var entrypoint = spec.entrypoint
        var cmd = spec.cmd
        switch variant {
        case .minimal:
            user = numericUser(spec.accounts.runAs)
        case .dev:
            user = numericUser(spec.dev.user)
            if let devEntrypoint = spec.dev.entrypoint { entrypoint = devEntrypoint }
            if let devCmd = spec.dev.cmd { cmd = devCmd }
            if entrypoint == nil && cmd == nil { cmd = ["/bin/bash"] }
        case .baseline:
            user = "0:0"
            if entrypoint == nil && cmd == nil { cmd = ["/bin/bash"] }
        }
        let created = UTCTime.rfc3339(epoch)
        return ImageConfiguration(
            architecture: architecture, variant: architecture == "arm64" ? "v8" : nil, created: created,
            config: .init(User: user, Env: env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
                          Entrypoint: entrypoint, Cmd: cmd, WorkingDir: spec.workdir,
                          Labels: spec.labels.isEmpty ? nil : spec.labels, StopSignal: spec.stopSignal),
            rootfs: .init(diffIDs: []),
            history: [.init(created: created, createdBy: "harden build \(spec.name) (\(variant.rawValue))",
                            comment: "Debian \(spec.debian) packages, assembled and hardened by Harden")])
    }

    /// `uid:gid` for a user named in the spec (Kubernetes' runAsNonRoot needs numbers).
    private func numericUser(_ name: String) -> String {
        if name == "root" { return "0:0" }
        if let user = spec.accounts.users.first(where: { $0.name == name }) { return "\(user.uid):\(user.gid)" }
        return name
    }

    static func annotations(spec: ImageSpec, epoch: Int64, lockDigest: String, licenses: Set<String>) -> [String: String] {
        var result = [
            ImageBuilder.lockAnnotation: lockDigest,
            "org.opencontainers.image.created": UTCTime.rfc3339(epoch),
            "org.opencontainers.image.title": spec.name,
            "org.opencontainers.image.version": spec.tag,
            "org.opencontainers.image.base.name": "scratch",
            "org.opencontainers.image.vendor": "Harden",
        ]
        if let description = spec.description { result["org.opencontainers.image.description"] = description }
        if !licenses.isEmpty { result["org.opencontainers.image.licenses"] = licenses.sorted().joined(separator: " AND ") }
        result.merge(spec.annotations) { $1 }
        return result
    }
}
