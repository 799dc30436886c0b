#if canImport(Glibc)
import Glibc
#endif

/// Paths inside an unpacked root file system, resolved the way the container will see them:
/// symlinks are followed but `/` and `..` never leave the root (as under `chroot`), so a hostile
/// image cannot make the host read or write outside its rootfs.
struct RootPath {
    /// Host path of the root directory.
    let root: String

    /// Most symlinks followed in one resolution (Linux's own limit).
    static let maximumLinks = 40

    /// The host path for `path` (absolute or relative to the root) with every symlink resolved
    /// inside the root. With `followFinal` false the last component is left as it is (a symlink
    /// there is not followed). Components that do not exist are kept as they are.
    func resolve(_ path: String, followFinal: Bool = true) throws -> String {
        var pending = Self.components(path)
        pending.reverse() // a stack: the next component is last
        var resolved: [String] = []
        var links = 0
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = hostPath(resolved + [part])
            let isFinal = pending.isEmpty
            var st = stat()
            if lstat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, followFinal || !isFinal {
                links += 1
                if links > Self.maximumLinks {
                    throw RuntimeError.io(path: candidate, operation: "resolve (too many symlinks)", errno: ELOOP)
                }
                let target = try Self.readLink(candidate)
                if target.hasPrefix("/") { resolved = [] }
                pending.append(contentsOf: Self.components(target).reversed())
                continue
            }
            resolved.append(part)
        }
        return hostPath(resolved)
    }

    /// The host path of the parent directory of `path`, resolved inside the root, plus the last
    /// component: what an entry at `path` is created in and called.
    func resolveParent(_ path: String) throws -> (directory: String, name: String)? {
        var parts = Self.components(path).filter { $0 != "." }
        guard let name = parts.popLast(), name != ".." else { return nil }
        return (try resolve(parts.joined(separator: "/")), name)
    }

    private func hostPath(_ parts: [String]) -> String {
        parts.isEmpty ? root : root + "/" + parts.joined(separator: "/")
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    static func readLink(_ path: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.baseAddress.map { readlink(path, $0, pointer.count) } ?? -1
        }
        if n < 0 { throw RuntimeError.io(path: path, operation: "readlink", errno: errno) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Reads a regular file at `path` inside the root (symlinks resolved inside it), refusing
    /// more than `limit` bytes; nil when it does not exist.
    func readFile(_ path: String, limit: Int = 4 << 20) throws -> [UInt8]? {
        let host = try resolve(path)
        var st = stat()
        guard lstat(host, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw RuntimeError.io(path: host, operation: "read (not a regular file)", errno: EINVAL)
        }
        let fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 { throw RuntimeError.io(path: host, operation: "open", errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RuntimeError.io(path: host, operation: "read", errno: errno)
            }
            if n == 0 { return result }
            if result.count + n > limit {
                throw RuntimeError.io(path: host, operation: "read (larger than \(limit) bytes)", errno: EFBIG)
            }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// Makes sure the directory `path` exists inside the root, creating missing components
    /// (mode 0755, owned by root) without following any symlink out of the root.
    func ensureDirectory(_ path: String) throws {
        var current = ""
        for part in Self.components(path) where part != "." && part != ".." {
            current += "/" + part
            let host = try resolve(current)
            var st = stat()
            if lstat(host, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else {
                    throw RuntimeError.io(path: host, operation: "create directory (a file is in the way)", errno: ENOTDIR)
                }
                continue
            }
            if mkdir(host, 0o755) != 0 && errno != EEXIST {
                throw RuntimeError.io(path: host, operation: "mkdir", errno: errno)
            }
        }
    }
}
