import Archive
import Foundation
import OCI

/// Whole images to and from registries, with what is attached to them (SBOMs, signatures,
/// attestations: OCI 1.1 referrers and cosign's `sha256-<hex>.sig`/`.att` tags).
extension RegistrySession {
    /// Pushes the image `root` from `layout` to `destination`, children before parents, so no
    /// tag ever names a manifest whose blobs are not all there. Blobs the registry has are
    /// skipped; with `mountFrom` (a repository on the same registry) they are mounted.
    @discardableResult
    public func push(_ root: Descriptor, from layout: ImageLayout, to destination: RegistryReference,
                     mountFrom: String? = nil, attachments: Bool = true, progress: TransferProgress? = nil) async throws -> TransferReport {
        let client = try client(for: destination.registry)
        let repository = destination.repository
        let image = try ImageGraph.reachable(from: root, in: layout)
        let attached = attachments ? try layout.attachmentTags(of: root) : []
        var everything = image
        for (_, descriptor) in attached { everything += try ImageGraph.reachable(from: descriptor, in: layout) }

        // Blobs first (in parallel), then manifests children-first, the root last.
        var seen = Set<Digest>()
        let blobs = everything.filter { !Self.isManifestType($0.mediaType) && seen.insert($0.digest).inserted }
        progress?.expect(blobs: blobs.count, bytes: blobs.reduce(0) { $0 + $1.size })
        let onBytes = progress?.byteCounter
        let outcomes = try await forEachConcurrently(blobs, limit: options.parallelTransfers) { (blob: Descriptor) -> BlobPushOutcome in
            let fetch = try Self.fetcher(for: blob, in: layout, mountFrom: mountFrom, client: client)
            let outcome = try await client.pushBlob(blob, file: layout.blobPath(blob.digest), to: repository, mountFrom: mountFrom,
                                                    fetchFirst: fetch, progress: onBytes)
            progress?.blobDone()
            return outcome
        }
        var report = TransferReport()
        for outcome in outcomes { report.add(outcome) }

        for descriptor in image.reversed() where Self.isManifestType(descriptor.mediaType) && descriptor.digest != root.digest {
            try await putManifest(descriptor, from: layout, reference: descriptor.digest.description, client: client, repository: repository)
            report.manifests += 1
        }
        try await putManifest(root, from: layout, reference: destination.tag ?? root.digest.description, client: client, repository: repository)
        report.manifests += 1
        if let digest = destination.digest, digest != root.digest {
            throw RegistryError(registry: client.registry, step: "pushing \(destination)",
                                reason: .digestMismatch(expected: digest.description, actual: root.digest.description))
        }

        for (name, descriptor) in attached {
            if MediaType.isIndex(descriptor.mediaType), !name.contains(".") {
                let usedAPI = try await pushReferrers(descriptor, tag: name, from: layout, client: client, repository: repository)
                report.referrersAPI = report.referrersAPI || usedAPI
            } else {
                try await pushCosignTag(descriptor, tag: name, from: layout, client: client, repository: repository)
            }
            report.attachments += 1
        }
        return report
    }

    /// For a blob not held in `layout` (a copy within one registry): what fetches it from the
    /// mount source, used only if the registry declines the mount.
    private static func fetcher(for blob: Descriptor, in layout: ImageLayout, mountFrom: String?,
                                client: RegistryClient) throws -> (@Sendable () async throws -> Void)? {
        if layout.hasBlob(blob.digest) { return nil }
        guard let mountFrom else { throw OCIError.blobNotFound(blob.digest.description) }
        return { try await client.pullBlob(blob, from: mountFrom, into: layout) }
    }

    /// Which blobs a pull fetches besides the manifests.
    public enum BlobSelection: Sendable {
        case all
        /// Configs, not layers: enough to inspect an image.
        case configs
        /// No blob: the manifests only.
        case manifestsOnly
    }

    static func isManifestType(_ type: String) -> Bool { MediaType.isManifest(type) || MediaType.isIndex(type) }

    private func putManifest(_ descriptor: Descriptor, from layout: ImageLayout, reference: String,
                             client: RegistryClient, repository: String) async throws {
        let bytes = try layout.readBlob(descriptor, limit: manifestLimit)
        try await client.putManifest(bytes, mediaType: descriptor.mediaType, reference: reference, in: repository)
    }

    /// Pushes the artifacts of a local referrers index. When the registry processes `subject`
    /// (referrers API) that is all; otherwise the `sha256-<hex>` tag is written, merged with what
    /// the registry lists already (an artifact of the same kind is replaced, others are kept).
    private func pushReferrers(_ index: Descriptor, tag: String, from layout: ImageLayout,
                               client: RegistryClient, repository: String) async throws -> Bool {
        let artifacts = try layout.readDocument(ImageIndex.self, index, kind: "referrers index").manifests
        var api = false
        for artifact in artifacts {
            let bytes = try layout.readBlob(artifact, limit: manifestLimit)
            if try await client.putManifest(bytes, mediaType: artifact.mediaType, reference: artifact.digest.description, in: repository) {
                api = true
            }
        }
        if api { return true }
        var existing: [Descriptor] = []
        if let remote = try await client.manifestIfPresent(tag, in: repository, scope: .push(repository)),
           let index = try? CanonicalJSON.decode(ImageIndex.self, from: remote.bytes, kind: "referrers index") {
            existing = index.manifests
        }
        let merged = ImageLayout.mergeReferrers(existing, adding: artifacts)
        let bytes = try CanonicalJSON.encode(ImageIndex(manifests: merged))
        try await client.putManifest(bytes, mediaType: MediaType.imageIndex, reference: tag, in: repository)
        return false
    }

    /// Pushes a cosign `.sig`/`.att` tag. Layers the registry's copy has and ours lacks (another
    /// signer's, say) are kept: the pushed manifest is ours plus theirs.
    private func pushCosignTag(_ descriptor: Descriptor, tag: String, from layout: ImageLayout,
                               client: RegistryClient, repository: String) async throws {
        var bytes = try layout.readBlob(descriptor, limit: manifestLimit)
        if let remote = try await client.manifestIfPresent(tag, in: repository, scope: .push(repository)), remote.digest != descriptor.digest,
           MediaType.isManifest(remote.mediaType),
           let theirs = try? CanonicalJSON.decode(ImageManifest.self, from: remote.bytes, kind: "cosign manifest") {
            var ours = try CanonicalJSON.decode(ImageManifest.self, from: bytes, kind: "cosign manifest")
            let missing = theirs.layers.filter { layer in !ours.layers.contains { $0.digest == layer.digest && $0.annotations == layer.annotations } }
            if !missing.isEmpty {
                ours.layers += missing
                bytes = try CanonicalJSON.encode(ours)
            }
        }
        try await client.putManifest(bytes, mediaType: descriptor.mediaType, reference: tag, in: repository)
    }

    // MARK: Pull

    /// Pulls `source` into `layout` and tags it `tag`: an index with every manifest, or with
    /// `platform` only the manifest for it. Every blob and manifest is verified against its
    /// digest before it is stored; the tag is written last. Attachments come along (referrers
    /// API or tag schema, and cosign tags) unless `attachments` is false. `blobs` may leave out
    /// the layers (for inspecting) or every blob (for a copy that mounts them).
    /// Copies `source` to `destination`. Within one registry the blobs are mounted from the
    /// source repository, not downloaded (only one the registry will not mount goes through
    /// here); across registries the image is pulled into a temporary layout and pushed.
    @discardableResult
    public func copy(_ source: RegistryReference, to destination: RegistryReference, platform: Platform? = nil,
                     progress: TransferProgress? = nil) async throws -> (root: Descriptor, report: TransferReport) {
        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-copy")
        defer { try? FileSystem.remove(scratch) }
        let layout = try ImageLayout.create(at: scratch + "/layout")
        let sameRegistry = source.registry == destination.registry
        let (root, _) = try await pull(source, into: layout, tag: nil, platform: platform, blobs: sameRegistry ? .manifestsOnly : .all,
                                   progress: sameRegistry ? nil : progress)
        let report = try await push(root, from: layout, to: destination, mountFrom: sameRegistry ? source.repository : nil, progress: progress)
        return (root, report)
    }

    @discardableResult
    public func pull(_ source: RegistryReference, into layout: ImageLayout, tag: String?, platform: Platform? = nil,
                     attachments: Bool = true, blobs: BlobSelection = .all,
                     progress: TransferProgress? = nil) async throws -> (root: Descriptor, report: TransferReport) {
        let client = try client(for: source.registry)
        let repository = source.repository
        var report = TransferReport()
        let top = try await client.manifest(source.reference, in: repository)
        var root = top.descriptor
        var stored = try await fetchManifests(root, first: top, client: client, repository: repository, into: layout, report: &report, platformOnly: platform)
        if let platform, MediaType.isIndex(root.mediaType) {
            root = try ImageGraph.manifest(for: platform, under: root, in: layout)
            stored = try ImageGraph.reachable(from: root, in: layout).filter { Self.isManifestType($0.mediaType) }
        }
        if blobs != .manifestsOnly {
            try await fetchBlobs(of: stored, client: client, repository: repository, into: layout, configsOnly: blobs == .configs,
                                 report: &report, progress: progress)
        }
        if attachments {
            for subject in stored where MediaType.isManifest(subject.mediaType) || subject.digest == root.digest {
                report.attachments += try await pullAttachments(of: subject.digest, client: client, repository: repository,
                                                                into: layout, blobs: blobs != .manifestsOnly, report: &report, progress: progress)
            }
        }
        var entry = root
        entry.annotations = nil
        try layout.tag(entry, as: tag)
        return (root, report)
    }

    /// Fetches `root` and the manifests under it (only the one for `platformOnly` in an index),
    /// storing each verified; returns them, parents first.
    private func fetchManifests(_ root: Descriptor, first: FetchedManifest? = nil, client: RegistryClient, repository: String,
                                into layout: ImageLayout, report: inout TransferReport, platformOnly: Platform?) async throws -> [Descriptor] {
        var result: [Descriptor] = []
        var queue: [(Descriptor, Int)] = [(root, 0)]
        var seen = Set<Digest>()
        while !queue.isEmpty {
            let (descriptor, depth) = queue.removeFirst()
            guard seen.insert(descriptor.digest).inserted else { continue }
            let fetched: FetchedManifest
            if let first, first.digest == descriptor.digest {
                fetched = first
            } else {
                fetched = try await client.manifest(descriptor.digest.description, in: repository)
            }
            guard fetched.bytes.count == descriptor.size || descriptor.digest == root.digest else {
                throw RegistryError(registry: client.registry, step: "fetching manifest \(descriptor.digest)",
                                    reason: .digestMismatch(expected: "\(descriptor.size) bytes", actual: "\(fetched.bytes.count) bytes"))
            }
            _ = try layout.writeBlob(fetched.bytes, mediaType: fetched.mediaType)
            report.manifests += 1
            var stored = descriptor
            stored.mediaType = fetched.mediaType
            result.append(stored)
            if MediaType.isIndex(fetched.mediaType) {
                guard depth < ImageGraph.maximumDepth else {
                    throw RegistryError(registry: client.registry, step: "fetching \(descriptor.digest)", reason: .protocolViolation("indexes nested deeper than \(ImageGraph.maximumDepth)"))
                }
                var children = try CanonicalJSON.decode(ImageIndex.self, from: fetched.bytes, kind: "image index").manifests
                if let platformOnly, depth == 0 {
                    let chosen = try ImageGraph.manifest(for: platformOnly, under: stored, in: layout)
                    children = children.filter { $0.digest == chosen.digest }
                }
                queue += children.filter { Self.isManifestType($0.mediaType) }.map { ($0, depth + 1) }
            }
        }
        return result
    }

    /// Downloads the configs and layers of `manifests` (in parallel), verified.
    private func fetchBlobs(of manifests: [Descriptor], client: RegistryClient, repository: String, into layout: ImageLayout,
                            configsOnly: Bool = false, report: inout TransferReport, progress: TransferProgress?) async throws {
        var seen = Set<Digest>()
        var blobs: [Descriptor] = []
        for manifest in manifests where MediaType.isManifest(manifest.mediaType) {
            let parsed = try layout.readDocument(ImageManifest.self, manifest, kind: "image manifest")
            blobs += ([parsed.config] + (configsOnly ? [] : parsed.layers)).filter { seen.insert($0.digest).inserted }
        }
        let missing = blobs.filter { !layout.hasBlob($0.digest) }
        report.blobsSkipped += blobs.count - missing.count
        progress?.expect(blobs: missing.count, bytes: missing.reduce(0) { $0 + $1.size })
        let onBytes = progress?.byteCounter
        _ = try await forEachConcurrently(missing, limit: options.parallelTransfers) { (blob: Descriptor) -> Bool in
            try await client.pullBlob(blob, from: repository, into: layout, progress: onBytes)
            progress?.blobDone()
            return true
        }
        report.blobsDownloaded += missing.count
        report.bytesReceived += missing.reduce(0) { $0 + $1.size }
    }

    /// Pulls what is attached to `subject`: its referrers (API, else the `sha256-<hex>` tag)
    /// and cosign's `.sig`/`.att` tags, stored under the same local tags. Returns how many.
    private func pullAttachments(of subject: Digest, client: RegistryClient, repository: String, into layout: ImageLayout, blobs: Bool,
                                 report: inout TransferReport, progress: TransferProgress?) async throws -> Int {
        var count = 0
        let referrersTag = ImageLayout.referrersTag(for: subject)
        var referrers = try await client.referrersAPI(of: subject, in: repository)
        if referrers != nil { report.referrersAPI = true }
        if referrers == nil, let index = try await client.manifestIfPresent(referrersTag, in: repository), MediaType.isIndex(index.mediaType) {
            referrers = try CanonicalJSON.decode(ImageIndex.self, from: index.bytes, kind: "referrers index").manifests
        }
        if let referrers, !referrers.isEmpty {
            let artifacts = referrers.filter { MediaType.isManifest($0.mediaType) }
            for artifact in artifacts {
                let manifests = try await fetchManifests(artifact, client: client, repository: repository, into: layout, report: &report, platformOnly: nil)
                if blobs { try await fetchBlobs(of: manifests, client: client, repository: repository, into: layout, report: &report, progress: progress) }
            }
            let index = try layout.writeIndex(of: artifacts.sorted { $0.digest < $1.digest })
            try layout.tag(index, as: referrersTag)
            count += 1
        }
        for suffix in ["sig", "att"] {
            let name = referrersTag + "." + suffix
            guard let found = try await client.manifestIfPresent(name, in: repository), MediaType.isManifest(found.mediaType) else { continue }
            let manifests = try await fetchManifests(found.descriptor, client: client, repository: repository, into: layout, report: &report, platformOnly: nil)
            if blobs { try await fetchBlobs(of: manifests, client: client, repository: repository, into: layout, report: &report, progress: progress) }
            try layout.tag(found.descriptor, as: name)
            count += 1
        }
        return count
    }
}
