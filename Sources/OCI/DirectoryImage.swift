import Archive

/// Packs a directory tree as a single-layer image, reproducibly: the same tree, options and
/// epoch always give the same digests.
public struct DirectoryImage: Sendable {
    public var root: String
    public var architecture: String
    public var user: String?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var env: [String]
    public var workingDir: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Seconds since the epoch: the image's `created` time and the clamp for file mtimes.
    public var epoch: Int64
    /// Owner recorded for every file (default root:root), so the host's owners never leak in.
    public var owner: (uid: Int, gid: Int)
    public var compression: Compression

    public init(root: String, architecture: String, epoch: Int64 = 0) {
        self.root = root
        self.architecture = architecture
        self.epoch = epoch
        env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        owner = (0, 0)
        compression = .gzip
    }

    /// Writes the layer, config and manifest into `layout` and returns the manifest descriptor.
    public func write(into layout: ImageLayout) throws -> Descriptor {
        let archiver = DirectoryArchiver(owner: owner, clampModificationTime: epoch)
        let layer = try layout.writeLayer(compression: compression) { tar in
            try wrapArchive { try archiver.append(root, to: tar) }
        }
        let created = rfc3339(epoch)
        let config = ImageConfiguration(
            architecture: architecture, created: created,
            config: .init(User: user, Env: env, Entrypoint: entrypoint, Cmd: cmd, WorkingDir: workingDir, Labels: labels),
            rootfs: .init(diffIDs: []),
            history: [.init(created: created, createdBy: "harden pack", comment: "directory \(root.split(separator: "/").last ?? "")")]
        )
        var allAnnotations = annotations ?? [:]
        allAnnotations["org.opencontainers.image.created"] = created
        return try layout.writeImage(config: config, layers: [layer], annotations: allAnnotations)
    }
}
