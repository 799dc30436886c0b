import CLinux
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Archives a directory tree from disk into a tar stream, deterministically.
///
/// The walk visits children in byte order (so entries come out in canonical order), reads metadata
/// with `lstat` (links are stored, never followed), turns later paths of the same inode into hard
/// links, keeps every mode bit and extended attribute, and streams file contents.
public struct DirectoryArchiver: Sendable {
    /// Owner to record for every entry instead of the one on disk (numeric, no names).
    public var owner: (uid: Int, gid: Int)?
    /// Whether extended attributes are read and stored.
    public var includeXattrs: Bool
    /// mtimes later than this are clamped to it.
    public var clampModificationTime: Int64?

    public init(owner: (uid: Int, gid: Int)? = nil, includeXattrs: Bool = true, clampModificationTime: Int64? = nil) {
        self.owner = owner
        self.includeXattrs = includeXattrs
        self.clampModificationTime = clampModificationTime
    }

    /// Writes the tree below `root` (not `root` itself) to `sink` and finishes it.
    public func archive(_ root: String, into sink: ByteSink) throws {
        let writer = TarWriter(sink)
        try append(root, to: writer)
        try writer.finish()
    }

    /// Appends the tree below `root` to an open tar writer (which is left open).
    public func append(_ root: String, to writer: TarWriter) throws {
        guard FileSystem.isDirectory(root) else {
            throw ArchiveError.io(path: root, operation: "archive (not a directory)", errno: ENOTDIR)
        }
        var seenInodes: [InodeKey: String] = [:]
        try walk(root: root, relative: "", writer: writer, seenInodes: &seenInodes)
    }

    private struct InodeKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private func walk(root: String, relative: String, writer: TarWriter, seenInodes: inout [InodeKey: String]) throws {
        let directory = relative.isEmpty ? root : root + "/" + relative
        for name in try FileSystem.listDirectory(directory) {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var st = stat()
            guard lstat(full, &st) == 0 else { throw ArchiveError.io(path: full, operation: "lstat", errno: errno) }
            var entry = TarEntry(path: path, kind: .regular, mode: UInt32(st.st_mode) & 0o7777,
                                 uid: owner?.uid ?? Int(st.st_uid), gid: owner?.gid ?? Int(st.st_gid),
                                 modificationTime: min(Int64(st.st_mtim.tv_sec), clampModificationTime ?? .max))
            if includeXattrs { entry.xattrs = try Self.xattrs(of: full) }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entry.kind = .directory
                try writer.append(entry)
                try walk(root: root, relative: path, writer: writer, seenInodes: &seenInodes)
                continue
            case S_IFLNK:
                entry.kind = .symlink
                entry.linkTarget = try Self.readLink(full)
            case S_IFCHR, S_IFBLK:
                entry.kind = (st.st_mode & S_IFMT) == S_IFCHR ? .characterDevice : .blockDevice
                entry.deviceMajor = csystem_major(st.st_rdev)
                entry.deviceMinor = csystem_minor(st.st_rdev)
            case S_IFIFO:
                entry.kind = .fifo
            case S_IFREG:
                let key = InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
                if st.st_nlink > 1, let first = seenInodes[key] {
                    entry.kind = .hardlink
                    entry.linkTarget = first
                    entry.xattrs = [:]
                    break
                }
                if st.st_nlink > 1 { seenInodes[key] = path }
                entry.size = Int64(st.st_size)
                try writer.append(entry, contents: try FileSource(path: full))
                continue
            default:
                continue // sockets cannot be archived
            }
            try writer.append(entry)
        }
    }

    /// The target of the symlink at `path`.
    public static func readLink(_ path: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { readlink(path, $0.baseAddress!, $0.count) }
            if n < 0 { throw ArchiveError.io(path: path, operation: "readlink", errno: errno) }
            if n < buffer.count { return String(decoding: buffer[0..<n], as: UTF8.self) }
            buffer = [UInt8](repeating: 0, count: buffer.count * 2)
        }
    }

    static func xattrs(of path: String) throws -> [String: [UInt8]] {
        let size = llistxattr(path, nil, 0)
        if size <= 0 { return [:] }
        var names = [CChar](repeating: 0, count: size)
        let got = llistxattr(path, &names, size)
        if got < 0 { return [:] }
        var result: [String: [UInt8]] = [:]
        var start = 0
        for i in 0..<got where names[i] == 0 {
            let name = String(decoding: names[start..<i].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            start = i + 1
            let length = lgetxattr(path, name, nil, 0)
            guard length >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: length)
            let read = value.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, length) }
            if read >= 0 { result[name] = Array(value[0..<read]) }
        }
        return result
    }
}
