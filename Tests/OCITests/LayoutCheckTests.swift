import Archive
import Foundation
import OCI
import Testing
import TestSupport

/// `ImageLayout.check` (what `harden store verify` runs) and the clean-up of killed writers' files.
@Suite struct LayoutCheckTests {
    /// A layout holding one tagged image of two layers.
    func layoutWithImage(_ dir: TemporaryDirectory) throws -> (ImageLayout, Descriptor, ImageManifest) {
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let first = try layout.writeLayer { tar in try tar.append(.file("a", size: 0), bytes: Array("one".utf8)) }
        let second = try layout.writeLayer { tar in try tar.append(.file("b", size: 0), bytes: pseudoRandomBytes(count: 50_000)) }
        let config = ImageConfiguration(architecture: "amd64", rootfs: .init(diffIDs: [first.diffID, second.diffID]))
        let manifest = try layout.writeImage(config: config, layers: [first, second])
        try layout.tag(manifest, as: "app:latest")
        return (layout, manifest, try layout.readDocument(ImageManifest.self, manifest, kind: "manifest"))
    }

    @Test("an intact layout passes, with its figures")
    func intact() throws {
        let dir = try TemporaryDirectory()
        let (layout, _, _) = try layoutWithImage(dir)
        _ = try layout.writeBlob(Array("garbage".utf8), mediaType: "text/plain")
        let check = layout.check()
        #expect(check.isIntact, "\(check.problems)")
        #expect(check.blobs == 5 && check.entries == 1 && check.tags == 1 && check.unreferenced == 1)
        #expect(check.bytes == (try FileSystem.listDirectory(layout.path + "/blobs/sha256")).reduce(0) {
            $0 + Int64((try? FileSource(path: layout.path + "/blobs/sha256/" + $1).size()) ?? 0)
        })
    }

    @Test("a flipped byte, a missing layer, a truncated config and a stray file are each named")
    func damage() throws {
        let dir = try TemporaryDirectory()
        let (layout, _, manifest) = try layoutWithImage(dir)
        let layer = layout.blobPath(manifest.layers[1].digest)
        var bytes = try FileSystem.read(layer, limit: 1 << 20)
        bytes[100] ^= 1
        try FileSystem.writeAtomically(layer, bytes: bytes)
        try FileSystem.remove(layout.blobPath(manifest.layers[0].digest))
        let config = layout.blobPath(manifest.config.digest)
        try FileSystem.writeAtomically(config, bytes: Array(try FileSystem.read(config).dropLast(3)))
        _ = try dir.write("layout/blobs/sha256/stray", Array("x".utf8))
        let problems = layout.check().problems
        #expect(problems.count == 5, "\(problems)")
        #expect(problems.contains { $0.contains(manifest.layers[1].digest.hex) && $0.contains("corrupt") })
        #expect(problems.contains { $0.contains("tag 'app:latest'") && $0.contains("\(manifest.layers[0].digest)") && $0.contains("missing") })
        #expect(problems.contains { $0.contains("tag 'app:latest'") && $0.contains("\(manifest.config.digest)") && $0.contains("bytes, its descriptor says") })
        #expect(problems.contains { $0.contains("stray") && $0.contains("not named by a SHA-256 digest") })
    }

    @Test("a symlink to /dev/zero among the blobs is named, not read forever")
    func endlessBlob() throws {
        let dir = try TemporaryDirectory()
        let (layout, _, _) = try layoutWithImage(dir)
        let name = String(repeating: "a", count: 64)
        symlink("/dev/zero", layout.path + "/blobs/sha256/" + name)
        let problems = layout.check().problems
        #expect(problems.count == 1 && problems[0].contains(name) && problems[0].contains("not a regular file"), "\(problems)")
    }

    @Test("a corrupt index.json is a problem, not a crash")
    func corruptIndex() throws {
        let dir = try TemporaryDirectory()
        let (layout, _, _) = try layoutWithImage(dir)
        try FileSystem.writeAtomically(layout.path + "/index.json", bytes: Array(#"{"schemaVersion":2,"manifests":[{"#.utf8))
        let check = layout.check()
        #expect(!check.isIntact && check.problems.contains { $0.hasPrefix("index.json") })
    }

    @Test("stale temporaries (their writer gone, or untouched for long) are removed; a live writer's are kept")
    func staleTemporaries() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let blobs = layout.path + "/blobs/sha256"
        // A dead writer: a pid that cannot be running (above pid_max).
        _ = try dir.write("layout/blobs/sha256/.tmp-blob-99999999-abc", Array("half".utf8))
        _ = try dir.write("layout/.tmp-index.json-99999999-def", Array("{".utf8))
        // This process's own unlocked temporary: kept until it is old.
        let mine = try dir.write("layout/blobs/sha256/.tmp-blob-\(getpid())-ghi", Array("writing".utf8))
        // A writer holding its file open (and so locked), even one named for a pid we cannot see: kept.
        let locked = try FileSink(path: blobs + "/.tmp-blob-99999998-jkl", exclusive: true)
        try locked.write(Array("in progress".utf8))
        let pending = try layout.beginBlob()
        try pending.write(Array("in progress".utf8))
        let removed = layout.removeStaleTemporaries().sorted()
        #expect(removed == [".tmp-index.json-99999999-def", "blobs/sha256/.tmp-blob-99999999-abc"])
        #expect(FileSystem.exists(mine))
        #expect(try FileSystem.listDirectory(blobs).filter { $0.hasPrefix(".tmp-") }.count == 3)
        try locked.finish()
        #expect(layout.removeStaleTemporaries() == ["blobs/sha256/.tmp-blob-99999998-jkl"])
        // Old enough, and unlocked: removed even though its pid lives.
        var times = [timespec(tv_sec: time(nil) - 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3600, tv_nsec: 0)]
        utimensat(AT_FDCWD, mine, &times, 0)
        #expect(layout.removeStaleTemporaries() == ["blobs/sha256/" + String(mine.split(separator: "/").last!)])
        _ = try pending.commit(mediaType: "text/plain", expected: nil)
        #expect(try FileSystem.listDirectory(blobs).filter { $0.hasPrefix(".tmp-") }.isEmpty)
    }

    @Test("JSON nested 100000 deep is refused with an error, not a stack overflow")
    func deepJSON() throws {
        let deep = String(repeating: #"{"manifests":["#, count: 100_000) + String(repeating: "]}", count: 100_000)
        #expect(throws: OCIError.self) { _ = try CanonicalJSON.decode(ImageIndex.self, from: Array(deep.utf8), kind: "image index") }
    }
}
