import Archive
import Foundation
import Crypto
import OCI

/// The few files of an image's merged filesystem that an inventory needs, read layer by layer
/// with whiteouts and opaque directories applied as a container runtime would.
struct LayerFiles {
    enum Node: Equatable {
        case file([UInt8])
        /// A regular file whose contents were hashed, not kept.
        case hashed(FileDigest)
        case symlink(String)

        var isFile: Bool {
            switch self {
            case .file, .hashed: true
            case .symlink: false
            }
        }
    }

    /// What identifies a file's contents in an SBOM.
    struct FileDigest: Equatable {
        var size: Int64
        var sha1: String
        var sha256: String
    }

    /// What a kept entry is besides its contents (with `keepsAttributes`); directories are kept
    /// here only, not in `nodes`.
    struct Attributes: Equatable {
        var kind: TarEntry.Kind
        var mode: UInt32
        var uid: Int
        var gid: Int
        var size: Int64
        /// What `sniff` said about the file's first bytes.
        var mark: String?
    }

    /// The most entries kept: a hostile image of millions of tiny files is refused, not walked.
    static let nodeLimit = 2_000_000

    /// Kept entries by clean relative path (no leading `/`).
    private(set) var nodes: [String: Node] = [:]
    /// Kept entries' metadata, directories included, when `keepsAttributes` is set.
    private(set) var attributes: [String: Attributes] = [:]

    /// Which entries to keep (by default, what an inventory reads).
    var wanted: (String, TarEntry.Kind) -> Bool = LayerFiles.isWanted
    /// Which kept regular files keep their contents (the others only their presence, as empty
    /// files, or with `hashesContents` their digests).
    var keepsContents: (String) -> Bool = { _ in true }
    /// Whether regular files whose contents are not kept are hashed as they stream by.
    var hashesContents = false
    /// Whether a hostile entry (absolute path, `..`, a write through a symlink) fails the read
    /// instead of being skipped: a runtime may still extract it, so a check must not miss it.
    var refusesHazards = false
    /// Whether the metadata of every wanted entry (directories too) is kept in `attributes`.
    var keepsAttributes = false
    /// Looks at the first `sniffLength` bytes of each wanted regular file whose contents are not
    /// kept (and not hashed); what it returns is kept as the file's `mark`.
    var sniff: ((String, [UInt8]) -> String?)?
    static let sniffLength = 8192

    /// Largest single file kept (a dpkg status of a big image is a few MiB).
    static let fileLimit = 64 << 20

    /// Whether `path` (relative, clean) is one the inventory reads.
    static func isWanted(_ path: String, kind: TarEntry.Kind) -> Bool {
        switch path {
        case "etc/os-release", "usr/lib/os-release", "etc/debian_version", "var/lib/dpkg/status":
            return true
        default:
            break
        }
        if path.hasPrefix("var/lib/dpkg/status.d/") {
            return !path.dropFirst("var/lib/dpkg/status.d/".count).contains("/")
        }
        if path.hasPrefix("var/lib/dpkg/info/") {
            let name = path.dropFirst("var/lib/dpkg/info/".count)
            return !name.contains("/") && (name.hasSuffix(".list") || name.hasSuffix(".md5sums"))
        }
        if path.hasPrefix("usr/share/doc/") {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 4 { return kind == .symlink }
            return parts.count == 5 && parts[4] == "copyright"
        }
        // Symlinked parents of the wanted paths.
        return ["etc", "usr", "usr/lib", "usr/share", "usr/share/doc", "var", "var/lib", "var/lib/dpkg"].contains(path) && kind == .symlink
    }

    /// Applies one layer (`digest` names it in errors) on top of what is kept so far.
    /// Reads the wanted files of a root filesystem directory (an unpacked image), descending only
    /// into the directories that can hold them; a symlinked directory is kept as the symlink.
    mutating func add(directory root: String, relative: String = "") throws {
        let here = relative.isEmpty ? root : root + "/" + relative
        for name in try FileSystem.listDirectory(here).sorted() {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var st = stat()
            guard lstat(full, &st) == 0 else { throw SBOMError.invalidImage(root, reason: "cannot stat \(full): errno \(errno)") }
            switch st.st_mode & S_IFMT {
            case S_IFLNK where wanted(path, .symlink):
                nodes[path] = .symlink(try DirectoryArchiver.readLink(full))
            case S_IFREG where wanted(path, .regular):
                nodes[path] = .file(try FileSystem.read(full, limit: Self.fileLimit))
            case S_IFDIR where Self.leadsToWanted(path):
                try add(directory: root, relative: path)
            default:
                continue
            }
            guard nodes.count <= Self.nodeLimit else {
                throw SBOMError.invalidImage(root, reason: "more than \(Self.nodeLimit) files")
            }
        }
    }

    /// Whether a directory can hold a wanted path.
    static func leadsToWanted(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        if parts.count == 4 && path.hasPrefix("usr/share/doc/") { return true }
        return ["etc", "usr", "usr/lib", "usr/share", "usr/share/doc", "var", "var/lib", "var/lib/dpkg",
                "var/lib/dpkg/status.d", "var/lib/dpkg/info"].contains(path)
    }

    mutating func apply(layer descriptor: Descriptor, from reader: BlobReader) throws {
        let name = descriptor.digest.description
        let compression: Compression
        if let known = MediaType.layerCompression(descriptor.mediaType).flatMap(Compression.init(rawValue:)) {
            compression = known
        } else {
            throw SBOMError.unreadableLayer(name, reason: "unsupported layer media type \(descriptor.mediaType)")
        }
        var added: [String: Node] = [:]
        var addedAttributes: [String: Attributes] = [:]
        var addedOrder: [String] = []
        var whiteouts: [String] = []
        var opaque: [String] = []
        var replaced: [String] = []
        // Directories that hold kept entries of lower layers: only these can be hidden by a non-directory.
        var lowerDirectories: Set<String> = []
        for key in Array(nodes.keys) + Array(attributes.keys) {
            var parts = key.split(separator: "/").dropLast()
            while !parts.isEmpty {
                lowerDirectories.insert(parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        do {
            let tar = TarReader(try compression.decompressing(try reader.openBlob(descriptor)), policy: .report)
            while let entry = try tar.next() {
                if let hazard = tar.hazards.first, refusesHazards {
                    throw SBOMError.unreadableLayer(name, reason: "hostile entry \(entry.path): \(hazard)")
                }
                if !tar.hazards.isEmpty || entry.path == "." || entry.path.isEmpty { continue }
                // Paths from the tar reader are clean: the parent is everything before the last slash.
                let slash = entry.path.utf8.lastIndex(of: UInt8(ascii: "/"))
                let base = slash.map { entry.path[entry.path.index(after: $0)...] } ?? Substring(entry.path)
                if base.hasPrefix(".wh.") {
                    let parent = slash.map { String(entry.path[..<$0]) } ?? ""
                    if base == ".wh..wh..opq" {
                        opaque.append(parent)
                        continue
                    }
                    let target = String(base.dropFirst(4))
                    if !target.isEmpty && target != "." && target != ".." {
                        whiteouts.append(parent.isEmpty ? target : parent + "/" + target)
                    }
                    continue
                }
                // Anything that is not a directory hides what lower layers had below it.
                if nodes[entry.path] != nil || (entry.kind != .directory && lowerDirectories.contains(entry.path)) {
                    replaced.append(entry.path)
                }
                guard wanted(entry.path, entry.kind) else {
                    if added[entry.path] != nil { added[entry.path] = nil }
                    addedAttributes[entry.path] = nil
                    continue
                }
                let node: Node?
                var mark: String?
                switch entry.kind {
                case .regular:
                    if keepsContents(entry.path) {
                        node = .file(try tar.readContents(limit: LayerFiles.fileLimit))
                    } else if hashesContents {
                        node = .hashed(try Self.digest(of: tar.contents))
                    } else {
                        if let sniff { mark = sniff(entry.path, try Self.prefix(of: tar.contents, count: Self.sniffLength)) }
                        node = .file([])
                    }
                case .symlink:
                    node = .symlink(entry.linkTarget)
                case .hardlink:
                    node = added[entry.linkTarget] ?? nodes[entry.linkTarget]
                default:
                    node = nil
                }
                if added[entry.path] == nil && addedAttributes[entry.path] == nil { addedOrder.append(entry.path) }
                added[entry.path] = node
                if keepsAttributes {
                    addedAttributes[entry.path] = entry.kind == .hardlink
                        ? addedAttributes[entry.linkTarget] ?? attributes[entry.linkTarget]
                        : Attributes(kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                                     size: entry.kind == .regular ? entry.size : 0, mark: mark)
                }
            }
        } catch let error as SBOMError {
            throw error
        } catch {
            throw SBOMError.unreadableLayer(name, reason: "\(error)")
        }
        // Whiteouts and opaque markers only hide lower layers; then this layer's entries land.
        // Only a path that held lower entries needs the scan below it (files have no children).
        for path in whiteouts + replaced {
            nodes[path] = nil
            attributes[path] = nil
            if lowerDirectories.contains(path) { remove(below: path) }
        }
        for directory in opaque where directory.isEmpty || lowerDirectories.contains(directory) { remove(below: directory) }
        for path in addedOrder {
            nodes[path] = added[path]
            if keepsAttributes { attributes[path] = addedAttributes[path] }
        }
        guard nodes.count <= Self.nodeLimit && attributes.count <= Self.nodeLimit else {
            throw SBOMError.unreadableLayer(name, reason: "more than \(Self.nodeLimit) files in the image")
        }
    }

    /// Drops every kept entry below `path` (all of them for the root, "").
    private mutating func remove(below path: String) {
        let prefix = path.isEmpty ? "" : path + "/"
        for key in nodes.keys where key.hasPrefix(prefix) && key != path {
            nodes[key] = nil
        }
        for key in attributes.keys where key.hasPrefix(prefix) && key != path {
            attributes[key] = nil
        }
    }

    /// Resolves symlinks along `path` (relative to the root); nil when it leads nowhere kept.
    func resolve(_ path: String) -> String? {
        guard let result = follow(path.split(separator: "/").map(String.init)) else { return nil }
        return nodes[result]?.isFile == true ? result : nil
    }

    /// Where the entry named `path` lives once the directories on the way are resolved (the last
    /// component is not followed); nil unless that entry is a kept file.
    func location(_ path: String) -> String? {
        var parts = path.split(separator: "/").map(String.init)
        guard let last = parts.popLast(), let parent = follow(parts) else { return nil }
        let result = parent.isEmpty ? last : parent + "/" + last
        return nodes[result]?.isFile == true ? result : nil
    }

    /// `path` with the directories on the way resolved (the last component is not followed).
    func canonical(_ path: String) -> String {
        var parts = path.split(separator: "/").map(String.init)
        guard let last = parts.popLast(), let parent = follow(parts) else { return path }
        return parent.isEmpty ? last : parent + "/" + last
    }

    /// `parts` with every symlink among them followed (at most 16 hops); nil on a loop.
    private func follow(_ parts: [String]) -> String? {
        var pending = parts
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = (resolved + [part]).joined(separator: "/")
            if case .symlink(let target)? = nodes[candidate] {
                hops += 1
                if hops > 16 { return nil }
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            resolved.append(part)
        }
        return resolved.joined(separator: "/")
    }

    /// Every regular file kept, with its digest, sorted by path.
    func regularFiles() -> [(path: String, digest: FileDigest)] {
        nodes.compactMap { path, node -> (path: String, digest: FileDigest)? in
            switch node {
            case .file(let bytes): (path, FileDigest(size: Int64(bytes.count), sha1: sha1Hex(bytes), sha256: sha256Hex(bytes)))
            case .hashed(let digest): (path, digest)
            case .symlink: nil
            }
        }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// SHA-1 and SHA-256 of a stream, in one pass with a fixed buffer.
    static func digest(of source: ByteSource) throws -> FileDigest {
        var sha1 = Insecure.SHA1()
        var sha256 = SHA256()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { break }
            buffer.withUnsafeBytes { bytes in
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[0..<count])
                sha1.update(bufferPointer: chunk)
                sha256.update(bufferPointer: chunk)
            }
            size += Int64(count)
        }
        return FileDigest(size: size, sha1: hexString(sha1.finalize()), sha256: hexString(sha256.finalize()))
    }

    /// Up to `count` bytes from the start of a stream (the rest is left unread).
    static func prefix(of source: ByteSource, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let read = try bytes.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if read == 0 { break }
            filled += read
        }
        return Array(bytes[0..<filled])
    }

    /// The contents of the regular file at `path` after following symlinks, if kept.
    func file(_ path: String) -> [UInt8]? {
        guard let real = resolve(path), case .file(let bytes)? = nodes[real] else { return nil }
        return bytes
    }

    /// Kept regular files directly inside `directory`, sorted by name.
    func files(in directory: String) -> [(name: String, bytes: [UInt8])] {
        let prefix = directory + "/"
        return nodes.compactMap { key, node -> (name: String, bytes: [UInt8])? in
            guard key.hasPrefix(prefix), case .file(let bytes) = node else { return nil }
            let name = String(key.dropFirst(prefix.count))
            return name.contains("/") ? nil : (name, bytes)
        }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Whether anything is kept at or below `path`.
    func hasAnything(under path: String) -> Bool {
        nodes.keys.contains { $0 == path || $0.hasPrefix(path + "/") }
    }
}
