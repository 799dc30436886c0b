/// Artifacts attached to an image (SBOMs, signatures, attestations), stored with the OCI 1.1
/// tag schema that registries without the referrers API use: an index tagged `sha256-<hex>`
/// lists every artifact whose `subject` is the manifest `sha256:<hex>`.
extension ImageLayout {
    /// The tag under which the referrers of `subject` are listed.
    public static func referrersTag(for subject: Digest) -> String { "sha256-\(subject.hex)" }

    /// Writes an artifact manifest for `blob` (already stored) with `subject` and lists it among
    /// the subject's referrers. Returns the artifact manifest's descriptor.
    @discardableResult
    public func attach(_ blob: Descriptor, artifactType: String, to subject: Descriptor,
                       annotations: [String: String]? = nil) throws -> Descriptor {
        let empty = try writeBlob(Array("{}".utf8), mediaType: MediaType.empty)
        var config = empty
        config.data = Descriptor.empty.data
        let manifest = ImageManifest(config: config, layers: [blob], annotations: annotations,
                                     subject: Descriptor(mediaType: subject.mediaType, digest: subject.digest, size: subject.size),
                                     artifactType: artifactType)
        var descriptor = try writeDocument(manifest, mediaType: MediaType.imageManifest)
        descriptor.artifactType = artifactType
        descriptor.annotations = annotations
        var referrers = try self.referrers(of: subject.digest)
        referrers.removeAll { $0.digest == descriptor.digest }
        referrers.append(descriptor)
        try tagReferrers(referrers, of: subject.digest)
        return descriptor
    }

    /// The artifacts attached to `subject` (empty when there are none).
    public func referrers(of subject: Digest) throws -> [Descriptor] {
        let tag = Self.referrersTag(for: subject)
        guard let entry = try tags().last(where: { $0.name == tag })?.descriptor else { return [] }
        return try readDocument(ImageIndex.self, entry, kind: "referrers index").manifests
    }

    /// Copies the referrers of `subject` (and their blobs) from `source`, verified.
    public func copyReferrers(of subject: Digest, from source: ImageLayout) throws {
        let attached = try source.referrers(of: subject)
        guard !attached.isEmpty else { return }
        for artifact in attached {
            for descriptor in try ImageGraph.reachable(from: artifact, in: source).reversed() { _ = try copyBlob(descriptor, from: source) }
        }
        var merged = try referrers(of: subject)
        for artifact in attached where !merged.contains(where: { $0.digest == artifact.digest }) { merged.append(artifact) }
        try tagReferrers(merged, of: subject)
    }

    private func tagReferrers(_ referrers: [Descriptor], of subject: Digest) throws {
        let index = try writeIndex(of: referrers.sorted { $0.digest < $1.digest })
        try tag(index, as: Self.referrersTag(for: subject))
    }
}
