import Archive
import Foundation
import Testing
import TestSupport

/// A tree exercising everything ustar cannot hold on its own.
func sampleEntries() -> [(TarEntry, [UInt8])] {
    let longDir = String(repeating: "d", count: 90) + "/" + String(repeating: "e", count: 90)
    let longName = longDir + "/" + String(repeating: "f", count: 120) + ".txt"
    let longTarget = String(repeating: "../", count: 2) + String(repeating: "t", count: 150)
    var owned = TarEntry.file("etc/owned", size: 0, mode: 0o640, uid: 3_000_000, gid: 42)
    owned.userName = "a-very-long-user-name-over-thirty-two-bytes"
    owned.groupName = "staff"
    var withXattr = TarEntry.file("usr/bin/ping", size: 0, mode: 0o755)
    // cap_net_raw+p as a VFS_CAP_REVISION_2 structure, as ping carries it.
    let capability: [UInt8] = [0, 0, 0, 2, 0, 0x20, 0, 0] + [UInt8](repeating: 0, count: 12)
    withXattr.xattrs = ["security.capability": capability, "user.note": Array("hi".utf8)]
    var device = TarEntry(path: "dev/null", kind: .characterDevice, mode: 0o666)
    device.deviceMajor = 1
    device.deviceMinor = 3
    let entries: [(TarEntry, [UInt8])] = [
        (.directory("d" + String(repeating: "d", count: 89)), []),
        (.directory(longDir), []),
        (.file(longName, size: 0), Array("long name contents\n".utf8)),
        (.symlink(longDir + "/long-link", to: longTarget), []),
        (.directory("dev"), []),
        (device, []),
        (.directory("etc"), []),
        (owned, Array("owned\n".utf8)),
        (.directory("tmp", mode: 0o1777), []),
        (.directory("usr"), []),
        (.directory("usr/bin"), []),
        (.file("usr/bin/passwd", size: 0, mode: 0o4755), pseudoRandomBytes(count: 10_000)),
        (.hardlink("usr/bin/passwd-again", to: "usr/bin/passwd", mode: 0o4755), []),
        (withXattr, Array("ping".utf8)),
        (.symlink("usr/bin/sh", to: "dash"), []),
        (.file("usr/bin/wall", size: 0, mode: 0o2755, gid: 5), Array("wall".utf8)),
        (.file("usr/empty", size: 0), []),
    ]
    return entries
}

func writeTar(_ entries: [(TarEntry, [UInt8])], clamp: Int64? = nil) throws -> [UInt8] {
    let sink = MemorySink()
    let writer = TarWriter(sink, clampModificationTime: clamp)
    for (entry, bytes) in entries {
        if entry.kind == .regular { try writer.append(entry, bytes: bytes) } else { try writer.append(entry) }
    }
    try writer.finish()
    return sink.bytes
}

func readTar(_ bytes: [UInt8], policy: TarReader.Policy = .refuseHostile) throws -> [(TarEntry, [UInt8])] {
    let reader = TarReader(MemorySource(bytes), policy: policy)
    var result: [(TarEntry, [UInt8])] = []
    while let entry = try reader.next() { result.append((entry, try reader.readContents())) }
    return result
}

@Suite struct TarTests {
    @Test func roundTripKeepsEveryField() throws {
        let entries = sampleEntries()
        let back = try readTar(try writeTar(entries))
        #expect(back.count == entries.count)
        for ((expected, bytes), (actual, readBytes)) in zip(entries, back) {
            var want = expected
            want.size = expected.kind == .regular ? Int64(bytes.count) : 0
            #expect(actual == want)
            #expect(readBytes == bytes)
        }
    }

    @Test func sameTreeGivesSameBytesInCanonicalOrder() throws {
        let entries = sampleEntries()
        let first = try writeTar(entries)
        var shuffled = entries
        var rng = SystemRandomNumberGenerator()
        shuffled.shuffle(using: &rng)
        shuffled.sort { $0.0.canonicallyPrecedes($1.0) }
        #expect(shuffled.map(\.0.path) == entries.map(\.0.path))
        #expect(try writeTar(shuffled) == first)
        #expect(sha256Hex(first) == sha256Hex(try writeTar(entries)))
    }

    @Test func canonicalOrderPutsChildrenRightAfterTheirDirectory() {
        let paths = ["b", "a.b", "a/c", "a", "a-b", "a/b/c", "ab"]
        let sorted = paths.sorted(by: TarPath.canonicallyPrecedes)
        #expect(sorted == ["a", "a/b/c", "a/c", "a-b", "a.b", "ab", "b"])
    }

    @Test func mtimesAreClampedToTheEpoch() throws {
        var late = TarEntry.file("late", size: 0)
        late.modificationTime = 2_000_000_000
        var early = TarEntry.file("early", size: 0)
        early.modificationTime = 100
        let back = try readTar(try writeTar([(early, []), (late, [])], clamp: 1_000_000))
        #expect(back.map(\.0.modificationTime) == [100, 1_000_000])
    }

    @Test func writerRefusesUncleanPaths() throws {
        for bad in ["/abs", "../up", "a/../b", "./a", "a//b", "a/"] {
            let writer = TarWriter(MemorySink())
            #expect(throws: ArchiveError.self) { try writer.append(.directory(bad)) }
        }
    }

    @Test func writerRefusesShortContents() throws {
        let writer = TarWriter(MemorySink())
        #expect(throws: ArchiveError.self) {
            try writer.append(.file("f", size: 10), contents: MemorySource([1, 2, 3]))
        }
    }

    @Test func contentsNotReadAreSkipped() throws {
        let bytes = try writeTar(sampleEntries())
        let reader = TarReader(MemorySource(bytes))
        var paths: [String] = []
        while let entry = try reader.next() { paths.append(entry.path) }
        #expect(paths == sampleEntries().map(\.0.path))
    }

    /// From a file, unread contents are seeked past, and a cut archive fails the same way.
    @Test func filesAreSkippedBySeekingAndTruncationIsStillAnError() throws {
        let dir = try TemporaryDirectory()
        let bytes = try writeTar(sampleEntries())
        let whole = try dir.write("whole.tar", bytes)
        let reader = TarReader(try FileSource(path: whole))
        var paths: [String] = []
        while let entry = try reader.next() { paths.append(entry.path) }
        #expect(paths == sampleEntries().map(\.0.path))
        for cut in [512 + 300, bytes.count - 1024, bytes.count / 2] {
            let cutFile = try dir.write("cut-\(cut).tar", Array(bytes.prefix(cut)))
            #expect(throws: ArchiveError.self) {
                let tar = TarReader(try FileSource(path: cutFile))
                while try tar.next() != nil {}
            }
        }
        let source = try FileSource(path: whole)
        try source.skip(Int64(bytes.count))
        #expect(throws: ArchiveError.self) { try source.skip(1) }
    }

    @Test func truncatedArchiveIsAnError() throws {
        let bytes = try writeTar(sampleEntries())
        for cut in [100, 512 + 300, bytes.count - 1024, bytes.count / 2] {
            #expect(throws: ArchiveError.self) { _ = try readTar(Array(bytes.prefix(cut))) }
        }
    }

    @Test func corruptHeaderChecksumIsAnError() throws {
        var bytes = try writeTar([(.file("a", size: 0), Array("x".utf8))])
        bytes[3] ^= 0x20
        #expect(throws: ArchiveError.malformed("tar header checksum mismatch (not a tar archive, or corrupt)")) {
            _ = try readTar(bytes)
        }
    }

    @Test func directoryArchiverIsDeterministicAndCanonical() throws {
        let dir = try TemporaryDirectory()
        try dir.write("b/z.txt", Array("z".utf8))
        try dir.write("a/y.txt", pseudoRandomBytes(count: 3000), mode: 0o4755)
        try dir.write("a.txt", Array("a".utf8))
        symlink("y.txt", dir.path + "/a/link")
        link(dir.path + "/a/y.txt", dir.path + "/b/hard")
        let first = MemorySink()
        try DirectoryArchiver(owner: (0, 0), clampModificationTime: 0).archive(dir.path, into: first)
        // Touch everything: the clamp and fixed owner make the bytes independent of it.
        _ = try runChecked("touch", ["-h", dir.path + "/a/link", dir.path + "/a.txt"])
        let second = MemorySink()
        try DirectoryArchiver(owner: (0, 0), clampModificationTime: 0).archive(dir.path, into: second)
        #expect(first.bytes == second.bytes)
        let back = try readTar(first.bytes)
        #expect(back.map(\.0.path) == ["a", "a/link", "a/y.txt", "a.txt", "b", "b/hard", "b/z.txt"])
        #expect(back[2].0.mode == 0o4755)
        #expect(back[5].0.kind == .hardlink && back[5].0.linkTarget == "a/y.txt")
        #expect(back[1].0.kind == .symlink && back[1].0.linkTarget == "y.txt")
    }
}
