import Archive
import Debian

/// What Harden keeps of a package it installed: its control data and the paths it owns.
public struct InstalledPackage: Sendable {
    public var name: String
    public var version: String
    public var architecture: String
    public var multiArch: String?
    /// The `control` file exactly as shipped (a deb822 paragraph).
    public var control: String
    public var md5sums: [UInt8]?
    public var conffiles: [String]
    public var postinst: String?
    /// Every path the package ships, as written in its data archive (before merged-/usr), in
    /// archive order, directories included: what dpkg lists in info/<package>.list.
    public var paths: [String]

    /// The name dpkg uses for its info files: `name:arch` for Multi-Arch: same packages.
    public var dpkgName: String { multiArch == "same" ? "\(name):\(architecture)" : name }
}

/// Installs .deb files into a `RootFS` without running any maintainer script: the data archive is
/// unpacked (hostile entries refused, merged-/usr applied, clashing paths reported) and the
/// control archive is read for what scanners and dpkg need.
public enum DebUnpacker {
    public static func unpack(_ debPath: String, package: String, into root: RootFS) throws -> InstalledPackage {
        do {
            return try unpackChecked(debPath, package: package, into: root)
        } catch let error as ArchiveError {
            if case .hostileEntry(let path, let hazard) = error {
                throw AssemblyError.hostileEntry(package: package, path: path, reason: hazard.description)
            }
            if case .limitExceeded(let what) = error { throw AssemblyError.overLimit(package: package, reason: what) }
            throw AssemblyError.invalidPackage(package: package, reason: error.description)
        }
    }

    private static func unpackChecked(_ debPath: String, package: String, into root: RootFS) throws -> InstalledPackage {
        let ar = ArReader(try FileSource(path: debPath))
        var control: String?
        var md5sums: [UInt8]?
        var conffiles: [String] = []
        var postinst: String?
        var paths: [String]?
        var sawFormat = false
        while let member = try ar.next() {
            if member.name == "debian-binary" {
                let version = String(decoding: try ar.contents.readAll(limit: 64), as: UTF8.self)
                guard version.hasPrefix("2.") else { throw AssemblyError.invalidPackage(package: package, reason: "unsupported .deb format \(version)") }
                sawFormat = true
            } else if member.name.hasPrefix("control.tar") {
                let tar = TarReader(try Compression.forFileName(member.name).decompressing(ar.contents))
                while let entry = try tar.next() {
                    switch entry.path {
                    case "control": control = String(decoding: try tar.readContents(limit: 1 << 20), as: UTF8.self)
                    case "md5sums": md5sums = try tar.readContents(limit: 16 << 20)
                    case "conffiles":
                        conffiles = String(decoding: try tar.readContents(limit: 1 << 20), as: UTF8.self)
                            .split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                    case "postinst": postinst = String(decoding: try tar.readContents(limit: 1 << 20), as: UTF8.self)
                    default: break
                    }
                }
            } else if member.name.hasPrefix("data.tar") {
                guard sawFormat else { throw AssemblyError.invalidPackage(package: package, reason: "data before debian-binary") }
                paths = try unpackData(try Compression.forFileName(member.name).decompressing(ar.contents), package: package, into: root)
            }
        }
        guard let control, let paths else { throw AssemblyError.invalidPackage(package: package, reason: "no control or data archive") }
        guard let paragraph = try ControlFile.parse(control).first, let name = paragraph["Package"], let version = paragraph["Version"],
              let architecture = paragraph["Architecture"] else {
            throw AssemblyError.invalidPackage(package: package, reason: "control file lacks Package, Version or Architecture")
        }
        guard name == package else { throw AssemblyError.invalidPackage(package: package, reason: "the .deb says it is '\(name)'") }
        return InstalledPackage(name: name, version: version, architecture: architecture, multiArch: paragraph["Multi-Arch"],
                                control: control, md5sums: md5sums, conffiles: conffiles, postinst: postinst, paths: paths)
    }

    private static func unpackData(_ source: ByteSource, package: String, into root: RootFS) throws -> [String] {
        let tar = TarReader(source)
        var paths: [String] = []
        while let entry = try tar.next() {
            if entry.path == "." { continue }
            let path = RootFS.merged(entry.path)
            try checkAncestors(path, package: package, root: root)
            var node = FileNode(kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                                modificationTime: entry.modificationTime, linkTarget: entry.linkTarget,
                                content: nil, xattrs: entry.xattrs, package: package,
                                deviceMajor: entry.deviceMajor, deviceMinor: entry.deviceMinor)
            if entry.kind == .hardlink {
                node.linkTarget = RootFS.merged(entry.linkTarget)
                // A hard link must name a regular file already unpacked (no loops, nothing dangling).
                guard root[node.linkTarget]?.kind == .regular else {
                    throw AssemblyError.hostileEntry(package: package, path: path, reason: "is a hard link to /\(node.linkTarget), which is not a regular file in the package")
                }
            }
            // Directories are shared between packages: their time must not depend on which came first.
            if entry.kind == .directory { node.modificationTime = root.epoch }
            if entry.kind == .regular { node.content = try root.spool.append(from: tar.contents, length: entry.size) }
            if let existing = root[path] {
                switch (existing.kind, node.kind) {
                case (.directory, .directory):
                    paths.append(entry.path)
                    continue // shared directory: the first package's owner and mode stay
                case (.regular, .regular) where existing.content?.sha256 == node.content?.sha256:
                    paths.append(entry.path)
                    continue
                case (.symlink, .symlink) where existing.linkTarget == node.linkTarget:
                    paths.append(entry.path)
                    continue
                default:
                    throw AssemblyError.pathConflict(path: path, first: existing.package ?? "Harden", second: package)
                }
            }
            root.set(path, node)
            paths.append(entry.path)
        }
        return paths
    }

    /// Refuses a path below something that is not a directory (a symlink a previous package made).
    private static func checkAncestors(_ path: String, package: String, root: RootFS) throws {
        var parent = FileSystem.parentPath(path)
        while !parent.isEmpty && parent != "/" {
            if let node = root[parent], node.kind != .directory {
                throw AssemblyError.hostileEntry(package: package, path: path,
                                                 reason: "goes through /\(parent), which is a \(node.kind == .symlink ? "symlink" : "file")")
            }
            parent = FileSystem.parentPath(parent)
        }
    }
}

import Foundation
