import Archive
import Attestation
import Debian
import Foundation
import ImageBuild
import OCI
import Registry

/// A catalog build split into jobs any CI engine can run side by side: one per image, variant
/// and architecture, each building its platform manifest from the lock and pushing it to the
/// registry, which is the shared store; then one `catalog publish` that assembles the indexes.
/// Its JSON Schema is docs/catalog-plan.schema.json.
public struct CatalogPlan: Sendable, Codable {
    public static let schemaID = "https://harden.dev/schemas/catalog-plan/v1"

    public var schema: String
    /// The catalog directory the commands name.
    public var catalog: String
    /// REGISTRY/PREFIX: images go to PREFIX/NAME:TAG.
    public var registry: String
    public var jobs: [Job]
    /// The command of the final job, after every job that rebuilds.
    public var publish: [String]

    public struct Job: Sendable, Codable, Equatable {
        /// `NAME-VARIANT-ARCH`, unique in the plan.
        public var id: String
        public var image: String
        public var spec: String
        public var lock: String
        public var lockDigest: String
        public var variant: String
        public var architecture: String
        /// Where the job's platform manifest goes (REGISTRY/PREFIX/NAME:TAG[-dev]-ARCH).
        public var target: String
        /// False when the registry already holds a platform manifest built from this lock.
        public var rebuild: Bool
        public var reason: String
        public var command: [String]
    }

    /// The number of jobs that must run.
    public var rebuilds: Int { jobs.filter(\.rebuild).count }

    /// GitHub Actions' matrix: `strategy: matrix: ${{ fromJSON(...) }}`, one entry per job with
    /// its command as one shell line (`if: matrix.rebuild` skips the others).
    public func githubActions() throws -> String {
        struct Entry: Encodable {
            var id, image, variant, architecture, lockDigest, command: String
            var rebuild: Bool
        }
        struct Matrix: Encodable { var include: [Entry] }
        let entries = jobs.map { Entry(id: $0.id, image: $0.image, variant: $0.variant, architecture: $0.architecture, lockDigest: $0.lockDigest,
                                      command: $0.command.map(Self.shellQuoted).joined(separator: " "), rebuild: $0.rebuild) }
        return String(decoding: try CanonicalJSON.encode(Matrix(include: entries)), as: UTF8.self)
    }

    /// A word for a POSIX shell: as it is when it is safe, else in single quotes.
    static func shellQuoted(_ word: String) -> String {
        let safe = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./:=@%+,$".unicodeScalars.contains($0) }
        return safe && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The tag a job pushes its platform manifest to: `tag-arch`, `tag-dev-arch`.
    public static func platformTag(_ variant: Variant, _ spec: ImageSpec, architecture: String) -> String {
        variant.tagSuffix(spec) + "-" + architecture
    }

    /// Plans the catalog's `specs` against the registry under `prefix`. `buildArguments` go on
    /// every job's command (`--key harden.key`), `publishArguments` on publish's.
    public static func make(specs: [String], catalog: String, prefix: RegistryReference, session: RegistrySession,
                            buildArguments: [String] = [], publishArguments: [String] = []) async throws -> CatalogPlan {
        let registry = prefix.registry + "/" + prefix.repository
        var jobs: [Job] = []
        for specPath in specs {
            let spec = try ImageSpec(contentsOf: specPath)
            let lockPath = LockFile.path(forSpec: specPath)
            guard FileSystem.exists(lockPath) else { throw CatalogError("\(specPath) has no lock: run 'harden lock \(specPath)' first") }
            let lock = try LockFile.read(lockPath)
            try lock.check(specSHA256: sha256Hex(try FileSystem.read(specPath, limit: 4 << 20)), specPath: specPath)
            let digest = try lock.digest()
            let repository = prefix.repository + "/" + spec.name
            let client = try await session.client(for: prefix.registry)
            for variant in spec.dev.enabled ? [Variant.minimal, .dev] : [.minimal] {
                for architecture in spec.archs {
                    let tag = platformTag(variant, spec, architecture: architecture)
                    let (rebuild, reason): (Bool, String)
                    if let fetched = try await client.manifestIfPresent(tag, in: repository) {
                        let recorded = try? CanonicalJSON.decode(ImageManifest.self, from: fetched.bytes, kind: "image manifest").annotations?[ImageBuilder.lockAnnotation]
                        (rebuild, reason) = recorded == digest ? (false, "\(tag) is \(fetched.digest.short), built from this lock")
                            : (true, "\(tag) was built from \(recorded.map { String($0.prefix(19)) } ?? "an unknown lock")")
                    } else {
                        (rebuild, reason) = (true, "\(tag) is not in the registry")
                    }
                    jobs.append(Job(id: "\(spec.name)-\(variant.rawValue)-\(architecture)", image: spec.name, spec: specPath, lock: lockPath,
                                    lockDigest: digest, variant: variant.rawValue, architecture: architecture,
                                    target: "\(registry)/\(spec.name):\(tag)", rebuild: rebuild, reason: reason,
                                    command: ["harden", "build", specPath, "--lock", lockPath, "--variant", variant.rawValue, "--arch", architecture,
                                              "--push", "\(registry)/\(spec.name):\(spec.tag)"] + buildArguments))
                }
            }
        }
        return CatalogPlan(schema: schemaID, catalog: catalog, registry: registry, jobs: jobs,
                           publish: ["harden", "catalog", "publish", catalog, "--push", registry] + publishArguments)
    }
}

/// The final job of a planned catalog build: pulls every platform manifest the jobs pushed into
/// a store, assembles each variant's index exactly as a whole build writes it (same bytes, same
/// digest), signs it, and pushes it under its tag (not when the tag names it already).
public struct CatalogPublisher: Sendable {
    public var store: ImageLayout
    public var key: SigningKey?
    public var progress: @Sendable (String) -> Void

    public init(store: ImageLayout, key: SigningKey?, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.key = key
        self.progress = progress
    }

    /// Assembles and pushes every spec's indexes; returns tag → index digest.
    public func publish(specs: [String], prefix: RegistryReference, session: RegistrySession) async throws -> [(tag: String, digest: Digest)] {
        var published: [(tag: String, digest: Digest)] = []
        for specPath in specs {
            let spec = try ImageSpec(contentsOf: specPath)
            let lock = try LockFile.read(LockFile.path(forSpec: specPath))
            let lockDigest = try lock.digest()
            let repository = prefix.repository + "/" + spec.name
            for variant in spec.dev.enabled ? [Variant.minimal, .dev] : [.minimal] {
                var platforms: [Descriptor] = []
                var annotations: [[String: String]] = []
                for architecture in spec.archs {
                    let tag = CatalogPlan.platformTag(variant, spec, architecture: architecture)
                    let source = RegistryReference(registry: prefix.registry, repository: repository, tag: tag)
                    let (root, _) = try await session.pull(source, into: store, tag: nil)
                    let manifest = try store.readDocument(ImageManifest.self, root, kind: "image manifest")
                    guard manifest.annotations?[ImageBuilder.lockAnnotation] == lockDigest else {
                        throw CatalogError("\(source) was not built from \(LockFile.path(forSpec: specPath)) (\(lockDigest.prefix(19))): run its job first")
                    }
                    let config = try store.readDocument(ImageConfiguration.self, manifest.config, kind: "image config")
                    platforms.append(Descriptor(mediaType: root.mediaType, digest: root.digest, size: root.size, platform: config.platform))
                    annotations.append(manifest.annotations ?? [:])
                }
                let index = try store.writeIndex(of: platforms, annotations: ImageBuilder.indexAnnotations(annotations))
                if let key {
                    let payload = try Cosign.payload(dockerReference: spec.name, manifestDigest: index.digest)
                    try store.storeSignature(payload: payload, signature: try key.sign(payload), of: index)
                }
                try store.tag(index, as: variant.tag(spec))
                let target = RegistryReference(registry: prefix.registry, repository: repository, tag: variant.tagSuffix(spec))
                if let remote = try await session.client(for: prefix.registry).manifestIfPresent(variant.tagSuffix(spec), in: repository),
                   remote.digest == index.digest {
                    progress("\(target): already \(index.digest.short)")
                } else {
                    _ = try await session.push(index, from: store, to: target)
                    progress("\(target): \(index.digest.short) published (\(platforms.count) platforms)")
                }
                published.append((variant.tag(spec), index.digest))
            }
        }
        return published
    }
}
