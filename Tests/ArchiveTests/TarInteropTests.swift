import Archive
import Foundation
import Testing
import TestSupport

/// What a file looks like on disk after extraction, read with lstat.
struct OnDisk: Equatable, CustomStringConvertible {
    var kind: String
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var link: String
    var contents: [UInt8]
    var description: String { "\(kind) \(String(mode, radix: 8)) \(uid):\(gid) -> \(link) (\(contents.count) bytes)" }

    init(kind: String, mode: UInt32, uid: UInt32, gid: UInt32, link: String = "", contents: [UInt8] = []) {
        self.kind = kind; self.mode = mode; self.uid = uid; self.gid = gid; self.link = link; self.contents = contents
    }

    init(path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw TestSetupError(description: "missing \(path)") }
        mode = UInt32(st.st_mode) & 0o7777
        uid = st.st_uid
        gid = st.st_gid
        link = ""
        contents = []
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = "dir"
        case S_IFLNK:
            kind = "symlink"
            mode = 0o777
            link = try FileManager.default.destinationOfSymbolicLink(atPath: path)
        case S_IFCHR: kind = "chardev"
        case S_IFREG:
            kind = "file"
            contents = try FileSystem.read(path)
        default: kind = "other"
        }
    }
}

/// The expected on-disk state of `sampleEntries()`, hard links resolved to their files.
func expectedDisk() -> [String: OnDisk] {
    var expected: [String: OnDisk] = [:]
    let entries = sampleEntries()
    for (entry, bytes) in entries {
        switch entry.kind {
        case .directory: expected[entry.path] = OnDisk(kind: "dir", mode: entry.mode, uid: UInt32(entry.uid), gid: UInt32(entry.gid))
        case .symlink: expected[entry.path] = OnDisk(kind: "symlink", mode: 0o777, uid: UInt32(entry.uid), gid: UInt32(entry.gid), link: entry.linkTarget)
        case .characterDevice: expected[entry.path] = OnDisk(kind: "chardev", mode: entry.mode, uid: 0, gid: 0)
        case .hardlink:
            let target = entries.first { $0.0.path == entry.linkTarget }!
            expected[entry.path] = OnDisk(kind: "file", mode: target.0.mode, uid: UInt32(target.0.uid), gid: UInt32(target.0.gid), contents: target.1)
        default: expected[entry.path] = OnDisk(kind: "file", mode: entry.mode, uid: UInt32(entry.uid), gid: UInt32(entry.gid), contents: bytes)
        }
    }
    return expected
}

@Suite(.serialized) struct TarInteropTests {
    /// Extracts our archive with `tool` and compares every path on disk with what we wrote.
    func extractAndCompare(tool: String, arguments: [String]) throws {
        let dir = try TemporaryDirectory()
        let archive = dir.path + "/sample.tar"
        try FileSystem.writeAtomically(archive, bytes: try writeTar(sampleEntries()))
        let out = dir.path + "/out"
        try FileSystem.createDirectory(out)
        try runChecked(tool, arguments + [archive, "-C", out])
        for (path, want) in expectedDisk() {
            let got = try OnDisk(path: out + "/" + path)
            #expect(got == want, "\(tool): \(path)")
        }
        let hardA = try FileManager.default.attributesOfItem(atPath: out + "/usr/bin/passwd")[.systemFileNumber] as? Int
        let hardB = try FileManager.default.attributesOfItem(atPath: out + "/usr/bin/passwd-again")[.systemFileNumber] as? Int
        #expect(hardA == hardB, "\(tool) made the hard link a separate file")
    }

    @Test func gnuTarExtractsOurArchive() throws {
        try extractAndCompare(tool: "tar", arguments: ["--numeric-owner", "--same-owner", "-p", "--xattrs", "--xattrs-include=*", "-xf"])
    }

    @Test func bsdtarExtractsOurArchive() throws {
        try extractAndCompare(tool: "bsdtar", arguments: ["--numeric-owner", "-p", "-xf"])
    }

    @Test func gnuTarAndBsdtarListOurNamesModesOwnersAndLinks() throws {
        let dir = try TemporaryDirectory()
        let archive = dir.path + "/sample.tar"
        try FileSystem.writeAtomically(archive, bytes: try writeTar(sampleEntries()))
        let gnu = try runChecked("tar", ["--numeric-owner", "-tvf", archive])
        let bsd = try runChecked("bsdtar", ["--numeric-owner", "-tvf", archive])
        for (entry, _) in sampleEntries() {
            let name = entry.kind == .directory ? entry.path + "/" : entry.path
            #expect(gnu.contains(name), "GNU tar lost \(name)")
            #expect(bsd.contains(entry.path), "bsdtar lost \(entry.path)")
        }
        #expect(gnu.contains("-rwsr-xr-x 0/0") && gnu.contains("usr/bin/passwd"))
        #expect(gnu.contains("-rwxr-sr-x 0/5"))
        #expect(gnu.contains("drwxrwxrwt 0/0"))
        #expect(gnu.contains("-rw-r----- 3000000/42"))
        #expect(gnu.contains("usr/bin/passwd-again link to usr/bin/passwd"))
        #expect(gnu.contains("long-link -> ../../" + String(repeating: "t", count: 150)))
        #expect(bsd.contains("usr/bin/passwd-again link to usr/bin/passwd"))
        let xattrs = try runChecked("tar", ["--xattrs", "--xattrs-include=*", "-tvvf", archive, "usr/bin/ping"])
        #expect(xattrs.contains("ping"))
    }

    /// Builds a tree on disk with the features that matter and archives it with `tool`.
    func makeTreeAndArchive(with tool: String, arguments: [String]) throws -> (TemporaryDirectory, [UInt8]) {
        let dir = try TemporaryDirectory()
        let root = dir.path + "/root"
        let longDir = String(repeating: "p", count: 120) + "/" + String(repeating: "q", count: 140)
        try dir.write("root/" + longDir + "/" + String(repeating: "n", count: 110), Array("deep\n".utf8))
        try dir.write("root/bin/su", pseudoRandomBytes(count: 5000), mode: 0o4755)
        try dir.write("root/etc/conf", Array("conf".utf8), mode: 0o600)
        chown(root + "/etc/conf", 1234, 5678)
        symlink(String(repeating: "../", count: 1) + String(repeating: "L", count: 130), root + "/etc/longlink")
        symlink("su", root + "/bin/su2")
        link(root + "/bin/su", root + "/bin/su-hard")
        mkdir(root + "/tmp", 0o755)
        chmod(root + "/tmp", 0o1777)
        let archive = dir.path + "/theirs.tar"
        try runChecked(tool, arguments + [archive, "-C", root, "."])
        return (dir, try FileSystem.read(archive, limit: 1 << 26))
    }

    func checkTheirArchive(_ bytes: [UInt8]) throws {
        let entries = try readTar(bytes)
        let byPath = Dictionary(entries.map { ($0.0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let longDir = String(repeating: "p", count: 120) + "/" + String(repeating: "q", count: 140)
        let deep = try #require(byPath[longDir + "/" + String(repeating: "n", count: 110)])
        #expect(deep.1 == Array("deep\n".utf8))
        let su = try #require(byPath["bin/su"])
        #expect(su.0.mode == 0o4755 && su.1 == pseudoRandomBytes(count: 5000))
        let conf = try #require(byPath["etc/conf"])
        #expect(conf.0.uid == 1234 && conf.0.gid == 5678 && conf.0.mode == 0o600)
        #expect(byPath["etc/longlink"]?.0.linkTarget == "../" + String(repeating: "L", count: 130))
        #expect(byPath["bin/su2"]?.0.linkTarget == "su")
        let hard = [byPath["bin/su-hard"]?.0, su.0].compactMap { $0 }.first { $0.kind == .hardlink }
        #expect(hard != nil, "one of the two names must be a hard link")
        #expect(byPath["tmp"]?.0.mode == 0o1777 && byPath["tmp"]?.0.kind == .directory)
    }

    @Test func readsGnuTarFormatGnu() throws {
        let (_, bytes) = try makeTreeAndArchive(with: "tar", arguments: ["--format=gnu", "-cf"])
        try checkTheirArchive(bytes)
    }

    @Test func readsGnuTarFormatPosix() throws {
        let (_, bytes) = try makeTreeAndArchive(with: "tar", arguments: ["--format=posix", "-cf"])
        try checkTheirArchive(bytes)
    }

    @Test func readsBsdtarDefaultFormat() throws {
        let (_, bytes) = try makeTreeAndArchive(with: "bsdtar", arguments: ["-cf"])
        try checkTheirArchive(bytes)
    }

    @Test func readsBsdtarPaxFormat() throws {
        let (_, bytes) = try makeTreeAndArchive(with: "bsdtar", arguments: ["--format=pax", "-cf"])
        try checkTheirArchive(bytes)
    }
}
