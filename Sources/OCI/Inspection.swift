/// What `harden inspect` reports about an image: its top descriptor and each platform's
/// manifest, configuration and layers.
public struct ImageInspection: Sendable, Codable {
    public struct Layer: Sendable, Codable {
        public var digest: Digest
        public var mediaType: String
        public var size: Int64
        /// The uncompressed tar's digest, from the config.
        public var diffID: Digest?
    }

    public struct Image: Sendable, Codable {
        public var digest: Digest
        public var mediaType: String
        public var artifactType: String?
        public var platform: String?
        public var configDigest: Digest
        public var configMediaType: String
        public var created: String?
        public var user: String?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var env: [String]?
        public var workingDir: String?
        public var stopSignal: String?
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public var layers: [Layer]
        /// Sum of the layer blob sizes (what a pull transfers).
        public var layersSize: Int64
    }

    public var reference: String
    public var digest: Digest
    public var mediaType: String
    public var annotations: [String: String]?
    public var images: [Image]

    /// Reads `root` and everything below it from `reader`, verified.
    public static func inspect(_ root: Descriptor, in reader: BlobReader, reference: String) throws -> ImageInspection {
        var images: [Image] = []
        var topAnnotations = root.annotations
        if MediaType.isIndex(root.mediaType) {
            topAnnotations = try reader.readDocument(ImageIndex.self, root, kind: "image index").annotations
        }
        for descriptor in try ImageGraph.manifests(under: root, in: reader) {
            let manifest = try reader.readDocument(ImageManifest.self, descriptor, kind: "image manifest")
            if descriptor.digest == root.digest { topAnnotations = manifest.annotations }
            var image = Image(digest: descriptor.digest, mediaType: descriptor.mediaType, artifactType: manifest.artifactType,
                              platform: descriptor.platform?.description, configDigest: manifest.config.digest,
                              configMediaType: manifest.config.mediaType, annotations: manifest.annotations,
                              layers: manifest.layers.map { Layer(digest: $0.digest, mediaType: $0.mediaType, size: $0.size) },
                              layersSize: manifest.layers.reduce(0) { $0 + $1.size })
            if manifest.config.mediaType == MediaType.imageConfig || manifest.config.mediaType == MediaType.dockerConfig {
                let config = try reader.readDocument(ImageConfiguration.self, manifest.config, kind: "image config")
                image.platform = config.platform.description
                image.created = config.created
                image.user = config.config?.User
                image.entrypoint = config.config?.Entrypoint
                image.cmd = config.config?.Cmd
                image.env = config.config?.Env
                image.workingDir = config.config?.WorkingDir
                image.stopSignal = config.config?.StopSignal
                image.labels = config.config?.Labels
                for (i, diffID) in config.rootfs.diff_ids.enumerated() where i < image.layers.count {
                    image.layers[i].diffID = diffID
                }
            }
            images.append(image)
        }
        return ImageInspection(reference: reference, digest: root.digest, mediaType: root.mediaType,
                               annotations: topAnnotations, images: images)
    }

    /// A human-readable report.
    public func text() -> String {
        var lines = ["Image:      \(reference)", "Digest:     \(digest)", "Media type: \(mediaType)"]
        for (key, value) in (annotations ?? [:]).sorted(by: { $0.key < $1.key }) { lines.append("  \(key): \(value)") }
        for image in images {
            lines.append("")
            lines.append("Manifest \(image.digest) (\(image.platform ?? "no platform"))")
            if let artifactType = image.artifactType { lines.append("  Artifact type: \(artifactType)") }
            lines.append("  Config:      \(image.configDigest) (\(image.configMediaType))")
            if let created = image.created { lines.append("  Created:     \(created)") }
            lines.append("  User:        \(image.user.flatMap { $0.isEmpty ? nil : $0 } ?? "(root)")")
            if let entrypoint = image.entrypoint { lines.append("  Entrypoint:  \(entrypoint)") }
            if let cmd = image.cmd { lines.append("  Cmd:         \(cmd)") }
            if let workingDir = image.workingDir, !workingDir.isEmpty { lines.append("  WorkingDir:  \(workingDir)") }
            if let stopSignal = image.stopSignal { lines.append("  StopSignal:  \(stopSignal)") }
            for env in image.env ?? [] { lines.append("  Env:         \(env)") }
            for (key, value) in (image.labels ?? [:]).sorted(by: { $0.key < $1.key }) { lines.append("  Label:       \(key)=\(value)") }
            for (key, value) in (image.annotations ?? [:]).sorted(by: { $0.key < $1.key }) { lines.append("  Annotation:  \(key)=\(value)") }
            lines.append("  Layers:      \(image.layers.count), \(formatBytes(image.layersSize))")
            for layer in image.layers {
                lines.append("    \(layer.digest.short)  \(formatBytes(layer.size).padding(10))  \(layer.mediaType)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Bytes for people: `1.4 MiB`.
public func formatBytes(_ count: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(count) B" }
    let rounded = (value * 10).rounded() / 10
    return "\(rounded) \(units[unit])"
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
