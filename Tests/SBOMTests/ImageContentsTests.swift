import Archive
import Foundation
import OCI
import SBOM
import Testing
import TestSupport

/// The merged filesystem with metadata, as `harden audit` reads it.
@Suite struct ImageContentsTests {
    static let key = Array("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB...\n-----END EC PRIVATE KEY-----\n".utf8)

    /// Two layers: the second whites out a directory, makes another opaque, replaces a setuid
    /// file; modes, owners, sizes and hard links come through, and a sniffed file is marked.
    @Test func layersMergeWithModesAndMarks() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let tool = Array("#!tool\n".utf8)
        let lower = try layout.writeLayer { tar in
            try tar.append(.directory("etc"))
            try tar.append(.file("etc/server.pem", size: Int64(Self.key.count), mode: 0o600), bytes: Self.key)
            try tar.append(.directory("usr"))
            try tar.append(.directory("usr/bin"))
            try tar.append(.file("usr/bin/tool", size: Int64(tool.count), mode: 0o4755), bytes: tool)
            try tar.append(.hardlink("usr/bin/tool-link", to: "usr/bin/tool"))
            try tar.append(.directory("data", mode: 0o777))
            try tar.append(.file("data/old", size: 0), bytes: [])
            try tar.append(.directory("gone"))
            try tar.append(.file("gone/file", size: 0), bytes: [])
            try tar.append(.directory("tmp", mode: 0o1777))
            try tar.append(.symlink("bin", to: "usr/bin"))
        }
        let upper = try layout.writeLayer { tar in
            try tar.append(.file(".wh.gone", size: 0), bytes: [])
            try tar.append(.directory("data", mode: 0o755, uid: 65532, gid: 65532))
            try tar.append(.file("data/.wh..wh..opq", size: 0), bytes: [])
            try tar.append(.file("data/new", size: 3, mode: 0o666), bytes: Array("new".utf8))
            try tar.append(.file("usr/bin/tool", size: Int64(tool.count), mode: 0o755), bytes: tool)
        }
        let config = ImageConfiguration(architecture: "amd64", rootfs: .init(diffIDs: []))
        let manifest = try layout.writeImage(config: config, layers: [lower, upper])
        let contents = try ImageContents.read(manifest: manifest, from: layout, imageName: "merged") { path, prefix in
            prefix.starts(with: Array("-----BEGIN".utf8)) ? "pem in \(path)" : nil
        }
        let byPath = Dictionary(uniqueKeysWithValues: contents.entries.map { ($0.path, $0) })
        #expect(contents.entries.map(\.path) == ["/bin", "/data", "/data/new", "/etc", "/etc/server.pem", "/tmp", "/usr", "/usr/bin",
                                                 "/usr/bin/tool", "/usr/bin/tool-link"])
        #expect(byPath["/data"]?.mode == 0o755 && byPath["/data"]?.uid == 65532, "the upper directory's metadata wins")
        #expect(byPath["/data/new"]?.isWorldWritable == true)
        #expect(byPath["/usr/bin/tool"]?.isSetID == false && byPath["/usr/bin/tool"]?.isExecutable == true)
        #expect(byPath["/usr/bin/tool-link"]?.isSetID == true, "the hard link keeps the inode it was made to")
        #expect(byPath["/usr/bin/tool-link"]?.size == Int64(tool.count))
        #expect(byPath["/tmp"]?.isSticky == true && byPath["/tmp"]?.isWorldWritable == true)
        #expect(byPath["/bin"]?.kind == .symlink && byPath["/bin"]?.isWorldWritable == false)
        #expect(byPath["/etc/server.pem"]?.mark == "pem in etc/server.pem")
        #expect(contents.entries.filter { $0.mark != nil }.count == 1)
        #expect(contents.existing(["/bin/tool", "/usr/bin/tool", "/bin/missing"]) == ["/usr/bin/tool"])
        #expect(contents.layerBytes == lower.descriptor.size + upper.descriptor.size)
        // No package database: a problem to report, not an error.
        #expect(contents.inventory == nil)
        #expect(contents.inventoryProblem?.contains("no Debian package database") == true)
    }

    /// A layer with a path that escapes the root is refused, naming the layer.
    @Test func hostileLayerIsRefused() throws {
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let tar = try pythonTar([("etc", "dir", ""), ("../../etc/passwd", "file", "")])
        let blob = try layout.writeBlob(tar, mediaType: MediaType.layerTar)
        let layer = StoredLayer(descriptor: blob, diffID: blob.digest)
        let manifest = try layout.writeImage(config: ImageConfiguration(architecture: "amd64", rootfs: .init(diffIDs: [])), layers: [layer])
        #expect {
            try ImageContents.read(manifest: manifest, from: layout, imageName: "hostile")
        } throws: { error in
            "\(error)".contains(blob.digest.description) && "\(error)".contains("hostile entry")
        }
    }
}
