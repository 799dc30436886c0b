import Archive

/// Walking the blobs an image is made of: an index, its manifests, their configs and layers.
public enum ImageGraph {
    /// Deepest nesting of indexes followed, which bounds work on hostile input.
    public static let maximumDepth = 8

    /// Every descriptor reachable from `root` (root included), parents before children, each once.
    public static func reachable(from root: Descriptor, in reader: BlobReader) throws -> [Descriptor] {
        var seen: Set<Digest> = []
        var result: [Descriptor] = []
        try visit(root, reader: reader, depth: 0, seen: &seen, result: &result)
        return result
    }

    private static func visit(_ descriptor: Descriptor, reader: BlobReader, depth: Int,
                              seen: inout Set<Digest>, result: inout [Descriptor]) throws {
        guard seen.insert(descriptor.digest).inserted else { return }
        result.append(descriptor)
        if MediaType.isIndex(descriptor.mediaType) {
            guard depth < maximumDepth else {
                throw OCIError.invalidDocument(kind: "index", reason: "indexes nested deeper than \(maximumDepth)")
            }
            let index = try reader.readDocument(ImageIndex.self, descriptor, kind: "image index")
            for child in index.manifests { try visit(child, reader: reader, depth: depth + 1, seen: &seen, result: &result) }
        } else if MediaType.isManifest(descriptor.mediaType) {
            let manifest = try reader.readDocument(ImageManifest.self, descriptor, kind: "image manifest")
            for child in [manifest.config] + manifest.layers where seen.insert(child.digest).inserted {
                result.append(child)
            }
        }
    }

    /// The image manifests under `root` with their platforms (from the index, else the config).
    public static func manifests(under root: Descriptor, in reader: BlobReader) throws -> [Descriptor] {
        try reachable(from: root, in: reader).filter { MediaType.isManifest($0.mediaType) }
    }

    /// The manifest for `platform` under `root` (the root itself when it is a manifest).
    public static func manifest(for platform: Platform?, under root: Descriptor, in reader: BlobReader) throws -> Descriptor {
        if MediaType.isManifest(root.mediaType) { return root }
        guard MediaType.isIndex(root.mediaType) else { throw OCIError.unsupportedMediaType(root.mediaType) }
        let index = try reader.readDocument(ImageIndex.self, root, kind: "image index")
        let images = index.manifests.filter { MediaType.isManifest($0.mediaType) && $0.platform != nil }
        let candidates = images.isEmpty ? index.manifests.filter { MediaType.isManifest($0.mediaType) } : images
        if let platform {
            if let match = candidates.first(where: { $0.platform?.os == platform.os && $0.platform?.architecture == platform.architecture
                && (platform.variant == nil || $0.platform?.variant == platform.variant) }) { return match }
            let available = candidates.compactMap { $0.platform?.description }.joined(separator: ", ")
            throw OCIError.notFound("platform \(platform) (image has: \(available.isEmpty ? "none" : available))")
        }
        guard candidates.count == 1, let only = candidates.first else {
            let available = candidates.compactMap { $0.platform?.description }.joined(separator: ", ")
            throw OCIError.notFound("a single image: the index holds \(candidates.count) (\(available)); choose one with --platform")
        }
        return only
    }
}

extension ImageLayout {
    /// Copies the image at `root` with every blob it reaches from `source` into this layout,
    /// verifying each blob, and tags it.
    public func copyImage(_ root: Descriptor, from source: BlobReader, tag: String?) throws {
        // Children first, so that an interrupted copy never leaves a manifest without its blobs.
        for descriptor in try ImageGraph.reachable(from: root, in: source).reversed() {
            _ = try copyBlob(descriptor, from: source)
        }
        var entry = root
        entry.annotations = root.annotations?.filter { $0.key != Descriptor.refNameAnnotation }
        if entry.annotations?.isEmpty == true { entry.annotations = nil }
        try self.tag(entry, as: tag)
    }
}

extension BlobReader {
    /// Reads every blob reachable from `root` through its digest and size check, streaming;
    /// returns how many blobs and bytes were verified. Throws at the first blob that differs.
    public func verifyBlobs(from root: Descriptor) throws -> (blobs: Int, bytes: Int64) {
        let all = try ImageGraph.reachable(from: root, in: self)
        var bytes: Int64 = 0
        for descriptor in all { bytes += try wrapArchive { try openBlob(descriptor).pump(into: HashingSink()) } }
        return (all.count, bytes)
    }
}
