/// Artifacts attached to an image (SBOMs, signatures, attestations), stored with the OCI 1.1
/// tag schema that registries without the referrers API use: an index tagged `sha256-<hex>`
/// lists every artifact whose `subject` is the manifest `sha256:<hex>`.
extension ImageLayout {
    /// The tag under which the referrers of `subject` are listed.
    public static func referrersTag(for subject: Digest) -> String { "sha256-\(subject.hex)" }

    /// Writes an artifact manifest for `blob` (already stored) with `subject` and lists it among
    /// the subject's referrers, dropping earlier referrers that `replacing` matches. Returns the
    /// artifact manifest's descriptor.
    @discardableResult
    public func attach(_ blob: Descriptor, artifactType: String, to subject: Descriptor,
                       annotations: [String: String]? = nil, replacing: (Descriptor) -> Bool = { _ in false }) throws -> Descriptor {
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
        referrers.removeAll { $0.digest == descriptor.digest || replacing($0) }
        try tagReferrers((referrers + [descriptor]).sorted { $0.digest < $1.digest }, of: subject.digest)
        return descriptor
    }

    /// The artifacts attached to `subject` (empty when there are none).
    public func referrers(of subject: Digest) throws -> [Descriptor] {
        let tag = Self.referrersTag(for: subject)
        guard let entry = try tags().last(where: { $0.name == tag })?.descriptor else { return [] }
        return try readDocument(ImageIndex.self, entry, kind: "referrers index").manifests
    }

    /// Copies what is attached to `subject` (and the blobs) from `source`, verified: the referrers,
    /// merged with those already here (a referrer of the same artifact type and predicate type is
    /// replaced by the copied one), and cosign's `sha256-<hex>.sig`/`.att` tags, taken as they are.
    public func copyReferrers(of subject: Digest, from source: ImageLayout) throws {
        let attached = try source.referrers(of: subject)
        for artifact in attached {
            for descriptor in try ImageGraph.reachable(from: artifact, in: source).reversed() { _ = try copyBlob(descriptor, from: source) }
        }
        if !attached.isEmpty {
            try tagReferrers(Self.mergeReferrers(try referrers(of: subject), adding: attached), of: subject)
        }
        let prefix = Self.referrersTag(for: subject) + "."
        for (name, descriptor) in try source.tags() where name.hasPrefix(prefix) {
            try copyImage(descriptor, from: source, tag: name)
        }
    }

    /// `existing` referrers with `added` ones, in digest order: an existing referrer of the same
    /// kind as an added one (same artifact type and predicate type: a signature or attestation
    /// made again) is replaced by it; the others are kept.
    public static func mergeReferrers(_ existing: [Descriptor], adding added: [Descriptor]) -> [Descriptor] {
        func sameKind(_ a: Descriptor, _ b: Descriptor) -> Bool {
            a.artifactType != nil && a.artifactType == b.artifactType && a.annotations?["predicateType"] == b.annotations?["predicateType"]
        }
        let kept = existing.filter { here in !added.contains { $0.digest == here.digest || sameKind($0, here) } }
        return (kept + added).sorted { $0.digest < $1.digest }
    }

    private func tagReferrers(_ referrers: [Descriptor], of subject: Digest) throws {
        let index = try writeIndex(of: referrers)
        try tag(index, as: Self.referrersTag(for: subject))
    }
}

extension ImageLayout {
    /// The tags holding what is attached to `root` and to each manifest under it: referrers
    /// indexes (`sha256-<hex>`) and cosign's `sha256-<hex>.sig`/`.att`.
    public func attachmentTags(of root: Descriptor) throws -> [(name: String, descriptor: Descriptor)] {
        let prefixes = try ([root] + ImageGraph.manifests(under: root, in: self)).map { Self.referrersTag(for: $0.digest) }
        return try tags().filter { tag in prefixes.contains { tag.name == $0 || tag.name.hasPrefix($0 + ".") } }
    }

    /// Copies what is attached to `root` and to each manifest under it from `source`.
    public func copyAttachments(of root: Descriptor, from source: ImageLayout) throws {
        for subject in Set(try [root.digest] + ImageGraph.manifests(under: root, in: source).map(\.digest)) {
            try copyReferrers(of: subject, from: source)
        }
    }
}
