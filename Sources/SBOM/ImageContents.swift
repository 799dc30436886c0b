import Archive
import OCI

/// Every entry of an image's merged filesystem with its metadata, and its package inventory,
/// from one read of its layers (whiteouts and opaque directories honoured). What `harden audit`
/// and `harden diff` measure.
public struct ImageContents {
    /// One path of the merged filesystem.
    public struct Entry: Sendable, Equatable {
        public enum Kind: String, Sendable, Codable { case file, directory, symlink, other }
        /// Absolute (`/usr/bin/python3.11`).
        public var path: String
        public var kind: Kind
        /// Permission bits with setuid (04000), setgid (02000) and sticky (01000).
        public var mode: UInt32
        public var uid: Int
        public var gid: Int
        /// Bytes of a regular file (0 for everything else).
        public var size: Int64
        /// What the `sniff` given to `read` said of the file's first bytes.
        public var mark: String?

        /// A regular file anyone may execute, its owner or group included.
        public var isExecutable: Bool { kind == .file && mode & 0o111 != 0 }
        /// A regular file that runs with its owner's or group's rights.
        public var isSetID: Bool { kind == .file && mode & 0o6000 != 0 }
        /// A file or directory anyone may write to (a symlink's mode means nothing).
        public var isWorldWritable: Bool { (kind == .file || kind == .directory) && mode & 0o002 != 0 }
        /// A directory whose entries only their owners may remove (`/tmp`).
        public var isSticky: Bool { kind == .directory && mode & 0o1000 != 0 }
    }

    /// Every path, sorted.
    public let entries: [Entry]
    /// The package inventory; nil when the image has no package database (`inventoryProblem` says so).
    public let inventory: ImageInventory?
    public let inventoryProblem: String?
    /// The platform image's config.
    public let config: ImageConfiguration
    /// The platform manifest read.
    public let manifest: Descriptor
    /// The compressed size of its layers, as stored.
    public let layerBytes: Int64
    private let files: LayerFiles

    /// Reads the platform manifest `manifest` (an index with one manifest is accepted). `sniff`
    /// sees the first `sniffLength` bytes of every regular file; what it returns is the entry's
    /// `mark`. An unreadable or hostile layer is an error; a missing package database is not.
    public static func read(manifest: Descriptor, from reader: BlobReader, imageName: String,
                            sniff: ((String, [UInt8]) -> String?)? = nil) throws -> ImageContents {
        let platformManifest: Descriptor
        let imageManifest: ImageManifest
        let config: ImageConfiguration
        do {
            platformManifest = try ImageGraph.manifest(for: nil, under: manifest, in: reader)
            imageManifest = try reader.readDocument(ImageManifest.self, platformManifest, kind: "image manifest")
            config = try reader.readDocument(ImageConfiguration.self, imageManifest.config, kind: "image config")
        } catch {
            throw SBOMError.invalidImage(imageName, reason: "\(error)")
        }
        var files = LayerFiles()
        files.wanted = { _, _ in true }
        files.keepsContents = { LayerFiles.isWanted($0, kind: .regular) || keptContents.contains($0) }
        files.keepsAttributes = true
        files.refusesHazards = true
        files.sniff = sniff
        for layer in imageManifest.layers { try files.apply(layer: layer, from: reader) }
        var inventory: ImageInventory?
        var problem: String?
        do {
            inventory = try ImageInventory.inventory(of: files, imageName: imageName, digest: platformManifest.digest,
                                                     architecture: config.architecture)
            inventory?.created = config.created
        } catch {
            problem = "\(error)"
        }
        let entries = files.attributes.map { path, attributes in
            let kind: Entry.Kind = switch attributes.kind {
            case .regular: .file
            case .directory: .directory
            case .symlink: .symlink
            default: .other
            }
            return Entry(path: "/" + path, kind: kind, mode: attributes.mode & 0o7777, uid: attributes.uid, gid: attributes.gid,
                         size: attributes.size, mark: attributes.mark)
        }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return ImageContents(entries: entries, inventory: inventory, inventoryProblem: problem, config: config,
                             manifest: platformManifest, layerBytes: imageManifest.layers.reduce(0) { $0 + $1.size }, files: files)
    }

    /// Files whose contents are kept besides the inventory's: the account databases.
    private static let keptContents: Set<String> = ["etc/passwd", "etc/group"]

    /// Which of `paths` (absolute) lead to regular files, through any symlinks; each named once,
    /// where it really is (`/bin/sh` is `/usr/bin/sh` in a merged-/usr image), in the order given.
    public func existing(_ paths: [String]) -> [String] {
        var seen: Set<String> = []
        return paths.compactMap { path in
            let relative = path.hasPrefix("/") ? String(path.dropFirst()) : path
            guard files.resolve(relative) != nil else { return nil }
            let location = "/" + files.canonical(relative)
            return seen.insert(location).inserted ? location : nil
        }
    }

    /// The contents of `/etc/passwd` (empty when the image has none).
    public var passwd: String { String(decoding: files.file("etc/passwd") ?? [], as: UTF8.self) }
}
