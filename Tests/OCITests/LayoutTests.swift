import Archive
import Foundation
import OCI
import Testing
import TestSupport

/// Files under `dir` whose names mark them temporary (what an interrupted write would leave).
func leftoverTemporaries(_ dir: String) -> [String] {
    let names = FileManager.default.enumerator(atPath: dir)?.allObjects.compactMap { $0 as? String } ?? []
    return names.filter { $0.split(separator: "/").last?.hasPrefix(".tmp-") == true }
}

/// A small tree to pack: a setuid binary, a symlink, a sticky /tmp.
func makeRootfs(_ dir: TemporaryDirectory) throws -> String {
    let root = dir.path + "/rootfs"
    try dir.write("rootfs/usr/bin/app", pseudoRandomBytes(count: 20_000), mode: 0o4755)
    try dir.write("rootfs/etc/os-release", Array("ID=debian\nVERSION_ID=\"12\"\n".utf8))
    symlink("usr/bin", root + "/bin")
    mkdir(root + "/tmp", 0o755)
    chmod(root + "/tmp", 0o1777)
    return root
}

@Suite struct LayoutTests {
    @Test func blobsRoundTripVerified() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let bytes = pseudoRandomBytes(count: 100_000)
        let descriptor = try layout.writeBlob(bytes, mediaType: "application/octet-stream")
        #expect(descriptor.digest == Digest.of(bytes))
        #expect(descriptor.size == 100_000)
        #expect(try layout.readBlob(descriptor) == bytes)
        #expect(leftoverTemporaries(layout.path).isEmpty)
    }

    @Test func tamperedBlobIsRefusedOnRead() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let descriptor = try layout.writeBlob(Array("original contents".utf8), mediaType: "text/plain")
        try FileSystem.writeAtomically(layout.blobPath(descriptor.digest), bytes: Array("tampered contents".utf8))
        #expect(throws: OCIError.digestMismatch(expected: descriptor.digest.description, actual: Digest.of(Array("tampered contents".utf8)).description)) {
            try layout.readBlob(descriptor)
        }
        try FileSystem.writeAtomically(layout.blobPath(descriptor.digest), bytes: Array("short".utf8))
        #expect(throws: OCIError.sizeMismatch(digest: descriptor.digest.description, expected: 17, actual: 5)) {
            try layout.readBlob(descriptor)
        }
    }

    @Test func expectedDigestMismatchStoresNothing() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let wrong = Digest.of(Array("something else".utf8))
        #expect(throws: OCIError.self) {
            try layout.writeBlob(mediaType: "x", expected: wrong) { try $0.write(Array("actual".utf8)) }
        }
        #expect(try FileSystem.listDirectory(layout.path + "/blobs/sha256").isEmpty)
    }

    @Test func failingProducerLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try layout.writeBlob(mediaType: "x") { sink in
                try sink.write(pseudoRandomBytes(count: 1000))
                throw Boom()
            }
        }
        #expect(try FileSystem.listDirectory(layout.path + "/blobs/sha256").isEmpty)
    }

    @Test func corruptIndexAndMissingMarkerAreClearErrors() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        try FileSystem.writeAtomically(layout.path + "/index.json", bytes: Array(#"{"schemaVersion":2,"manifests":[{"digest":"#.utf8))
        #expect(throws: OCIError.invalidLayout(path: layout.path, reason: "corrupt index.json: invalid index.json: not valid JSON")) {
            try layout.index()
        }
        #expect(throws: OCIError.self) { try LocalImages.open(.layout(path: layout.path, tag: nil)) }
        #expect(throws: OCIError.invalidLayout(path: dir.path, reason: "missing oci-layout file")) {
            try ImageLayout(opening: dir.path)
        }
    }

    @Test func tagsReplaceAndResolve() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let a = try layout.writeBlob(Array("a".utf8), mediaType: MediaType.imageManifest)
        let b = try layout.writeBlob(Array("b".utf8), mediaType: MediaType.imageManifest)
        try layout.tag(a, as: "v1")
        try layout.tag(b, as: "v2")
        try layout.tag(b, as: "v1")
        #expect(try layout.tags().map(\.name) == ["v2", "v1"])
        #expect(try layout.resolve(tag: "v1").digest == b.digest)
        #expect(throws: OCIError.self) { try layout.resolve(tag: "nope") }
        #expect(throws: OCIError.self) { try layout.resolve(tag: nil) }
        try layout.untag("v2")
        #expect(try layout.resolve(tag: nil).digest == b.digest)
    }

    @Test func concurrentWritersLoseNothing() async throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let shared = pseudoRandomBytes(count: 300_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<32 {
                group.addTask {
                    // Every writer adds the same big blob and one of its own, then tags it.
                    _ = try layout.writeBlob(shared, mediaType: "x")
                    let own = try layout.writeBlob(Array("blob \(i)".utf8), mediaType: MediaType.imageManifest)
                    try layout.tag(own, as: "t\(i)")
                }
            }
            try await group.waitForAll()
        }
        #expect(Set(try layout.tags().map(\.name)) == Set((0..<32).map { "t\($0)" }))
        #expect(try layout.readBlob(Descriptor(mediaType: "x", digest: Digest.of(shared), size: Int64(shared.count))) == shared)
        #expect(leftoverTemporaries(layout.path).isEmpty)
        #expect(try FileSystem.listDirectory(layout.path + "/blobs/sha256").count == 33)
    }

    @Test func packIsReproducibleAcrossTimesAndUmask() throws {
        let dir = try TemporaryDirectory()
        let root = try makeRootfs(dir)
        var image = DirectoryImage(root: root, architecture: "amd64", epoch: 1_700_000_000)
        image.user = "65532"
        let first = try image.write(into: try ImageLayout.create(at: dir.path + "/one"))
        _ = try runChecked("touch", [root + "/etc/os-release"])
        let old = umask(0o077)
        defer { umask(old) }
        let second = try image.write(into: try ImageLayout.create(at: dir.path + "/two"))
        #expect(first.digest == second.digest)
        image.compression = .zstd
        let zstd = try image.write(into: try ImageLayout.create(at: dir.path + "/three"))
        let zstdManifest = try ImageLayout(opening: dir.path + "/three").readDocument(ImageManifest.self, zstd, kind: "manifest")
        #expect(zstdManifest.layers.first?.mediaType == MediaType.layerZstd)
    }
}

@Suite struct ArchiveTransportTests {
    func packed(_ dir: TemporaryDirectory) throws -> (ImageLayout, Descriptor) {
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        var image = DirectoryImage(root: try makeRootfs(dir), architecture: "amd64", epoch: 0)
        image.entrypoint = ["/usr/bin/app"]
        return (layout, try image.write(into: layout))
    }

    @Test func ociArchiveRoundTripsAndIsDeterministic() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packed(dir)
        try OCIArchive.write([(manifest, "v1")], from: layout, to: dir.path + "/a.tar")
        try OCIArchive.write([(manifest, "v1")], from: layout, to: dir.path + "/b.tar")
        #expect(try FileSystem.read(dir.path + "/a.tar", limit: 1 << 26) == (try FileSystem.read(dir.path + "/b.tar", limit: 1 << 26)))
        let opened = try LocalImages.open(.ociArchive(path: dir.path + "/a.tar", tag: "v1"))
        #expect(opened.root.digest == manifest.digest)
        let inspection = try ImageInspection.inspect(opened.root, in: opened.layout, reference: "x")
        #expect(inspection.images.first?.entrypoint == ["/usr/bin/app"])
    }

    @Test func dockerArchiveRoundTripKeepsDiffIDs() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packed(dir)
        try DockerArchive.write(manifest, from: layout, repoTags: ["example/app:1"], to: dir.path + "/d.tar")
        let opened = try LocalImages.open(.dockerArchive(path: dir.path + "/d.tar", name: "example/app:1"))
        let original = try ImageInspection.inspect(manifest, in: layout, reference: "a").images[0]
        let imported = try ImageInspection.inspect(opened.root, in: opened.layout, reference: "b").images[0]
        #expect(imported.layers.map(\.diffID) == original.layers.map(\.diffID))
        #expect(imported.configDigest == original.configDigest)
        #expect(imported.layers.first?.mediaType == MediaType.layerTar)
        #expect(throws: OCIError.self) { try LocalImages.open(.dockerArchive(path: dir.path + "/d.tar", name: "other:1")) }
    }

    @Test("a docker-archive is read in place: nothing copied, the same digests as an import, every layer verified as read")
    func dockerArchiveReadInPlace() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packed(dir)
        try DockerArchive.write(manifest, from: layout, repoTags: ["example/app:1"], to: dir.path + "/d.tar")
        let opened = try LocalImages.open(.dockerArchive(path: dir.path + "/d.tar", name: nil))
        #expect(opened.existingLayout == nil)
        let parsed = try opened.reader.readDocument(ImageManifest.self, opened.root, kind: "manifest")
        #expect(try opened.reader.verifyBlobs(from: opened.root).blobs == 2 + parsed.layers.count)
        // Imported on demand, it is the same image.
        let imported = try opened.layout
        #expect(try imported.readBlob(opened.root) == (try opened.reader.readBlob(opened.root)))

        // One byte of the layer changed: opening still works (nothing is read yet), reading the
        // layer fails on its diff ID, and so does an import.
        var bytes = try FileSystem.read(dir.path + "/d.tar", limit: 1 << 26)
        let index = try TarIndex(file: dir.path + "/d.tar")
        let layer = try #require(index.members["\(parsed.layers[0].digest.hex).tar"])
        bytes[Int(layer.offset) + 700] ^= 1
        try FileSystem.writeAtomically(dir.path + "/bad.tar", bytes: bytes)
        let bad = try LocalImages.open(.dockerArchive(path: dir.path + "/bad.tar", name: nil))
        #expect(throws: OCIError.self) { _ = try bad.reader.verifyBlobs(from: bad.root) }
        let error = #expect(throws: OCIError.self) { _ = try bad.layout }
        if case .digestMismatch = error {} else { Issue.record("expected a digest mismatch, got \(String(describing: error))") }
    }

    @Test func hostileOciArchiveIsRefusedAndLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        let script = """
        import io, tarfile
        with tarfile.open("\(dir.path)/evil.tar", "w") as tar:
            for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("../../escape", b"x"), ("index.json", b"{}")]:
                info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
        """
        try runChecked("python3", ["-c", script])
        #expect(throws: OCIError.archive(.hostileEntry(path: "../../escape", hazard: .parentTraversal))) {
            try OCIArchive.extract(dir.path + "/evil.tar", into: dir.path + "/out")
        }
        #expect(!FileSystem.exists(dir.path + "/escape") && !FileSystem.exists(FileSystem.parentPath(dir.path) + "/escape"))
    }

    @Test func blobWithWrongNameInArchiveIsRefused() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packed(dir)
        try OCIArchive.write([(manifest, nil)], from: layout, to: dir.path + "/a.tar")
        // Rewrite the archive with one blob's bytes changed but its name kept.
        let reader = TarReader(try FileSource(path: dir.path + "/a.tar"))
        let sink = MemorySink()
        let writer = TarWriter(sink)
        var tampered = false
        while let entry = try reader.next() {
            var bytes = try reader.readContents()
            if entry.path.hasPrefix("blobs/sha256/") && !tampered && !bytes.isEmpty {
                bytes[bytes.count / 2] ^= 1
                tampered = true
            }
            if entry.kind == .regular { try writer.append(entry, bytes: bytes) } else { try writer.append(entry) }
        }
        try writer.finish()
        try FileSystem.writeAtomically(dir.path + "/bad.tar", bytes: sink.bytes)
        let error = #expect(throws: OCIError.self) { try LocalImages.open(.ociArchive(path: dir.path + "/bad.tar", tag: nil)) }
        if case .digestMismatch = error {} else { Issue.record("expected a digest mismatch, got \(String(describing: error))") }
    }
}
