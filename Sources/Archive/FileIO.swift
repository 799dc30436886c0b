import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A source reading a file through a POSIX descriptor.
public final class FileSource: ByteSource {
    public let path: String
    private var fd: Int32

    /// Opens `path` for reading.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ArchiveError.io(path: path, operation: "open", errno: errno) }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ArchiveError.io(path: path, operation: "read", errno: errno)
        }
    }

    /// Seeks past `count` bytes (nothing is read), failing like a read would if the file ends first.
    public func skip(_ count: Int64) throws {
        if count == 0 { return }
        let here = lseek(fd, 0, SEEK_CUR)
        guard here >= 0 else { return try discard(count) }  // not seekable (a pipe): read past them
        let size = try size()
        if here + off_t(count) > size { throw ArchiveError.truncated("file ended \(Int64(here) + count - Int64(size)) bytes early") }
        if lseek(fd, off_t(count), SEEK_CUR) < 0 { throw ArchiveError.io(path: path, operation: "lseek", errno: errno) }
    }

    /// The file's size in bytes.
    public func size() throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw ArchiveError.io(path: path, operation: "stat", errno: errno) }
        return Int64(st.st_size)
    }

    /// Where the next read starts, in bytes from the file's start.
    public func position() throws -> Int64 {
        let here = lseek(fd, 0, SEEK_CUR)
        if here < 0 { throw ArchiveError.io(path: path, operation: "lseek", errno: errno) }
        return Int64(here)
    }
}

/// The regular files of a tar file, by path, with where their bytes lie: found in one pass over
/// the headers (contents are skipped, not read), so that members can be read in place.
public struct TarIndex: Sendable {
    public struct Member: Sendable, Equatable {
        public var offset: Int64
        public var size: Int64
    }

    public let file: String
    /// Regular members by their clean path (the last one wins when a path repeats).
    public let members: [String: Member]

    /// The most members indexed: a hostile archive of millions of empty files is refused.
    public static let maximumMembers = 1 << 20

    /// Indexes the tar file at `file`; hostile entries are refused as `TarReader` refuses them.
    public init(file: String) throws {
        self.file = file
        let source = try FileSource(path: file)
        let tar = TarReader(source)
        var members: [String: Member] = [:]
        while let entry = try tar.next() {
            guard entry.kind == .regular else { continue }
            members[entry.path] = Member(offset: try source.position(), size: entry.size)
            if members.count > Self.maximumMembers {
                throw ArchiveError.limitExceeded("\(file) has more than \(Self.maximumMembers) files")
            }
        }
        self.members = members
    }

    /// A source over one member's bytes (fails if the file ends before them).
    public func open(_ member: Member) throws -> ByteSource {
        let source = try FileSource(path: file)
        try source.skip(member.offset)
        return LimitedSource(source, limit: member.size)
    }

    /// A member's bytes, refusing more than `limit`.
    public func read(_ path: String, limit: Int) throws -> [UInt8]? {
        guard let member = members[path] else { return nil }
        guard member.size <= Int64(limit) else { throw ArchiveError.tooLarge(limit: limit) }
        return try open(member).readAll(limit: limit)
    }
}

/// A sink that writes a file through a POSIX descriptor, with `fsync` on finish.
public final class FileSink: ByteSink {
    public let path: String
    private var fd: Int32
    private let sync: Bool

    /// Creates (or truncates) `path`; with `exclusive`, fails if it exists, and holds an `flock` on
    /// the new file until it is finished, which tells `FileSystem.removeStaleTemporaries` that
    /// its writer is alive.
    public init(path: String, mode: mode_t = 0o644, exclusive: Bool = false, sync: Bool = true) throws {
        self.path = path
        self.sync = sync
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        fd = open(path, flags, mode)
        if fd < 0 { throw ArchiveError.io(path: path, operation: "create", errno: errno) }
        if exclusive { _ = flock(fd, LOCK_EX | LOCK_NB) }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw ArchiveError.io(path: path, operation: "write after finish", errno: EBADF) }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.io(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
    }

    public func finish() throws {
        guard fd >= 0 else { return }
        defer { close(fd); fd = -1 }
        if sync && fsync(fd) != 0 { throw ArchiveError.io(path: path, operation: "fsync", errno: errno) }
    }
}

/// File-system helpers that keep writes atomic: nothing half-written is ever visible under its final name.
public enum FileSystem {
    /// Whether something (of any type, links not followed) exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Whether `path` is a directory (following links).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its missing parents.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if isDirectory(path) { return }
        let parent = parentPath(path)
        if !parent.isEmpty && parent != path { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw ArchiveError.io(path: path, operation: "mkdir", errno: errno)
        }
    }

    /// The prefix of every temporary name `temporaryName` gives.
    public static let temporaryPrefix = ".tmp-"

    /// A unique name next to `path`, for a temporary file that is renamed over it:
    /// `.tmp-<name>-<pid>-<random>`, so that a later run can tell whether its writer still lives.
    public static func temporaryName(beside path: String) -> String {
        let dir = parentPath(path)
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let base = path.split(separator: "/").last.map(String.init) ?? "file"
        return (dir.isEmpty ? "" : dir + "/") + "\(temporaryPrefix)\(base)-\(getpid())-\(token)"
    }

    /// Removes the temporary files in `directory` (names from `temporaryName`) that a writer
    /// killed before it could rename or remove them left behind, and returns their names.
    /// A file is stale when nobody holds its `flock` (see `FileSink`) and either the process
    /// named in it is gone or it has not been written for `minimumAge` seconds. Only regular
    /// files are touched; `only` narrows the names (say, to one file's temporaries).
    @discardableResult
    public static func removeStaleTemporaries(in directory: String, only base: String? = nil,
                                              minimumAge: Double = 600) -> [String] {
        guard let names = try? listDirectory(directory) else { return [] }
        let prefix = temporaryPrefix + (base.map { $0 + "-" } ?? "")
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            let path = directory + "/" + name
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            let age = Double(time(nil) - st.st_mtim.tv_sec)
            if !writerAlive(name) || age >= minimumAge, unlink(path) == 0 { removed.append(name) }
        }
        return removed
    }

    /// Whether the process whose pid a temporary name carries still runs (true when the name has none).
    private static func writerAlive(_ name: String) -> Bool {
        let parts = name.split(separator: "-")
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), pid > 0 else { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Writes `path` through a temporary file: `body` fills the sink, which is fsynced, renamed over `path`,
    /// and the directory fsynced. On any error the temporary file is removed and `path` is untouched.
    public static func writeAtomically<T>(_ path: String, mode: mode_t = 0o644, _ body: (FileSink) throws -> T) throws -> T {
        let temp = temporaryName(beside: path)
        let sink = try FileSink(path: temp, mode: mode, exclusive: true)
        do {
            let result = try body(sink)
            try sink.finish()
            try commit(temp, to: path)
            return result
        } catch {
            try? sink.finish()
            unlink(temp)
            throw error
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func writeAtomically<C: ContiguousBytes>(_ path: String, bytes: C, mode: mode_t = 0o644) throws {
        try writeAtomically(path, mode: mode) { try $0.write(bytes) }
    }

    /// Renames a finished temporary file over `path` and fsyncs the directory.
    public static func commit(_ temp: String, to path: String) throws {
        if rename(temp, path) != 0 {
            let code = errno
            unlink(temp)
            throw ArchiveError.io(path: path, operation: "rename", errno: code)
        }
        syncDirectory(parentPath(path))
    }

    /// fsyncs a directory so a rename inside it is durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Reads a whole file, refusing more than `limit` bytes.
    public static func read(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
        try FileSource(path: path).readAll(limit: limit)
    }

    /// Removes a file or a directory tree; a missing path is not an error.
    public static func remove(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try remove(path + "/" + name) }
            if rmdir(path) != 0 { throw ArchiveError.io(path: path, operation: "rmdir", errno: errno) }
        } else if unlink(path) != 0 {
            throw ArchiveError.io(path: path, operation: "unlink", errno: errno)
        }
    }

    /// The name in a `readdir` entry, read in place up to its NUL. (Copying `d_name` as a value
    /// reads all 256 bytes of the declared array, past the end of a short record: at the end of
    /// readdir's buffer that is past the end of the mapping.)
    public static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeMutablePointer(to: &entry.pointee.d_name) { tuple in
            tuple.withMemoryRebound(to: CChar.self, capacity: 1) { String(cString: $0) }
        }
    }

    /// The names in a directory (without `.` and `..`), sorted by bytes.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw ArchiveError.io(path: path, operation: "opendir", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = FileSystem.entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// `$TMPDIR`, or /tmp.
    public static func temporaryDirectoryRoot() -> String {
        var base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// Makes a new private temporary directory under `$TMPDIR` (or /tmp), named
    /// `<prefix>-<pid>-XXXXXX` so that `removeStaleTemporaryDirectories` can tell when its
    /// maker is gone.
    public static func makeTemporaryDirectory(prefix: String = "harden") throws -> String {
        let base = temporaryDirectoryRoot()
        var template = Array("\(base)/\(prefix)-\(getpid())-XXXXXX".utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ArchiveError.io(path: base, operation: "mkdtemp", errno: errno)
        }
        return String(cString: result)
    }

    /// Removes the directories under `$TMPDIR` that `makeTemporaryDirectory` made, with a name
    /// starting `harden`, for processes of this user that are gone (killed before they could
    /// clean up); returns their paths.
    @discardableResult
    public static func removeStaleTemporaryDirectories() -> [String] {
        let base = temporaryDirectoryRoot()
        guard let names = try? listDirectory(base) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix("harden") {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, parts[parts.count - 1].count == 6, let pid = Int32(parts[parts.count - 2]), pid > 0,
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = base + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == getuid() else { continue }
            if (try? remove(path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// The directory part of a path ("" for a bare name).
    public static func parentPath(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}

/// An exclusive `flock` on a directory, or on a lock file (created if missing), held until
/// `release()` or deinit, so processes take turns. EINTR is retried.
public final class FileLock {
    private var fd: Int32

    public init(path: String) throws {
        fd = FileSystem.isDirectory(path) ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ArchiveError.io(path: path, operation: "open", errno: errno) }
        while flock(fd, LOCK_EX) != 0 {
            let code = errno
            if code != EINTR {
                close(fd)
                fd = -1
                throw ArchiveError.io(path: path, operation: "flock", errno: code)
            }
        }
    }

    /// Unlocks (closing the descriptor drops the lock).
    public func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
