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

    /// Imports the image named `name` (or the only image) from the docker-archive at `file` into
    /// `layout` as an OCI image, and returns its manifest descriptor. Layer bytes are checked
    /// against the config's diff IDs.
    public static func importImage(from file: String, name: String?, into layout: ImageLayout) throws -> Descriptor {
        // Pass 1: manifest.json, wherever it is in the tar (nothing else is kept in memory).
        let manifestBytes = try readMember("manifest.json", of: file, limit: 16 << 20)
        guard let manifestBytes else { throw OCIError.invalidDocument(kind: "docker-archive", reason: "no manifest.json in \(file)") }
        let entries = try CanonicalJSON.decode([Entry].self, from: manifestBytes, kind: "docker-archive manifest.json")
        let chosen: Entry
        if let name {
            let wanted = try RegistryReference(parsing: name)
            guard let match = entries.first(where: { $0.RepoTags?.contains { (try? RegistryReference(parsing: $0)) == wanted } ?? false }) else {
                throw OCIError.notFound("\(name) in \(file)")
            }
            chosen = match
        } else {
            guard entries.count == 1, let only = entries.first else {
                throw OCIError.notFound("a single image in \(file): it holds \(entries.count); name one as docker-archive:FILE:NAME:TAG")
            }
            chosen = only
        }
        // Pass 2: the one config it names.
        guard let configBytes = try readMember(chosen.Config, of: file, limit: 4 << 20) else {
            throw OCIError.invalidDocument(kind: "docker-archive", reason: "config \(chosen.Config) is missing")
        }
        let config = try CanonicalJSON.decode(ImageConfiguration.self, from: configBytes, kind: "image config")
        guard config.rootfs.diff_ids.count == chosen.Layers.count else {
            throw OCIError.invalidDocument(kind: "docker-archive", reason: "\(chosen.Layers.count) layers for \(config.rootfs.diff_ids.count) diff_ids")
        }

        // Pass 3: stream each layer into the layout, keeping its compression, and check its diff ID
        // at every position that names it.
        var stored: [String: Descriptor] = [:]
        try wrapArchive {
            let tar = TarReader(try FileSource(path: file))
            while let member = try tar.next() {
                guard member.kind == .regular, chosen.Layers.contains(member.path), stored[member.path] == nil else { continue }
                let peek = PeekableSource(tar.contents)
                let compression = Compression.detect(try peek.peek(6))
                let mediaType = try MediaType.layer(compression: compression)
                let descriptor = try layout.writeBlob(mediaType: mediaType) { sink in _ = try peek.pump(into: sink) }
                let diffID = try DockerArchive.diffID(of: descriptor, compression: compression, in: layout)
                for position in chosen.Layers.indices where chosen.Layers[position] == member.path {
                    guard diffID == config.rootfs.diff_ids[position] else {
                        throw OCIError.digestMismatch(expected: config.rootfs.diff_ids[position].description, actual: diffID.description)
                    }
                }
                stored[member.path] = descriptor
            }
        }
        let layers = try chosen.Layers.map { path in
            guard let descriptor = stored[path] else {
                throw OCIError.invalidDocument(kind: "docker-archive", reason: "layer \(path) is missing")
            }
            return descriptor
        }
        let configDescriptor = try layout.writeBlob(configBytes, mediaType: MediaType.imageConfig)
        var manifest = try layout.writeDocument(ImageManifest(config: configDescriptor, layers: layers), mediaType: MediaType.imageManifest)
        manifest.platform = config.platform
        return manifest
    }

    /// The bytes of one regular member of a tar file, or nil when it has none by that name.
    private static func readMember(_ name: String, of file: String, limit: Int) throws -> [UInt8]? {
        try wrapArchive {
            let tar = TarReader(try FileSource(path: file))
            while let member = try tar.next() {
                if member.kind == .regular && member.path == name { return try tar.readContents(limit: limit) }
            }
            return nil
        }
    }

    /// The digest of a layer's uncompressed tar, computed by reading the stored blob.
    static func diffID(of layer: Descriptor, compression: Compression, in reader: BlobReader) throws -> Digest {
        if compression == .none { return layer.digest }
        let hashing = HashingSource(try compression.decompressing(try reader.openBlob(layer)))
        try hashing.pump(into: CountingSink())
        return try Digest(hex: hashing.hexDigest())
    }
}
