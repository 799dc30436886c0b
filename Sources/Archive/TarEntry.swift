/// One entry of a tar archive: the metadata of a file, directory, link or device.
public struct TarEntry: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case regular
        case directory
        case symlink
        case hardlink
        case characterDevice
        case blockDevice
        case fifo
    }

    /// The path relative to the archive root, without a leading `./` or a trailing `/`.
    public var path: String
    public var kind: Kind
    /// Permission bits, including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var userName: String
    public var groupName: String
    /// Content length; only regular files have content.
    public var size: Int64
    /// Seconds since the Unix epoch.
    public var modificationTime: Int64
    /// The target of a symlink (any text) or of a hard link (a path in the archive).
    public var linkTarget: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes, written as PAX `SCHILY.xattr.<name>` records.
    public var xattrs: [String: [UInt8]]

    public init(
        path: String, kind: Kind, mode: UInt32, uid: Int = 0, gid: Int = 0,
        userName: String = "", groupName: String = "", size: Int64 = 0, modificationTime: Int64 = 0,
        linkTarget: String = "", deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0,
        xattrs: [String: [UInt8]] = [:]
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.size = size
        self.modificationTime = modificationTime
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
    }

    /// A regular file.
    public static func file(_ path: String, size: Int64, mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0) -> TarEntry {
        TarEntry(path: path, kind: .regular, mode: mode, uid: uid, gid: gid, size: size)
    }

    /// A directory.
    public static func directory(_ path: String, mode: UInt32 = 0o755, uid: Int = 0, gid: Int = 0) -> TarEntry {
        TarEntry(path: path, kind: .directory, mode: mode, uid: uid, gid: gid)
    }

    /// A symbolic link to `target`.
    public static func symlink(_ path: String, to target: String, uid: Int = 0, gid: Int = 0) -> TarEntry {
        TarEntry(path: path, kind: .symlink, mode: 0o777, uid: uid, gid: gid, linkTarget: target)
    }

    /// A hard link to the earlier entry at `target`.
    public static func hardlink(_ path: String, to target: String, mode: UInt32 = 0o644) -> TarEntry {
        TarEntry(path: path, kind: .hardlink, mode: mode, linkTarget: target)
    }

    /// Whether `self` comes before `other` in Harden's canonical order: paths compared component by
    /// component as bytes, so a directory always precedes what it contains.
    public func canonicallyPrecedes(_ other: TarEntry) -> Bool {
        TarPath.canonicallyPrecedes(path, other.path)
    }
}

/// Path rules shared by the tar reader and writer.
public enum TarPath {
    /// Component-wise byte order: `a` < `a/b` < `a.b` < `b`.
    public static func canonicallyPrecedes(_ a: String, _ b: String) -> Bool {
        var left = a.utf8.makeIterator()
        var right = b.utf8.makeIterator()
        while true {
            let l = left.next()
            let r = right.next()
            switch (l, r) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?):
                if x == y { continue }
                // A separator sorts before any other byte, so a path's children come right after it.
                if x == UInt8(ascii: "/") { return true }
                if y == UInt8(ascii: "/") { return false }
                return x < y
            }
        }
    }

    /// Cleans a path from an archive: drops `./`, empty and `.` components and a trailing `/`.
    /// Returns the clean path ("." for the root) and what makes it hostile, if anything.
    public static func normalize(_ raw: String) -> (path: String, hazards: [TarHazard]) {
        if isClean(raw) { return (raw, []) }
        var hazards: [TarHazard] = []
        if raw.hasPrefix("/") { hazards.append(.absolutePath) }
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." && !hazards.contains(.parentTraversal) { hazards.append(.parentTraversal) }
            parts.append(part)
        }
        return (parts.isEmpty ? "." : parts.joined(separator: "/"), hazards)
    }

    /// Whether `raw` is already a clean relative path: no empty, `.` or `..` component, no
    /// leading or trailing slash (most paths in a layer are: they need no rebuilding).
    static func isClean(_ raw: String) -> Bool {
        var length = 0
        var dots = 0
        for byte in raw.utf8 {
            if byte == UInt8(ascii: "/") {
                if length == 0 || length == dots { return false }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return length > 0 && (length != dots || length > 2)
    }

    /// Whether a symlink at `path` pointing to `target` stays inside the root when resolved lexically.
    /// Absolute targets are resolved against the root of the image, as a container runtime does.
    public static func symlinkStaysInside(path: String, target: String) -> Bool {
        if target.hasPrefix("/") { return true }
        var depth = path.split(separator: "/").count - 1
        for part in target.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                depth -= 1
                if depth < 0 { return false }
            } else {
                depth += 1
            }
        }
        return true
    }
}
