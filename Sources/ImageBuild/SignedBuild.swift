import Archive
import Attestation
import Debian
import Foundation
import OCI
import SBOM
import VEX

/// What the control plane asks the isolated build child to do (written to `request.json`).
public struct WorkerRequest: Sendable, Codable {
    public var specPath: String
    /// The lock to build from, or (when the spec has none yet) where the child writes the one it makes.
    public var lockPath: String
    public var compression: Compression
    public var variant: Variant?
    /// Only these of the spec's architectures (nil: all).
    public var architectures: [String]?
    public var epoch: Int64?
    /// The child writes its layout to `<workDirectory>/layout` and its result to `<workDirectory>/result.json`.
    public var workDirectory: String
    /// Paths the child must not see (the signing key file).
    public var hidden: [String]
    /// Environment names that must not reach the child (the passphrase variable).
    public var secretEnvironment: [String]
    /// Only isolate and report what the child could still reach; build nothing.
    public var probeOnly: Bool
}

/// What the child reports back. Only the tags and the hardening list are taken from it: every
/// digest is computed again by the control plane from the blobs themselves.
public struct WorkerResult: Sendable, Codable {
    public struct Image: Sendable, Codable {
        public var variant: Variant
        public var tag: String
        public var index: Digest
        public var packages: [String: Int]
        public var uncompressedSize: [String: Int64]
        public var hardening: [String: [HardeningChange]]
    }
    public var images: [Image]
    public var isolation: [BuildIsolation.Attempt]
}

extension Variant: Codable {}

/// The build child: isolates itself from the signing key first, proves it, then builds into its
/// work directory. Nothing here ever holds a key.
public enum BuildWorker {
    public static func run(requestPath: String, progress: @escaping @Sendable (String) -> Void) async throws {
        let request = try CanonicalJSON.decode(WorkerRequest.self, from: try FileSystem.read(requestPath, limit: 1 << 20), kind: "build request")
        // Only the work directory (TMPDIR is inside it) and the download cache stay writable;
        // /run (service sockets) is hidden but for the path to the resolver's configuration.
        let cache = DownloadCache.defaultLocation()
        try FileSystem.createDirectory(cache)
        let hidden = request.hidden + runtimeCovers(keeping: URL(fileURLWithPath: "/etc/resolv.conf").resolvingSymlinksInPath().path)
        try BuildIsolation.enter(hiding: hidden, writable: [request.workDirectory, cache])
        let attempts = BuildIsolation.probe(hidden: hidden, secretEnvironment: request.secretEnvironment)
        let resultPath = request.workDirectory + "/result.json"
        if request.probeOnly {
            try FileSystem.writeAtomically(resultPath, bytes: try CanonicalJSON.encode(WorkerResult(images: [], isolation: attempts)))
            return
        }
        let reached = attempts.filter(\.reached)
        guard reached.isEmpty else {
            throw BuildError.notIsolated(reached.map { "\($0.target): \($0.detail)" }.joined(separator: "; "))
        }
        progress("isolated: \(attempts.count) attempts to reach the signing key denied")
        let staging = try ImageLayout.create(at: request.workDirectory + "/layout")
        let builder = ImageBuilder(epoch: request.epoch, compression: request.compression, only: request.variant,
                                   architectures: request.architectures, progress: progress)
        let images = try await builder.build(specPath: request.specPath, lockPath: request.lockPath, into: staging)
        var results: [WorkerResult.Image] = []
        for image in images {
            try staging.tag(image.index, as: image.tag)
            results.append(WorkerResult.Image(
                variant: image.variant, tag: image.tag, index: image.index.digest,
                packages: Dictionary(uniqueKeysWithValues: image.platforms.map { ($0.architecture, $0.packages) }),
                uncompressedSize: Dictionary(uniqueKeysWithValues: image.platforms.map { ($0.architecture, $0.uncompressedSize) }),
                hardening: image.hardening))
        }
        try FileSystem.writeAtomically(resultPath, bytes: try CanonicalJSON.encode(WorkerResult(images: results, isolation: attempts)))
    }

    /// What to cover of /run: all of it, or, when `kept` lies below it (systemd-resolved's
    /// resolv.conf), everything but the directories leading to `kept` and `kept` itself.
    static func runtimeCovers(keeping kept: String) -> [String] {
        guard kept.hasPrefix("/run/") else { return ["/run"] }
        var covers: [String] = []
        var directory = "/run"
        for component in kept.dropFirst("/run/".count).split(separator: "/").map(String.init) {
            for entry in (try? FileSystem.listDirectory(directory)) ?? [] where entry != component { covers.append(directory + "/" + entry) }
            directory += "/" + component
        }
        return covers
    }
}

/// A build whose steps run in an isolated child while this process, the control plane, holds the
/// signing key: it checks every blob the child wrote, computes the digests itself, and signs
/// each image, its SLSA provenance and its SBOMs (SLSA Build L3 on one machine; docs/security.md).
public struct SignedBuild: Sendable {
    public var key: SigningKey
    public var specPath: String
    public var lockPath: String?
    public var compression: Compression
    public var variant: Variant?
    /// Build only these of the spec's architectures (nil: all).
    public var architectures: [String]?
    public var epoch: Int64?
    /// The key file (and anything else secret on disk) the child must not see.
    public var hidden: [String]
    /// The `harden` binary that runs the child (`harden build-step`).
    public var executable: String
    public var builderVersion: String
    public var progress: @Sendable (String) -> Void
    /// Statements derived from vulnerability data for an image (its inventory and product purl),
    /// published with the spec's own in the image's VEX attestation.
    public var derivedVEX: (@Sendable (ImageInventory, PURL) throws -> [VEXStatement])?

    public init(key: SigningKey, specPath: String, lockPath: String?, compression: Compression, variant: Variant?, epoch: Int64?,
                hidden: [String], executable: String, builderVersion: String,
                derivedVEX: (@Sendable (ImageInventory, PURL) throws -> [VEXStatement])? = nil, architectures: [String]? = nil,
                progress: @escaping @Sendable (String) -> Void) {
        self.derivedVEX = derivedVEX
        self.architectures = architectures
        self.key = key
        self.specPath = specPath
        self.lockPath = lockPath
        self.compression = compression
        self.variant = variant
        self.epoch = epoch
        self.hidden = hidden
        self.executable = executable
        self.builderVersion = builderVersion
        self.progress = progress
    }

    /// Names of environment variables that carry secrets and never reach the child.
    public static let secretEnvironment = [KeyFile.passphraseVariable]

    /// Runs the child with `request` in `workDirectory` and returns what it reported.
    func runChild(workDirectory: String, lockPath: String, probeOnly: Bool) async throws -> WorkerResult {
        let request = WorkerRequest(specPath: specPath, lockPath: lockPath, compression: compression, variant: variant,
                                    architectures: architectures, epoch: epoch,
                                    workDirectory: workDirectory, hidden: hidden, secretEnvironment: Self.secretEnvironment, probeOnly: probeOnly)
        let requestPath = workDirectory + "/request.json"
        try FileSystem.writeAtomically(requestPath, bytes: try CanonicalJSON.encode(request), mode: 0o600)
        try BuildIsolation.protectParent()
        try BuildIsolation.adoptOrphans()
        var environment = BuildIsolation.scrubbed(ProcessInfo.processInfo.environment)
        // A TMPDIR of its own: the child can write nowhere the control plane writes.
        environment["TMPDIR"] = workDirectory + "/tmp"
        try FileSystem.createDirectory(workDirectory + "/tmp", mode: 0o700)
        let status: Int32
        do {
            status = try await BuildIsolation.runChild(executable: executable, arguments: ["build-step", "--request", requestPath],
                                                       environment: environment)
        } catch {
            _ = try? BuildIsolation.killDescendants()
            throw error
        }
        // Whatever the child left running could still change its work directory: end it first.
        let leftovers = try BuildIsolation.killDescendants()
        if leftovers > 0 { progress("killed \(leftovers) process(es) the build child left behind") }
        guard status == 0 else { throw BuildError.childFailed(status) }
        try Self.requireRegularFiles(in: workDirectory)
        return try CanonicalJSON.decode(WorkerResult.self, from: try FileSystem.read(workDirectory + "/result.json", limit: 64 << 20),
                                        kind: "build result")
    }

    /// Isolates a child as for a build and returns what it could still reach (for tests and audits).
    public func probe() async throws -> [BuildIsolation.Attempt] {
        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-probe")
        defer { try? FileSystem.remove(scratch) }
        return try await runChild(workDirectory: scratch, lockPath: scratch + "/lock.json", probeOnly: true).isolation
    }

    /// Builds in the child, then verifies, copies and signs. The signed images are in a layout of
    /// the control plane's own under `scratch` (the caller copies them to their destination and
    /// removes `scratch`); the child's layout is only ever read, blob by verified blob.
    public func run(scratch: String) async throws -> (layout: ImageLayout, images: [BuiltImage]) {
        let started = Date()
        let specBytes = try FileSystem.read(specPath, limit: 4 << 20)
        let spec = try ImageSpec(yaml: String(decoding: specBytes, as: UTF8.self), file: specPath)
        // The lock is read before the child runs, and the child cannot write where it lives; a
        // spec without one gets the child's lock, checked here, then written beside the spec.
        let lockFile = lockPath ?? LockFile.path(forSpec: specPath)
        let existingLock = FileSystem.exists(lockFile) ? try LockFile.readBytes(lockFile) : nil
        if let existingLock { try LockFile.decode(existingLock, path: lockFile).check(specSHA256: sha256Hex(specBytes), specPath: specPath) }
        // The control plane's layout exists before the child starts, outside everything it may write.
        let layout = try ImageLayout.create(at: scratch + "/signed")
        let work = scratch + "/child"
        try FileSystem.createDirectory(work)
        let result = try await runChild(workDirectory: work, lockPath: existingLock == nil ? work + "/lock.json" : lockFile, probeOnly: false)

        // From here on nothing the child says is trusted but what the blobs prove (its counts
        // and hardening list are only printed).
        let lockBytes = try existingLock ?? LockFile.readBytes(work + "/lock.json")
        let lock = try LockFile.decode(lockBytes, path: lockFile)
        try lock.check(specSHA256: sha256Hex(specBytes), specPath: specPath)
        if existingLock == nil {
            try lock.write(to: lockFile)
            progress("wrote \(lockFile)")
        }
        let expected = try expectedTags(spec)
        let archs = try ImageBuilder.selected(architectures, of: spec)
        guard Set(result.images.map(\.tag)) == Set(expected.keys), result.images.count == expected.count else {
            throw BuildError.untrustedResult("the child built \(result.images.map(\.tag)), expected \(expected.keys.sorted())")
        }
        let childLayout = try ImageLayout(opening: work + "/layout")
        let builderDigest = try Self.sha256(ofFile: "/proc/self/exe")
        var images: [BuiltImage] = []
        for (tag, variant) in expected.sorted(by: { $0.key < $1.key }) {
            guard let claimed = result.images.first(where: { $0.tag == tag }) else { continue }
            let index = try childLayout.resolve(tag: claimed.tag)
            guard index.digest == claimed.index, MediaType.isIndex(index.mediaType) else {
                throw BuildError.untrustedResult("the child reported \(claimed.index) for \(claimed.tag) but stored \(index.digest)")
            }
            let annotations = try childLayout.readDocument(ImageIndex.self, index, kind: "image index").annotations
            guard annotations?[ImageBuilder.lockAnnotation] == (try lock.digest()) else {
                throw BuildError.untrustedResult("\(claimed.tag) does not name the lock it was built from (\(ImageBuilder.lockAnnotation))")
            }
            // Every blob is checked on the way into this layout; of what the child attached, only
            // the SBOMs come along (attached again here), never a signature or an attestation.
            try layout.copyImage(index, from: childLayout, tag: claimed.tag)
            let blobs = try ImageGraph.reachable(from: index, in: layout).count
            let manifests = try layout.readDocument(ImageIndex.self, index, kind: "image index").manifests
            guard manifests.allSatisfy({ MediaType.isManifest($0.mediaType) && $0.platform?.os == "linux" }),
                  manifests.compactMap(\.platform?.architecture).sorted() == archs.sorted(), manifests.count == archs.count else {
                throw BuildError.untrustedResult("\(claimed.tag) holds platforms \(manifests.map { $0.platform?.description ?? "none" }), the build is of \(archs)")
            }
            var platforms: [(architecture: String, manifest: Descriptor, packages: Int, uncompressedSize: Int64)] = []
            for manifest in manifests {
                let architecture = manifest.platform?.architecture ?? ""
                try Self.copySBOMs(of: manifest, from: childLayout, to: layout)
                let sboms = try sign(manifest: manifest, architecture: architecture, variant: variant, spec: spec, specBytes: specBytes,
                                     lock: lock, lockBytes: lockBytes, lockFile: lockFile, builderDigest: builderDigest,
                                     started: started, layout: layout)
                platforms.append((architecture, manifest, claimed.packages[architecture] ?? 0, claimed.uncompressedSize[architecture] ?? 0))
                progress("\(claimed.tag) \(architecture): signed \(manifest.digest.short), attested provenance and \(sboms) documents (SBOMs, VEX)")
            }
            let payload = try Cosign.payload(dockerReference: spec.name, manifestDigest: index.digest)
            try layout.storeSignature(payload: payload, signature: try key.sign(payload), of: index)
            progress("\(claimed.tag): \(blobs) blobs verified, index \(index.digest.short) signed with key \(key.publicKey.keyID.prefix(12))")
            images.append(BuiltImage(variant: variant, tag: claimed.tag, index: index, platforms: platforms, hardening: claimed.hardening))
        }
        return (layout, images.sorted { $0.variant == .minimal && $1.variant == .dev })
    }

    /// The tags this build must produce, with their variants, from the spec and the request alone.
    private func expectedTags(_ spec: ImageSpec) throws -> [String: Variant] {
        var tags: [String: Variant] = [:]
        if variant == nil || variant == .minimal { tags["\(spec.name):\(spec.tag)"] = .minimal }
        if spec.dev.enabled && (variant == nil || variant == .dev) { tags["\(spec.name):\(spec.tag)-dev"] = .dev }
        if tags.isEmpty { throw BuildError.noLock("the spec disables the dev variant") }
        return tags
    }

    /// Signs one platform manifest and attests its provenance, SBOMs and VEX; returns the count of
    /// SBOM and VEX attestations.
    private func sign(manifest: Descriptor, architecture: String, variant: Variant, spec: ImageSpec, specBytes: [UInt8],
                      lock: LockFile, lockBytes: [UInt8], lockFile: String, builderDigest: String, started: Date,
                      layout: ImageLayout) throws -> Int {
        let payload = try Cosign.payload(dockerReference: spec.name, manifestDigest: manifest.digest)
        try layout.storeSignature(payload: payload, signature: try key.sign(payload), of: manifest)
        let subject = [Statement.Subject(name: spec.name, digest: manifest.digest)]

        // The SBOMs the child attached, verified by digest, signed as they are.
        var byproducts: [Provenance.Resource] = []
        for referrer in try layout.referrers(of: manifest.digest) {
            let predicateType: String
            switch referrer.artifactType {
            case MediaType.spdxJSON?: predicateType = PredicateType.spdx
            case MediaType.cycloneDXJSON?: predicateType = PredicateType.cycloneDX
            default: continue
            }
            let artifact = try layout.readDocument(ImageManifest.self, referrer, kind: "SBOM artifact")
            guard let blob = artifact.layers.first, artifact.subject?.digest == manifest.digest else { continue }
            let document = try layout.readBlob(blob, limit: 256 << 20)
            try attest(Statement(subjects: subject, predicateType: predicateType, predicate: document), of: manifest, in: layout)
            byproducts.append(Provenance.Resource(name: PredicateType.shortName(predicateType), sha256: blob.digest.hex, mediaType: blob.mediaType))
        }

        // The image's VEX: the spec's statements and those derived from vulnerability data, about
        // the packages the verified layers hold.
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: spec.name)
        let product = PURL.oci(repository: spec.name, digest: manifest.digest, includeRepositoryURL: false)
        let statements = try spec.vexStatements(for: inventory, product: product) + (derivedVEX?(inventory, product) ?? [])
        if !statements.isEmpty {
            let document = try VEXDocument.create(statements: statements, author: "\(spec.name) maintainers, built by harden", timestamp: Date())
            let bytes = try document.encoded()
            try attest(Statement(subjects: subject, predicateType: PredicateType.openVEX, predicate: bytes), of: manifest, in: layout)
            byproducts.append(Provenance.Resource(name: "vex", sha256: sha256Hex(bytes), mediaType: "application/json"))
        }

        let packages = (variant == .dev ? lock.variants?["dev"]?[architecture] : lock.packages[architecture]) ?? []
        var dependencies = packages.map { Provenance.Resource(name: "\($0.name)_\($0.version)_\($0.architecture).deb", uri: $0.url, sha256: $0.sha256) }
        dependencies += lock.releases.map { Provenance.Resource(name: "Release \($0.suite)", uri: $0.url, sha256: $0.sha256,
                                                               annotations: ["signer": $0.signer, "date": $0.date]) }
        dependencies.append(Provenance.Resource(name: "harden", uri: "harden:\(builderVersion)", sha256: builderDigest))
        var flags = ["compression": compression.rawValue]
        if let epoch { flags["SOURCE_DATE_EPOCH"] = String(epoch) }
        let external = Provenance.ExternalParameters(
            spec: .init(path: specPath, content: String(decoding: specBytes, as: UTF8.self), sha256: sha256Hex(specBytes)),
            lock: Provenance.Resource(name: lockFile, sha256: sha256Hex(lockBytes)),
            variant: variant.rawValue, architectures: try ImageBuilder.selected(architectures, of: spec), flags: flags)
        let provenance = Provenance(external: external, internalParameters: ["platform": architecture, "isolation": "child process: own mount namespace, key file covered, no capabilities, scrubbed environment, no inherited descriptors"],
                                    dependencies: dependencies, builderVersion: builderVersion,
                                    invocationID: UUID().uuidString.lowercased(), startedOn: started, finishedOn: Date(), byproducts: byproducts)
        try attest(Statement(subjects: subject, predicateType: PredicateType.slsaProvenance, predicate: try provenance.encoded()),
                   of: manifest, in: layout)
        return byproducts.count
    }

    /// Attaches, in `layout`, the SPDX and CycloneDX documents the child attached to `manifest`
    /// (one of each at most, each blob checked on the way).
    static func copySBOMs(of manifest: Descriptor, from child: ImageLayout, to layout: ImageLayout) throws {
        for type in [MediaType.spdxJSON, MediaType.cycloneDXJSON] {
            guard let referrer = try child.referrers(of: manifest.digest).first(where: { $0.artifactType == type }) else { continue }
            let artifact = try child.readDocument(ImageManifest.self, referrer, kind: "SBOM artifact")
            guard artifact.subject?.digest == manifest.digest, let document = artifact.layers.first, document.mediaType == type else { continue }
            let blob = try layout.copyBlob(document, from: child)
            try layout.attach(blob, artifactType: type, to: manifest, annotations: artifact.annotations)
        }
    }

    /// Everything the child left in its work directory is a regular file or a directory: no
    /// symlink to elsewhere, no FIFO to hang a read on.
    static func requireRegularFiles(in directory: String) throws {
        guard let walker = FileManager.default.enumerator(atPath: directory) else {
            throw BuildError.untrustedResult("cannot list \(directory)")
        }
        while let relative = walker.nextObject() as? String {
            var info = stat()
            let path = directory + "/" + relative
            guard lstat(path, &info) == 0 else { throw BuildError.untrustedResult("cannot stat \(path)") }
            let type = info.st_mode & S_IFMT
            guard type == S_IFREG || type == S_IFDIR else {
                throw BuildError.untrustedResult("\(path) is neither a regular file nor a directory")
            }
        }
    }

    private func attest(_ statement: Statement, of subject: Descriptor, in layout: ImageLayout) throws {
        let envelope = try DSSE.sign(payload: try statement.encoded(), payloadType: DSSE.inTotoPayloadType, key: key)
        try layout.storeAttestation(envelope, predicateType: statement.predicateType, of: subject)
    }

    static func sha256(ofFile path: String) throws -> String {
        let sink = HashingSink()
        _ = try FileSource(path: path).pump(into: sink)
        try sink.finish()
        return sink.hexDigest ?? ""
    }
}
