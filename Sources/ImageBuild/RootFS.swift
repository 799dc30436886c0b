import Archive
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File contents kept out of memory: an append-only temporary file, read back by range.
/// The file is unlinked as soon as it is opened, so nothing is left behind.
public final class ContentSpool: @unchecked Sendable {
    private let fd: Int32
    private var end: Int64 = 0
    private let lock = NSLock()

    /// A range of the spool, with the SHA-256 of its bytes.
    public struct Range: Sendable, Hashable {
        public var offset: Int64
        public var length: Int64
        public var sha256: String
    }

    public init(directory: String) throws {
        let path = FileSystem.temporaryName(beside: directory + "/spool")
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArchiveError.io(path: path, operation: "create spool", errno: errno) }
        unlink(path)
    }

    deinit { close(fd) }

    /// Appends `length` bytes read from `source`.
    public func append(from source: ByteSource, length: Int64) throws -> Range {
        lock.lock()
        defer { lock.unlock() }
        let start = end
        let sink = SpoolSink(fd: fd, offset: start)
        let hashing = HashingSink(sink)
        let copied = try LimitedSource(source, limit: length).pump(into: hashing)
        try hashing.finish()
        guard copied == length else { throw ArchiveError.truncated("file contents ended after \(copied) of \(length) bytes") }
        end += length
        return Range(offset: start, length: length, sha256: hashing.hexDigest ?? "")
    }

    /// Appends bytes held in memory.
    public func append(_ bytes: [UInt8]) throws -> Range {
        try append(from: MemorySource(bytes), length: Int64(bytes.count))
    }

    /// A source over a range (independent of other readers: positioned reads).
    public func source(_ range: Range) -> ByteSource { SpoolSource(fd: fd, offset: range.offset, length: range.length) }

    /// Reads a whole range into memory.
    public func read(_ range: Range, limit: Int = 64 << 20) throws -> [UInt8] { try source(range).readAll(limit: limit) }

    private final class SpoolSink: ByteSink {
        let fd: Int32
        var offset: Int64
        init(fd: Int32, offset: Int64) { self.fd = fd; self.offset = offset }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.io(path: "spool", operation: "write", errno: errno)
                }
                done += n
                offset += Int64(n)
            }
        }
        func finish() throws {}
    }

    private final class SpoolSource: ByteSource {
        let fd: Int32
        var offset: Int64
        var remaining: Int64
        init(fd: Int32, offset: Int64, length: Int64) { self.fd = fd; self.offset = offset; remaining = length }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            guard remaining > 0, let base = buffer.baseAddress else { return 0 }
            let want = Int(min(Int64(buffer.count), remaining))
            while true {
                let n = pread(fd, base, want, off_t(offset))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.io(path: "spool", operation: "read", errno: errno)
                }
                if n == 0 { throw ArchiveError.truncated("spool ended early") }
                offset += Int64(n)
                remaining -= Int64(n)
                return n
            }
        }
    }
}

/// One node of an image's file tree.
public struct FileNode: Sendable, Equatable {
    public var kind: TarEntry.Kind
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var modificationTime: Int64
    public var linkTarget: String
    public var content: ContentSpool.Range?
    public var xattrs: [String: [UInt8]]
    /// The package that installed it (nil for what Harden generated).
    public var package: String?
    public var deviceMajor: UInt32 = 0
    public var deviceMinor: UInt32 = 0

    public var size: Int64 { content?.length ?? 0 }
}

/// Errors while assembling a root file system.
public enum AssemblyError: Error, Sendable, Equatable, CustomStringConvertible {
    case pathConflict(path: String, first: String, second: String)
    case hostileEntry(package: String, path: String, reason: String)
    case invalidPackage(package: String, reason: String)
    /// A package past one of the limits on hostile input (a decompression bomb, a huge entry).
    case overLimit(package: String, reason: String)
    case invalidPath(String, reason: String)

    public var description: String {
        switch self {
        case .pathConflict(let path, let first, let second): "/\(path) is installed by both \(first) and \(second) with different contents"
        case .hostileEntry(let package, let path, let reason): "refusing \(package): entry '\(path)' \(reason)"
        case .invalidPackage(let package, let reason): "\(package): \(reason)"
        case .overLimit(let package, let reason): "refusing \(package): \(reason)"
        case .invalidPath(let path, let reason): "\(path): \(reason)"
        }
    }
}

/// An image's file tree in memory (metadata) with contents in a spool. Paths are relative
/// (`usr/bin/env`), laid out merged-/usr: `bin`, `sbin`, `lib*` are symlinks into `usr`.
public final class RootFS: @unchecked Sendable {
    public private(set) var nodes: [String: FileNode] = [:]
    public let spool: ContentSpool
    public let epoch: Int64

    /// Top-level directories that merged-/usr turns into symlinks.
    public static let mergedDirectories = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]

    public init(spool: ContentSpool, epoch: Int64) {
        self.spool = spool
        self.epoch = epoch
        nodes["usr"] = Self.directory(0o755)
        for name in Self.mergedDirectories {
            nodes[name] = FileNode(kind: .symlink, mode: 0o777, uid: 0, gid: 0, modificationTime: epoch, linkTarget: "usr/\(name)",
                                   content: nil, xattrs: [:], package: nil)
        }
    }

    static func directory(_ mode: UInt32, uid: Int = 0, gid: Int = 0) -> FileNode {
        FileNode(kind: .directory, mode: mode, uid: uid, gid: gid, modificationTime: 0, linkTarget: "", content: nil, xattrs: [:], package: nil)
    }

    /// Rewrites a path for merged-/usr: `bin/ls` → `usr/bin/ls`.
    public static func merged(_ path: String) -> String {
        guard let first = path.split(separator: "/", maxSplits: 1).first else { return path }
        if mergedDirectories.contains(String(first)) { return "usr/" + path }
        return path
    }

    public subscript(path: String) -> FileNode? {
        get { nodes[path] }
    }

    /// Adds or replaces a node, creating missing parent directories (0755 root).
    public func set(_ path: String, _ node: FileNode) {
        ensureParents(of: path)
        var node = node
        node.modificationTime = min(node.modificationTime, epoch)
        nodes[path] = node
    }

    public func remove(_ path: String) { nodes.removeValue(forKey: path) }

    /// Removes a path and everything below it; returns what was removed.
    @discardableResult
    public func removeTree(_ path: String) -> [String] {
        let prefix = path + "/"
        let removed = nodes.keys.filter { $0 == path || $0.hasPrefix(prefix) }
        for key in removed { nodes.removeValue(forKey: key) }
        return removed.sorted()
    }

    /// Paths in canonical order.
    public var sortedPaths: [String] { nodes.keys.sorted(by: TarPath.canonicallyPrecedes) }

    private func ensureParents(of path: String) {
        var parent = FileSystem.parentPath(path)
        var missing: [String] = []
        while !parent.isEmpty && parent != "/" && nodes[parent] == nil {
            missing.append(parent)
            parent = FileSystem.parentPath(parent)
        }
        for dir in missing {
            var node = Self.directory(0o755)
            node.modificationTime = epoch
            nodes[dir] = node
        }
    }

    /// Adds a file with generated contents.
    public func writeFile(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0) throws {
        let range = try spool.append(bytes)
        set(path, FileNode(kind: .regular, mode: mode, uid: uid, gid: gid, modificationTime: epoch, linkTarget: "",
                           content: range, xattrs: [:], package: nil))
    }

    /// Adds a directory (or updates an existing one's owner and mode).
    public func makeDirectory(_ path: String, mode: UInt32 = 0o755, uid: Int = 0, gid: Int = 0) {
        var node = Self.directory(mode, uid: uid, gid: gid)
        node.modificationTime = epoch
        set(path, node)
    }

    public func makeSymlink(_ path: String, to target: String) {
        set(path, FileNode(kind: .symlink, mode: 0o777, uid: 0, gid: 0, modificationTime: epoch, linkTarget: target,
                           content: nil, xattrs: [:], package: nil))
    }

    /// Reads a regular file's contents (following no links).
    public func contents(of path: String) throws -> [UInt8]? {
        guard var node = nodes[path] else { return nil }
        // Hard links point at a regular file (the unpacker checks it): follow one level only.
        if node.kind == .hardlink, let target = nodes[node.linkTarget] { node = target }
        guard node.kind == .regular, let range = node.content else { return nil }
        return try spool.read(range)
    }

    /// Resolves symlinks (absolute ones against the root) to the path they finally name, if any.
    /// At most 40 links are followed in all, as the kernel does.
    public func resolve(_ path: String) -> String? {
        var budget = 40
        return resolve(path, budget: &budget)
    }

    private func resolve(_ path: String, budget: inout Int) -> String? {
        var resolved = ""
        let parts = path.split(separator: "/").map(String.init)
        for (i, part) in parts.enumerated() {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                resolved = FileSystem.parentPath(resolved)
                continue
            }
            let candidate = resolved.isEmpty ? part : resolved + "/" + part
            if let node = nodes[candidate], node.kind == .symlink {
                let target = node.linkTarget
                let base = target.hasPrefix("/") ? "" : resolved
                let joined = (base.isEmpty ? "" : base + "/") + target.drop(while: { $0 == "/" })
                budget -= 1
                guard budget >= 0, let next = resolve(joined, budget: &budget) else { return nil }
                resolved = next
            } else {
                resolved = candidate
            }
            if i == parts.count - 1 { break }
        }
        return resolved
    }

    /// Writes the tree (or the `paths` subset) as tar entries in canonical order.
    public func write(to tar: TarWriter, paths: [String]? = nil) throws {
        let selected = paths ?? sortedPaths
        var written: Set<String> = []
        for path in selected {
            guard let node = nodes[path] else { continue }
            var entry = TarEntry(path: path, kind: node.kind, mode: node.mode, uid: node.uid, gid: node.gid,
                                 modificationTime: node.modificationTime, linkTarget: node.linkTarget,
                                 deviceMajor: node.deviceMajor, deviceMinor: node.deviceMinor, xattrs: node.xattrs)
            if node.kind == .hardlink {
                // A hard link needs its target earlier in the same layer; otherwise store a copy.
                if written.contains(node.linkTarget), nodes[node.linkTarget]?.kind == .regular {
                    try tar.append(entry)
                } else if let target = nodes[node.linkTarget], target.kind == .regular, let range = target.content {
                    entry.kind = .regular
                    entry.linkTarget = ""
                    entry.mode = target.mode
                    entry.size = range.length
                    try tar.append(entry, contents: spool.source(range))
                } else {
                    throw AssemblyError.invalidPath(path, reason: "hard link to /\(node.linkTarget), which is not a regular file in the image")
                }
                written.insert(path)
                continue
            }
            if node.kind == .regular {
                entry.size = node.size
                try tar.append(entry, contents: node.content.map { spool.source($0) } ?? MemorySource([]))
            } else {
                try tar.append(entry)
            }
            written.insert(path)
        }
    }
}
