import Archive
import CLinux
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// Applies image layers, in order, to a root file system on disk.
///
/// Each layer's tar stream is read with the hostile-entry checks of `TarReader`; across layers,
/// parent directories are resolved inside the root (`RootPath`), so a symlink from a lower layer
/// can never carry a write outside it. Whiteouts (`.wh.NAME`) delete `NAME` from the lower layers,
/// and an opaque marker (`.wh..wh..opq`) empties its directory of everything the lower layers put
/// there. Modes (setuid, setgid and sticky included), numeric owners, mtimes, symlinks, hard links,
/// FIFOs and extended attributes are kept; device nodes are skipped (runc gives the container its
/// own `/dev`).
struct LayerUnpacker {
    let rootPath: RootPath
    /// Directory mtimes, applied once every layer is in (adding entries changes them).
    private var directoryTimes: [(path: String, time: Int64)] = []

    init(root: String) {
        rootPath = RootPath(root: root)
    }

    /// Applies one layer read from `source` (the decompressed tar stream). `layer` names it in errors.
    mutating func apply(_ source: ByteSource, layer: String) throws {
        let reader = TarReader(source)
        var written: Set<String> = []
        while let entry = try wrapErrors({ try reader.next() }) {
            if entry.path == "." { continue }
            let name = entry.path.split(separator: "/").last.map(String.init) ?? entry.path
            if name.hasPrefix(".wh.") {
                try applyWhiteout(entry, name: name, layer: layer, written: written)
                continue
            }
            try extract(entry, reader: reader, layer: layer)
            written.insert(entry.path)
        }
    }

    /// Sets the directory mtimes recorded while extracting.
    func finish() {
        for (path, time) in directoryTimes.reversed() {
            setTime(path, time)
        }
    }

    // MARK: - Whiteouts

    private func applyWhiteout(_ entry: TarEntry, name: String, layer: String, written: Set<String>) throws {
        guard let (directory, _) = try rootPath.resolveParent(entry.path) else { return }
        let parent = entry.path.split(separator: "/").dropLast().joined(separator: "/")
        if name == ".wh..wh..opq" {
            // Empty the directory of what lower layers put there; keep what this layer wrote.
            try removeChildren(of: directory, relative: parent, keeping: written)
            return
        }
        let target = String(name.dropFirst(4))
        guard !target.isEmpty, target != ".", target != ".." else {
            throw RuntimeError.hostileLayer(layer: layer, path: entry.path, reason: "is a whiteout with no valid name")
        }
        try removeTree(directory + "/" + target)
    }

    private func removeChildren(of directory: String, relative: String, keeping written: Set<String>) throws {
        guard isDirectory(directory, followLinks: false) else { return }
        for child in try wrapErrors({ try FileSystem.listDirectory(directory) }) {
            let childRelative = relative.isEmpty ? child : relative + "/" + child
            let host = directory + "/" + child
            if written.contains(childRelative) {
                if isDirectory(host, followLinks: false) {
                    try removeChildren(of: host, relative: childRelative, keeping: written)
                }
                continue
            }
            try removeTree(host)
        }
    }

    // MARK: - Entries

    private mutating func extract(_ entry: TarEntry, reader: TarReader, layer: String) throws {
        guard let (directory, name) = try rootPath.resolveParent(entry.path) else {
            throw RuntimeError.hostileLayer(layer: layer, path: entry.path, reason: "has no name")
        }
        try createParents(entry.path)
        let path = directory + "/" + name
        let existing = lstatKind(path)

        switch entry.kind {
        case .directory:
            if existing != nil && existing != S_IFDIR { try removeTree(path) }
            if existing != S_IFDIR, mkdir(path, 0o700) != 0 {
                throw RuntimeError.io(path: path, operation: "mkdir", errno: errno)
            }
            try setOwnerAndMode(path, entry)
            try setXattrs(path, entry)
            directoryTimes.append((path, entry.modificationTime))
            return
        case .regular:
            if existing != nil { try removeTree(path) }
            let sink = try wrapErrors { try FileSink(path: path, mode: 0o600, exclusive: true, sync: false) }
            do {
                try wrapErrors {
                    _ = try reader.contents.pump(into: sink)
                    try sink.finish()
                }
            } catch {
                try? sink.finish()
                throw error
            }
            try setOwnerAndMode(path, entry)
        case .symlink:
            if existing != nil { try removeTree(path) }
            if symlink(entry.linkTarget, path) != 0 {
                throw RuntimeError.io(path: path, operation: "symlink", errno: errno)
            }
            if lchown(path, uid_t(clamping: entry.uid), gid_t(clamping: entry.gid)) != 0 {
                throw RuntimeError.io(path: path, operation: "lchown", errno: errno)
            }
        case .hardlink:
            // The target is resolved inside the root; a final symlink is linked as itself.
            guard let (targetDirectory, targetName) = try rootPath.resolveParent(entry.linkTarget) else {
                throw RuntimeError.hostileLayer(layer: layer, path: entry.path, reason: "is a hard link with no target")
            }
            let target = targetDirectory + "/" + targetName
            guard let kind = lstatKind(target) else {
                throw RuntimeError.invalidImage("layer \(layer): hard link '\(entry.path)' points to '\(entry.linkTarget)', which is not in the image")
            }
            guard kind != S_IFDIR else {
                throw RuntimeError.hostileLayer(layer: layer, path: entry.path, reason: "is a hard link to a directory")
            }
            if target == path { return }
            if existing != nil { try removeTree(path) }
            if link(target, path) != 0 {
                throw RuntimeError.io(path: path, operation: "link to '\(entry.linkTarget)'", errno: errno)
            }
            return // a hard link shares its target's metadata
        case .fifo:
            if existing != nil { try removeTree(path) }
            if mkfifo(path, 0o600) != 0 {
                throw RuntimeError.io(path: path, operation: "mkfifo", errno: errno)
            }
            try setOwnerAndMode(path, entry)
        case .characterDevice, .blockDevice:
            return
        }
        try setXattrs(path, entry)
        setTime(path, entry.modificationTime)
    }

    /// Creates the missing parent directories of `path` (as a runtime does for a layer that
    /// omits them): mode 0755, owned by root.
    private func createParents(_ path: String) throws {
        let parts = RootPath.components(path)
        guard parts.count > 1 else { return }
        try rootPath.ensureDirectory(parts.dropLast().joined(separator: "/"))
    }

    private func setOwnerAndMode(_ path: String, _ entry: TarEntry) throws {
        // chown first: it clears setuid and setgid bits, which chmod then sets.
        if lchown(path, uid_t(clamping: entry.uid), gid_t(clamping: entry.gid)) != 0 {
            throw RuntimeError.io(path: path, operation: "chown", errno: errno)
        }
        if chmod(path, mode_t(entry.mode & 0o7777)) != 0 {
            throw RuntimeError.io(path: path, operation: "chmod", errno: errno)
        }
    }

    private func setXattrs(_ path: String, _ entry: TarEntry) throws {
        for (name, value) in entry.xattrs.sorted(by: { $0.key < $1.key }) {
            let result = value.withUnsafeBytes { lsetxattr(path, name, $0.baseAddress, $0.count, 0) }
            // File systems without xattrs (or a namespace we may not write) lose them: the
            // container still runs, it only misses e.g. file capabilities.
            if result != 0 && errno != ENOTSUP && errno != EPERM {
                throw RuntimeError.io(path: path, operation: "setxattr \(name)", errno: errno)
            }
        }
    }

    private func setTime(_ path: String, _ seconds: Int64) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    private func lstatKind(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    private func isDirectory(_ path: String, followLinks: Bool) -> Bool {
        var st = stat()
        let result = followLinks ? stat(path, &st) : lstat(path, &st)
        return result == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    private func removeTree(_ path: String) throws {
        try wrapErrors { try FileSystem.remove(path) }
    }
}
