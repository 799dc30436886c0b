import Archive
import Debian

/// What the maintainer scripts would have done, done natively: accounts, os-release, the CA
/// bundle, alternatives, and the package database scanners and dpkg read.
enum SystemFiles {
    static let shadowGID = 42

    /// /etc/passwd, /etc/group, /etc/shadow, /etc/nsswitch.conf and home directories.
    static func writeAccounts(_ accounts: ImageSpec.Accounts, rootShell: String, into root: RootFS) throws {
        var passwd = "root:x:0:0:root:/root:\(rootShell)\n"
        var shadow = "root:*:19000:0:99999:7:::\n"
        var group = "root:x:0:\n"
        var usedGroups: Set<Int> = [0]
        for user in accounts.users {
            passwd += "\(user.name):x:\(user.uid):\(user.gid):\(user.name):\(user.home):\(user.shell)\n"
            shadow += "\(user.name):*:19000:0:99999:7:::\n"
        }
        passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        shadow += "nobody:*:19000:0:99999:7:::\n"
        for builtin in [("tty", 5), ("staff", 50), ("shadow", shadowGID)] where !accounts.groups.contains(where: { $0.gid == builtin.1 }) {
            group += "\(builtin.0):x:\(builtin.1):\n"
            usedGroups.insert(builtin.1)
        }
        for entry in accounts.groups where usedGroups.insert(entry.gid).inserted {
            group += "\(entry.name):x:\(entry.gid):\(entry.members.joined(separator: ","))\n"
        }
        group += "nogroup:x:65534:\n"
        try root.writeFile("etc/passwd", Array(passwd.utf8))
        try root.writeFile("etc/group", Array(group.utf8))
        try root.writeFile("etc/shadow", Array(shadow.utf8), mode: 0o640, gid: shadowGID)
        let nsswitch = """
            passwd:         files
            group:          files
            shadow:         files
            gshadow:        files
            hosts:          files dns
            networks:       files
            protocols:      files
            services:       files
            ethers:         files
            rpc:            files

            """
        try root.writeFile("etc/nsswitch.conf", Array(nsswitch.utf8))
        root.makeDirectory("root", mode: 0o700)
        for user in accounts.users {
            root.makeDirectory(String(user.home.dropFirst()), mode: 0o700, uid: user.uid, gid: user.gid)
        }
        root.makeDirectory("tmp", mode: 0o1777)
    }

    /// /etc/os-release: base-files' text (ID=debian, VERSION_ID="12") with the spec's overrides.
    static func writeOSRelease(overrides: [String: String], into root: RootFS) throws {
        var fields: [(String, String)] = []
        let shipped = (try root.contents(of: root.resolve("etc/os-release") ?? "usr/lib/os-release")) ?? nil
        if let shipped {
            for line in String(decoding: shipped, as: UTF8.self).split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                fields.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
            }
        } else {
            fields = [("PRETTY_NAME", "\"Debian GNU/Linux 12 (bookworm)\""), ("NAME", "\"Debian GNU/Linux\""), ("VERSION_ID", "\"12\""),
                      ("VERSION", "\"12 (bookworm)\""), ("VERSION_CODENAME", "bookworm"), ("ID", "debian"),
                      ("HOME_URL", "\"https://www.debian.org/\""), ("SUPPORT_URL", "\"https://www.debian.org/support\""),
                      ("BUG_REPORT_URL", "\"https://bugs.debian.org/\"")]
        }
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            let quoted = "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            if let index = fields.firstIndex(where: { $0.0 == key }) { fields[index].1 = quoted } else { fields.append((key, quoted)) }
        }
        // Scanners need these two whatever the overrides say.
        for (key, value) in [("ID", "debian"), ("VERSION_ID", "\"12\"")] {
            if let index = fields.firstIndex(where: { $0.0 == key }) { fields[index].1 = value } else { fields.append((key, value)) }
        }
        let text = fields.map { "\($0.0)=\($0.1)\n" }.joined()
        root.remove("etc/os-release")
        try root.writeFile("etc/os-release", Array(text.utf8))
    }

    /// tzdata's postinst: /etc/localtime and /etc/timezone, UTC.
    static func writeTimezone(into root: RootFS) throws {
        guard root["usr/share/zoneinfo/Etc/UTC"] != nil else { return }
        root.makeSymlink("etc/localtime", to: "/usr/share/zoneinfo/Etc/UTC")
        try root.writeFile("etc/timezone", Array("Etc/UTC\n".utf8))
    }

    /// /etc/ssl/certs/ca-certificates.crt from every certificate ca-certificates ships, in the
    /// order update-ca-certificates uses (sorted paths under /usr/share/ca-certificates).
    static func writeCABundle(into root: RootFS) throws -> Bool {
        let prefix = "usr/share/ca-certificates/"
        let certificates = root.nodes.keys.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".crt") }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        guard !certificates.isEmpty else { return false }
        var bundle: [UInt8] = []
        for path in certificates {
            guard var pem = try root.contents(of: path) else { continue }
            if pem.last != 0x0a { pem.append(0x0a) }
            bundle += pem
        }
        try root.writeFile("etc/ssl/certs/ca-certificates.crt", bundle)
        return true
    }

    /// The alternatives symlinks postinst scripts would create (`update-alternatives --install
    /// LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...`): per name, the highest priority wins.
    static func writeAlternatives(_ packages: [InstalledPackage], into root: RootFS) -> [String] {
        struct Choice { var link: String; var path: String; var priority: Int; var slaves: [(String, String, String)] }
        var best: [String: Choice] = [:]
        for package in packages {
            guard let script = package.postinst else { continue }
            // Join continued lines, then look for literal --install invocations.
            let joined = script.replacingOccurrences(of: "\\\n", with: " ")
            for line in joined.split(separator: "\n") where line.contains("update-alternatives") && line.contains("--install") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard let start = words.firstIndex(of: "--install"), start + 4 < words.count,
                      let priority = Int(words[start + 4]) else { continue }
                let (link, name, path) = (words[start + 1], words[start + 2], words[start + 3])
                guard isAlternativeName(name), isCleanAbsolute(link), isCleanAbsolute(path) else { continue }
                var slaves: [(String, String, String)] = []
                var i = start + 5
                while i + 3 < words.count + 0, words[i] == "--slave", i + 3 <= words.count - 1 {
                    slaves.append((words[i + 1], words[i + 2], words[i + 3]))
                    i += 4
                }
                let target = RootFS.merged(String(path.dropFirst()))
                guard root[target] != nil else { continue }
                if let current = best[name], current.priority >= priority { continue }
                best[name] = Choice(link: link, path: path, priority: priority, slaves: slaves)
            }
        }
        var made: [String] = []
        for (name, choice) in best.sorted(by: { $0.key < $1.key }) {
            guard makeAlternative(name: name, link: choice.link, path: choice.path, into: root) else { continue }
            made.append("\(choice.link) -> \(choice.path)")
            for (link, slaveName, path) in choice.slaves where isAlternativeName(slaveName) && isCleanAbsolute(link) && isCleanAbsolute(path) {
                guard root[RootFS.merged(String(path.dropFirst()))] != nil else { continue }
                _ = makeAlternative(name: slaveName, link: link, path: path, into: root)
            }
        }
        return made
    }

    /// Creates /etc/alternatives/NAME -> PATH and LINK -> /etc/alternatives/NAME, but never over
    /// something a package or Harden put there (postinst text is not trusted to name paths).
    private static func makeAlternative(name: String, link: String, path: String, into root: RootFS) -> Bool {
        let linkPath = RootFS.merged(String(link.dropFirst()))
        let alternative = "etc/alternatives/\(name)"
        for candidate in [linkPath, alternative] {
            if let existing = root[candidate], !(existing.kind == .symlink && existing.package == nil) { return false }
            var parent = FileSystem.parentPath(candidate)
            while !parent.isEmpty {
                if let node = root[parent], node.kind != .directory { return false }
                parent = FileSystem.parentPath(parent)
            }
        }
        root.makeSymlink(alternative, to: path)
        root.makeSymlink(linkPath, to: "/etc/alternatives/\(name)")
        return true
    }

    private static func isAlternativeName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("$")
    }

    private static func isCleanAbsolute(_ path: String) -> Bool {
        guard path.hasPrefix("/"), !path.contains("$") else { return false }
        let (clean, hazards) = TarPath.normalize(path)
        return hazards == [.absolutePath] && clean != "." && "/" + clean == path
    }

    /// distroless's layout: /var/lib/dpkg/status.d/<package> (the control paragraph) and
    /// <package>.md5sums; no /var/lib/dpkg/status.
    static func writeStatusD(_ packages: [InstalledPackage], into root: RootFS) throws {
        root.makeDirectory("var/lib/dpkg/status.d")
        for package in packages {
            var control = package.control
            if !control.hasSuffix("\n") { control += "\n" }
            try root.writeFile("var/lib/dpkg/status.d/\(package.name)", Array(control.utf8))
            if let md5sums = package.md5sums {
                try root.writeFile("var/lib/dpkg/status.d/\(package.name).md5sums", md5sums)
            }
        }
    }

    /// A real dpkg database (status, info/*.list, *.md5sums, *.conffiles) so dpkg and apt work.
    static func writeDpkgDatabase(_ packages: [InstalledPackage], architecture: String, into root: RootFS) throws {
        var status = ""
        for package in packages.sorted(by: { $0.name < $1.name }) {
            var lines = package.control.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            if let index = lines.firstIndex(where: { $0.hasPrefix("Package:") }) {
                lines.insert("Status: install ok installed", at: index + 1)
            }
            if !package.conffiles.isEmpty {
                lines.append("Conffiles:")
                for conffile in package.conffiles {
                    let path = RootFS.merged(String(conffile.dropFirst()))
                    let md5 = md5Line(of: path, package: package) ?? "newconffile"
                    lines.append(" \(conffile) \(md5)")
                }
            }
            status += lines.joined(separator: "\n") + "\n\n"
            var list = "/.\n"
            for path in package.paths { list += "/\(path)\n" }
            try root.writeFile("var/lib/dpkg/info/\(package.dpkgName).list", Array(list.utf8))
            if let md5sums = package.md5sums { try root.writeFile("var/lib/dpkg/info/\(package.dpkgName).md5sums", md5sums) }
            if !package.conffiles.isEmpty {
                try root.writeFile("var/lib/dpkg/info/\(package.dpkgName).conffiles", Array((package.conffiles.joined(separator: "\n") + "\n").utf8))
            }
        }
        try root.writeFile("var/lib/dpkg/status", Array(status.utf8))
        try root.writeFile("var/lib/dpkg/available", [])
        try root.writeFile("var/lib/dpkg/arch", Array("\(architecture)\n".utf8))
        for dir in ["var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/lib/dpkg/alternatives", "var/lib/apt/lists/partial",
                    "var/cache/apt/archives/partial", "etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d"] {
            root.makeDirectory(dir)
        }
    }

    /// The md5sum recorded for a conffile in the package's md5sums, if any (dpkg keeps conffile
    /// hashes in its status).
    private static func md5Line(of path: String, package: InstalledPackage) -> String? {
        guard let md5sums = package.md5sums else { return nil }
        for line in String(decoding: md5sums, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, RootFS.merged(parts[1].trimmingCharacters(in: .whitespaces)) == path { return String(parts[0]) }
        }
        return nil
    }
}

import Foundation
