import Archive
import Foundation

/// `oci-archive:`: an OCI image layout in a single tar file.
public enum OCIArchive {
    /// Writes `images` (descriptors with optional tags) and every blob they reach, read verified from
    /// `source`, as a deterministic tar at `file`. The file appears only once complete.
    public static func write(_ images: [(descriptor: Descriptor, tag: String?)], from source: BlobReader, to file: String) throws {
        var blobs: [Digest: Descriptor] = [:]
        var index = ImageIndex()
        for (descriptor, tag) in images {
            for reached in try ImageGraph.reachable(from: descriptor, in: source) { blobs[reached.digest] = reached }
            var entry = descriptor
            entry.annotations = descriptor.annotations?.filter { $0.key != Descriptor.refNameAnnotation }
            if let tag { entry.annotations = (entry.annotations ?? [:]).merging([Descriptor.refNameAnnotation: tag]) { $1 } }
            if entry.annotations?.isEmpty == true { entry.annotations = nil }
            index.manifests.append(entry)
        }
        let indexBytes = try CanonicalJSON.encode(index)
        try wrapArchive {
            try FileSystem.writeAtomically(file) { sink in
                let tar = TarWriter(sink)
                try tar.append(.directory("blobs"))
                try tar.append(.directory("blobs/sha256"))
                for blob in blobs.values.sorted(by: { $0.digest < $1.digest }) {
                    try tar.append(.file("blobs/sha256/\(blob.digest.hex)", size: blob.size), contents: try source.openBlob(blob))
                }
                try tar.append(.file("index.json", size: 0), bytes: indexBytes)
                try tar.append(.file("oci-layout", size: 0), bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
                try tar.finish()
            }
        }
    }

    /// Unpacks the oci-archive at `file` into a new layout at `directory`. Hostile paths are refused,
    /// entries that are not part of a layout are ignored, and every blob is verified against its name.
    public static func extract(_ file: String, into directory: String) throws -> ImageLayout {
        let layout = try ImageLayout.create(at: directory)
        var sawIndex = false
        try wrapArchive {
            let tar = TarReader(try FileSource(path: file))
            while let entry = try tar.next() {
                guard entry.kind == .regular else { continue }
                switch entry.path {
                case "oci-layout":
                    try FileSystem.writeAtomically(directory + "/oci-layout", bytes: try tar.readContents(limit: 4096))
                case "index.json":
                    try FileSystem.writeAtomically(directory + "/index.json", bytes: try tar.readContents(limit: 64 << 20))
                    sawIndex = true
                default:
                    let prefix = "blobs/sha256/"
                    guard entry.path.hasPrefix(prefix) else { continue }
                    let digest = try Digest(hex: String(entry.path.dropFirst(prefix.count)))
                    _ = try layout.writeBlob(mediaType: "", expected: digest) { sink in _ = try tar.contents.pump(into: sink) }
                }
            }
        }
        guard sawIndex else { throw OCIError.invalidLayout(path: file, reason: "the archive has no index.json") }
        return try ImageLayout(opening: directory)
    }
}

/// `docker-archive:`: the format of `docker save`, which `docker load` and `podman load` read.
public enum DockerArchive {
    /// One image in `manifest.json`.
    struct Entry: Codable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    /// Writes the single-platform image `manifest` (read verified from `source`) to `file` with
    /// uncompressed layers named by their diff IDs; each diff ID is checked against the config.
    public static func write(_ manifestDescriptor: Descriptor, from source: BlobReader, repoTags: [String], to file: String) throws {
        let manifest = try source.readDocument(ImageManifest.self, manifestDescriptor, kind: "image manifest")
        let configBytes = try source.readBlob(manifest.config)
        let config = try CanonicalJSON.decode(ImageConfiguration.self, from: configBytes, kind: "image config")
        guard config.rootfs.diff_ids.count == manifest.layers.count else {
            throw OCIError.invalidDocument(kind: "image config", reason: "\(config.rootfs.diff_ids.count) diff_ids for \(manifest.layers.count) layers")
        }
        let scratch = try wrapArchive { try FileSystem.makeTemporaryDirectory(prefix: "harden-docker-archive") }
        defer { try? FileSystem.remove(scratch) }

        // Uncompress each layer once to a scratch file, checking its diff ID.
        var layerFiles: [(name: String, path: String, size: Int64)] = []
        for (layer, diffID) in zip(manifest.layers, config.rootfs.diff_ids) where !layerFiles.contains(where: { $0.name == "\(diffID.hex).tar" }) {
            guard let compression = MediaType.layerCompression(layer.mediaType).flatMap(Compression.init(rawValue:)) else {
                throw OCIError.unsupportedMediaType(layer.mediaType)
            }
            let path = scratch + "/\(diffID.hex).tar"
            let hashing = HashingSink(try wrapArchive { try FileSink(path: path, sync: false) })
            try wrapArchive {
                _ = try compression.decompressing(try source.openBlob(layer)).pump(into: hashing)
                try hashing.finish()
            }
            guard hashing.hexDigest == diffID.hex else {
                throw OCIError.digestMismatch(expected: diffID.description, actual: "sha256:" + (hashing.hexDigest ?? ""))
            }
            layerFiles.append(("\(diffID.hex).tar", path, hashing.count))
        }
        let entry = Entry(Config: "\(manifest.config.digest.hex).json", RepoTags: repoTags.isEmpty ? nil : repoTags,
                          Layers: config.rootfs.diff_ids.map { "\($0.hex).tar" })
        let manifestJSON = try CanonicalJSON.encode([entry])

        var members: [(name: String, write: (TarWriter) throws -> Void)] = [
            (entry.Config, { try $0.append(.file(entry.Config, size: 0), bytes: configBytes) }),
            ("manifest.json", { try $0.append(.file("manifest.json", size: 0), bytes: manifestJSON) }),
        ]
        for layer in layerFiles {
            members.append((layer.name, { try $0.append(.file(layer.name, size: layer.size), contents: try FileSource(path: layer.path)) }))
        }
        members.sort { TarPath.canonicallyPrecedes($0.name, $1.name) }
        try wrapArchive {
            try FileSystem.writeAtomically(file) { sink in
                let tar = TarWriter(sink)
                for member in members { try member.write(tar) }
                try tar.finish()
            }
        }
    }

    /// What one pass over a docker-archive's headers finds: its members, the image chosen from
    /// `manifest.json` and that image's config.
    struct Contents {
        var index: TarIndex
        var entry: Entry
        var configBytes: [UInt8]
        var config: ImageConfiguration

        /// Indexes `file` and picks the image named `name` (or the only one).
        init(file: String, name: String?) throws {
            let index = try wrapArchive { try TarIndex(file: file) }
            self.index = index
            guard let manifestBytes = try wrapArchive({ try index.read("manifest.json", limit: 16 << 20) }) else {
                throw OCIError.invalidDocument(kind: "docker-archive", reason: "no manifest.json in \(file)")
            }
            let entries = try CanonicalJSON.decode([Entry].self, from: manifestBytes, kind: "docker-archive manifest.json")
            if let name {
                let wanted = try RegistryReference(parsing: name)
                guard let match = entries.first(where: { $0.RepoTags?.contains { (try? RegistryReference(parsing: $0)) == wanted } ?? false }) else {
                    throw OCIError.notFound("\(name) in \(file)")
                }
                entry = match
            } else {
                guard entries.count == 1, let only = entries.first else {
                    throw OCIError.notFound("a single image in \(file): it holds \(entries.count); name one as docker-archive:FILE:NAME:TAG")
                }
                entry = only
            }
            let configPath = entry.Config
            guard let bytes = try wrapArchive({ try index.read(configPath, limit: 4 << 20) }) else {
                throw OCIError.invalidDocument(kind: "docker-archive", reason: "config \(configPath) is missing")
            }
            configBytes = bytes
            config = try CanonicalJSON.decode(ImageConfiguration.self, from: bytes, kind: "image config")
            guard config.rootfs.diff_ids.count == entry.Layers.count else {
                throw OCIError.invalidDocument(kind: "docker-archive", reason: "\(entry.Layers.count) layers for \(config.rootfs.diff_ids.count) diff_ids")
            }
        }

        /// The member holding layer `path`.
        func member(_ path: String) throws -> TarIndex.Member {
            guard let member = index.members[path] else {
                throw OCIError.invalidDocument(kind: "docker-archive", reason: "layer \(path) is missing")
            }
            return member
        }

        /// The compression of a layer member, from its first bytes.
        func compression(of member: TarIndex.Member) throws -> Compression {
            try wrapArchive { Compression.detect(try PeekableSource(try index.open(member)).peek(6)) }
        }

        /// The image manifest of `layers`, as `ImageLayout.writeDocument` stores it.
        func manifest(layers: [Descriptor]) throws -> (bytes: [UInt8], descriptor: Descriptor) {
            let configDescriptor = Descriptor(mediaType: MediaType.imageConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count))
            let bytes = try CanonicalJSON.encode(ImageManifest(config: configDescriptor, layers: layers))
            var descriptor = Descriptor(mediaType: MediaType.imageManifest, digest: Digest.of(bytes), size: Int64(bytes.count))
            descriptor.platform = config.platform
            return (bytes, descriptor)
        }
    }

    /// Imports the image named `name` (or the only image) from the docker-archive at `file` into
    /// `layout` as an OCI image, and returns its manifest descriptor. Layer bytes are checked
    /// against the config's diff IDs.
    public static func importImage(from file: String, name: String?, into layout: ImageLayout) throws -> Descriptor {
        let contents = try Contents(file: file, name: name)
        // Each layer streams into the layout, keeping its compression; its diff ID is checked at
        // every position that names it.
        var stored: [String: (descriptor: Descriptor, diffID: Digest)] = [:]
        for (path, expected) in zip(contents.entry.Layers, contents.config.rootfs.diff_ids) {
            if let known = stored[path] {
                guard known.diffID == expected else {
                    throw OCIError.digestMismatch(expected: expected.description, actual: known.diffID.description)
                }
                continue
            }
            let member = try contents.member(path)
            let compression = try contents.compression(of: member)
            let descriptor = try layout.writeBlob(mediaType: try MediaType.layer(compression: compression)) { sink in
                _ = try wrapArchive { try contents.index.open(member).pump(into: sink) }
            }
            let diffID = try DockerArchive.diffID(of: descriptor, compression: compression, in: layout)
            guard diffID == expected else {
                throw OCIError.digestMismatch(expected: expected.description, actual: diffID.description)
            }
            stored[path] = (descriptor, diffID)
        }
        let layers = contents.entry.Layers.compactMap { stored[$0]?.descriptor }
        _ = try layout.writeBlob(contents.configBytes, mediaType: MediaType.imageConfig)
        let (bytes, descriptor) = try contents.manifest(layers: layers)
        _ = try layout.writeBlob(bytes, mediaType: MediaType.imageManifest)
        return descriptor
    }

    /// Opens the image named `name` (or the only image) of the docker-archive at `file` where it
    /// lies, without copying it: its layers are read from the file, each verified against its
    /// diff ID as it is read. Nil when a layer is compressed (its digest is then unknown until
    /// the whole layer is read: `importImage` handles it).
    public static func openInPlace(_ file: String, name: String?) throws -> (reader: BlobReader, manifest: Descriptor)? {
        let contents = try Contents(file: file, name: name)
        var members: [Digest: TarIndex.Member] = [:]
        var layers: [Descriptor] = []
        for (path, diffID) in zip(contents.entry.Layers, contents.config.rootfs.diff_ids) {
            let member = try contents.member(path)
            guard try contents.compression(of: member) == .none else { return nil }
            if let known = members[diffID], known != member {
                throw OCIError.invalidDocument(kind: "docker-archive", reason: "diff_id \(diffID) names two different layers")
            }
            members[diffID] = member
            layers.append(Descriptor(mediaType: MediaType.layerTar, digest: diffID, size: member.size))
        }
        let (bytes, descriptor) = try contents.manifest(layers: layers)
        let documents = [Digest.of(contents.configBytes): contents.configBytes, descriptor.digest: bytes]
        return (ArchiveBlobs(index: contents.index, members: members, documents: documents), descriptor)
    }

    /// The digest of a layer's uncompressed tar, computed by reading the stored blob.
    static func diffID(of layer: Descriptor, compression: Compression, in reader: BlobReader) throws -> Digest {
        if compression == .none { return layer.digest }
        let hashing = HashingSource(try compression.decompressing(try reader.openBlob(layer)))
        try hashing.pump(into: CountingSink())
        return try Digest(hex: hashing.hexDigest())
    }
}

/// Blobs read where they lie in a tar file (and documents held in memory), each verified
/// against its descriptor as it is read.
struct ArchiveBlobs: BlobReader {
    let index: TarIndex
    let members: [Digest: TarIndex.Member]
    let documents: [Digest: [UInt8]]

    func openBlob(_ descriptor: Descriptor) throws -> ByteSource {
        if let bytes = documents[descriptor.digest] { return VerifyingSource(MemorySource(bytes), expected: descriptor) }
        guard let member = members[descriptor.digest] else { throw OCIError.blobNotFound(descriptor.digest.description) }
        return VerifyingSource(try wrapArchive { try index.open(member) }, expected: descriptor)
    }
}
