import Archive

/// One change a hardening pass made, for the build report.
public struct HardeningChange: Sendable, Equatable, Codable, CustomStringConvertible {
    public var pass: String
    public var path: String
    public var action: String

    public var description: String { "\(pass): /\(path): \(action)" }
}

/// The passes that turn an unpacked tree into a minimal, distroless image. Each returns what it
/// changed and why; the build prints a summary and keeps the full list.
enum Hardening {
    /// Shells: no interpreter an attacker could be dropped into.
    static let shells = ["usr/bin/sh", "usr/bin/dash", "usr/bin/bash", "usr/bin/rbash", "usr/bin/sh.distrib",
                         "usr/bin/busybox", "usr/bin/zsh", "usr/bin/ksh", "usr/bin/csh", "usr/bin/tcsh"]
    /// Package managers: their binaries, libraries and state.
    static let packageManagerPrefixes = ["usr/bin/dpkg", "usr/bin/apt", "usr/sbin/dpkg", "usr/lib/apt", "usr/lib/dpkg", "etc/apt",
                                         "etc/dpkg", "var/lib/apt", "var/cache/apt", "var/lib/dpkg/info", "usr/share/dpkg",
                                         "var/cache/debconf", "var/lib/dpkg/alternatives"]
    /// Documentation trees (copyright files are kept: they are where licences come from).
    static let docTrees = ["usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian", "usr/share/linda",
                           "usr/share/bug", "usr/share/groff", "usr/share/i18n"]

    static func minimal(_ root: RootFS) -> [HardeningChange] {
        var changes: [HardeningChange] = []
        func removed(_ pass: String, _ paths: [String], _ why: String) {
            changes += paths.map { HardeningChange(pass: pass, path: $0, action: "removed (\(why))") }
        }
        // Shells.
        for shell in shells where root[shell] != nil {
            root.remove(shell)
            removed("shells", [shell], "a shell")
        }
        for (path, node) in root.nodes where path.hasPrefix("etc/alternatives/") && node.kind == .symlink
            && shells.contains(RootFS.merged(String(node.linkTarget.drop(while: { $0 == "/" })))) {
            root.remove(path)
            removed("shells", [path], "alternative pointing to a shell")
        }
        // Package managers.
        for prefix in packageManagerPrefixes {
            let matches = root.nodes.keys.filter { $0 == prefix || $0.hasPrefix(prefix + "/") || (prefix.hasPrefix("usr/bin/") && $0.hasPrefix(prefix)) }
            for path in matches.sorted() { root.remove(path) }
            if !matches.isEmpty { removed("package-managers", matches.sorted(), "package manager") }
        }
        // Documentation, man pages, info, locales.
        for tree in docTrees { removed("docs", root.removeTree(tree), "documentation") }
        // Keep copyright files and the doc-directory symlinks Debian uses between packages of one
        // source (usr/share/doc/libgcc-s1 -> gcc-12-base), which lead to a copyright file.
        let docs = root.nodes.keys.filter { path in
            guard path.hasPrefix("usr/share/doc/"), !path.hasSuffix("/copyright"), let node = root[path], node.kind != .directory else { return false }
            return !(node.kind == .symlink && path.split(separator: "/").count == 4)
        }
        for path in docs.sorted() { root.remove(path) }
        removed("docs", docs.sorted(), "documentation (copyright kept)")
        // Directories left empty under /usr/share/doc (a package directory keeps its copyright).
        for path in root.nodes.keys.filter({ $0.hasPrefix("usr/share/doc/") }).sorted(by: >) where root[path]?.kind == .directory {
            if !root.nodes.keys.contains(where: { $0.hasPrefix(path + "/") }) { root.remove(path) }
        }
        // Dangling symlinks left by removals (e.g. /usr/bin/pager -> /etc/alternatives/pager).
        var dangling: [String] = []
        repeat {
            dangling = root.nodes.filter { path, node in
                node.kind == .symlink && !RootFS.mergedDirectories.contains(path) && root.resolve(path).map { root[$0] == nil } ?? true
            }.map(\.key).sorted()
            for path in dangling { root.remove(path) }
            removed("dangling-links", dangling, "its target was removed")
        } while !dangling.isEmpty
        changes += stripSpecialBits(root)
        changes += removeWorldWritable(root)
        return changes
    }

    /// setuid and setgid bits off everywhere, files and directories alike.
    static func stripSpecialBits(_ root: RootFS) -> [HardeningChange] {
        clearModeBits(0o6000, pass: "setuid", in: root)
    }

    /// No world-writable path but /tmp (which keeps 1777).
    static func removeWorldWritable(_ root: RootFS) -> [HardeningChange] {
        clearModeBits(0o002, pass: "world-writable", in: root, except: ["tmp"])
    }

    /// Clears `bits` on every file and directory that has any of them (symlinks have no mode).
    private static func clearModeBits(_ bits: UInt32, pass: String, in root: RootFS, except: Set<String> = []) -> [HardeningChange] {
        var changes: [HardeningChange] = []
        for path in root.sortedPaths where !except.contains(path) {
            guard var node = root[path], node.kind != .symlink, node.mode & bits != 0 else { continue }
            let before = node.mode
            node.mode &= ~bits
            root.set(path, node)
            changes.append(HardeningChange(pass: pass, path: path, action: "mode \(String(before, radix: 8)) -> \(String(node.mode, radix: 8))"))
        }
        return changes
    }
}
