import Archive
import Foundation
import Testing
import TestSupport

@Suite struct ArReaderTests {
    @Test func readsADebBuiltByDpkgDeb() throws {
        let dir = try TemporaryDirectory()
        try dir.write("pkg/DEBIAN/control", Array("""
            Package: harden-test
            Version: 1.0-1
            Architecture: all
            Maintainer: Harden <harden@example.org>
            Description: test package

            """.utf8))
        try dir.write("pkg/usr/bin/tool", Array("#!/bin/true\n".utf8), mode: 0o4755)
        try dir.write("pkg/usr/share/doc/harden-test/copyright", Array("MIT\n".utf8))
        try runChecked("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", dir.path + "/pkg", dir.path + "/t.deb"])

        let reader = ArReader(try FileSource(path: dir.path + "/t.deb"))
        var names: [String] = []
        var dataPaths: [String] = []
        var control = ""
        while let member = try reader.next() {
            names.append(member.name)
            if member.name == "debian-binary" {
                #expect(try reader.contents.readAll() == Array("2.0\n".utf8))
            } else if member.name.hasPrefix("control.tar") {
                let tar = TarReader(try Compression.forFileName(member.name).decompressing(reader.contents))
                while let entry = try tar.next() {
                    if entry.path == "control" { control = String(decoding: try tar.readContents(), as: UTF8.self) }
                }
            } else if member.name.hasPrefix("data.tar") {
                let tar = TarReader(try Compression.forFileName(member.name).decompressing(reader.contents))
                while let entry = try tar.next() {
                    dataPaths.append(entry.path)
                    if entry.path == "usr/bin/tool" { #expect(entry.mode == 0o4755) }
                }
            }
        }
        #expect(names == ["debian-binary", "control.tar.xz", "data.tar.xz"])
        #expect(control.contains("Package: harden-test"))
        #expect(dataPaths.contains("usr/share/doc/harden-test/copyright"))
    }

    @Test func readsOddSizedMembersFromBinutilsAr() throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.txt", Array("odd".utf8))
        try dir.write("b.txt", Array("even".utf8))
        try runChecked("ar", ["rcD", dir.path + "/x.a", dir.path + "/a.txt", dir.path + "/b.txt"])
        let reader = ArReader(try FileSource(path: dir.path + "/x.a"))
        var found: [String: String] = [:]
        while let member = try reader.next() {
            found[member.name] = String(decoding: try reader.contents.readAll(), as: UTF8.self)
        }
        #expect(found == ["a.txt": "odd", "b.txt": "even"])
    }

    @Test func badMagicAndTruncationAreErrors() throws {
        #expect(throws: ArchiveError.malformed("not an ar archive (bad magic)")) {
            _ = try ArReader(MemorySource(Array("not an archive".utf8))).next()
        }
        let header = Array("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.".utf8)
        let reader = ArReader(MemorySource(header))
        _ = try reader.next()
        #expect(throws: ArchiveError.self) { _ = try reader.contents.readAll() }
    }
}
