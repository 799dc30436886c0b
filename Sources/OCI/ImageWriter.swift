import Archive

/// A layer as stored: the compressed blob's descriptor and the uncompressed tar's digest.
public struct StoredLayer: Sendable, Hashable {
    public var descriptor: Descriptor
    public var diffID: Digest
    public init(descriptor: Descriptor, diffID: Digest) {
        self.descriptor = descriptor
        self.diffID = diffID
    }
}

extension ImageLayout {
    /// Streams one layer into the store: `body` writes tar entries, which are hashed (the diff ID),
    /// compressed and hashed again (the blob digest) in a single pass, with bounded memory.
    public func writeLayer(compression: Compression = .gzip, _ body: (TarWriter) throws -> Void) throws -> StoredLayer {
        let mediaType = try MediaType.layer(compression: compression)
        var diffHex: String?
        let descriptor = try writeBlob(mediaType: mediaType) { blobSink in
            try wrapArchive {
                let compressed = try compression.compressing(into: blobSink)
                let uncompressed = HashingSink(compressed)
                let tar = TarWriter(uncompressed)
                try body(tar)
                try tar.finish()
                diffHex = uncompressed.hexDigest
            }
        }
        return StoredLayer(descriptor: descriptor, diffID: try Digest(hex: diffHex ?? ""))
    }

    /// Writes an image's config and manifest for `layers` and returns the manifest's descriptor
    /// (with its platform). `config.rootfs` is filled from the layers.
    public func writeImage(config: ImageConfiguration, layers: [StoredLayer], annotations: [String: String]? = nil) throws -> Descriptor {
        var config = config
        config.rootfs = .init(diffIDs: layers.map(\.diffID))
        let configDescriptor = try writeDocument(config, mediaType: MediaType.imageConfig)
        let manifest = ImageManifest(config: configDescriptor, layers: layers.map(\.descriptor), annotations: annotations)
        var descriptor = try writeDocument(manifest, mediaType: MediaType.imageManifest)
        descriptor.platform = config.platform
        return descriptor
    }

    /// Writes an index over `manifests` (one per platform) and returns its descriptor.
    public func writeIndex(of manifests: [Descriptor], annotations: [String: String]? = nil) throws -> Descriptor {
        try writeDocument(ImageIndex(manifests: manifests, annotations: annotations), mediaType: MediaType.imageIndex)
    }
}

/// RFC 3339 text (`2024-01-02T03:04:05Z`) for seconds since the epoch.
public func rfc3339(_ seconds: Int64) -> String { UTCTime.rfc3339(seconds) }
