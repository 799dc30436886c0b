import Archive
import Foundation
import OCI
import Testing
import TestSupport

/// The official schemas shipped beside the project.
let schemaDirectory: String = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir.deletingLastPathComponent().path + "/shared/reference/schemas/oci"
}()

let validator: String = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir.path + "/scripts/validate-json-schema.py"
}()

/// A packed two-layer-free image with the features that peers must accept.
func packSample(_ dir: TemporaryDirectory, compression: Compression = .gzip) throws -> (ImageLayout, Descriptor) {
    let root = dir.path + "/rootfs"
    try dir.write("rootfs/usr/bin/app", pseudoRandomBytes(count: 50_000), mode: 0o4755)
    try dir.write("rootfs/etc/os-release", Array("ID=debian\nVERSION_ID=\"12\"\n".utf8))
    let deep = String(repeating: "long-directory-name/", count: 8)
    try dir.write("rootfs/usr/share/" + deep + "file.txt", Array("deep".utf8))
    symlink("usr/bin", root + "/bin")
    symlink("/usr/share/" + deep + "file.txt", root + "/etc/abs-link")
    link(root + "/usr/bin/app", root + "/usr/bin/app-hardlink")
    mkdir(root + "/tmp", 0o1777)
    chmod(root + "/tmp", 0o1777)
    let layout = try ImageLayout.create(at: dir.path + "/layout")
    var image = DirectoryImage(root: root, architecture: "amd64", epoch: 1_700_000_000)
    image.user = "65532:65532"
    image.entrypoint = ["/usr/bin/app"]
    image.labels = ["org.example/name": "sample"]
    image.annotations = ["org.opencontainers.image.title": "sample"]
    image.compression = compression
    let manifest = try image.write(into: layout)
    try layout.tag(manifest, as: "sample")
    return (layout, manifest)
}

@Suite(.serialized) struct PeerToolTests {
    @Test func skopeoInspectsOurLayout() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packSample(dir)
        let output = try runChecked("skopeo", ["inspect", "oci:\(layout.path):sample"])
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        #expect(json?["Digest"] as? String == manifest.digest.description)
        #expect(json?["Architecture"] as? String == "amd64")
        #expect((json?["Layers"] as? [String])?.count == 1)
        let config = try runChecked("skopeo", ["inspect", "--config", "oci:\(layout.path):sample"])
        #expect(config.contains("\"User\": \"65532:65532\""))
    }

    /// umoci 0.4 reads gzip and plain layers only; a zstd layer goes through skopeo (which must
    /// decode it to recompress it) before umoci unpacks it.
    @Test(arguments: [Compression.gzip, .none, .zstd])
    func umociUnpacksOurLayoutWithModesAndLinks(compression: Compression) throws {
        let dir = try TemporaryDirectory()
        let (layout, _) = try packSample(dir, compression: compression)
        var image = "\(layout.path):sample"
        if compression == .zstd {
            try runChecked("skopeo", ["copy", "--dest-compress", "--dest-compress-format", "gzip", "oci:\(image)", "oci:\(dir.path)/gz:sample"])
            image = "\(dir.path)/gz:sample"
        }
        try runChecked("umoci", ["unpack", "--image", image, dir.path + "/bundle"])
        let rootfs = dir.path + "/bundle/rootfs"
        var app = stat(), tmp = stat(), hard = stat()
        #expect(lstat(rootfs + "/usr/bin/app", &app) == 0 && (app.st_mode & 0o7777) == 0o4755)
        #expect(lstat(rootfs + "/tmp", &tmp) == 0 && (tmp.st_mode & 0o7777) == 0o1777)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rootfs + "/bin") == "usr/bin")
        #expect(lstat(rootfs + "/usr/bin/app-hardlink", &hard) == 0 && hard.st_ino == app.st_ino)
        #expect(try FileSystem.read(rootfs + "/usr/share/" + String(repeating: "long-directory-name/", count: 8) + "file.txt") == Array("deep".utf8))
        let config = try String(contentsOfFile: dir.path + "/bundle/config.json", encoding: .utf8)
        #expect(config.contains("\"uid\": 65532") || config.contains("\"uid\":65532"))
    }

    @Test func skopeoReadsOurDockerArchiveAndOciArchive() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packSample(dir)
        try LocalImages.store(manifest, from: layout, to: .dockerArchive(path: dir.path + "/d.tar", name: "example/sample:1"))
        let docker = try runChecked("skopeo", ["inspect", "docker-archive:\(dir.path)/d.tar"])
        #expect(docker.contains("\"Architecture\": \"amd64\""))
        // skopeo copies it on into a layout, and we read that layout back.
        try runChecked("skopeo", ["copy", "docker-archive:\(dir.path)/d.tar", "oci:\(dir.path)/from-skopeo:copied"])
        let copied = try LocalImages.open(.layout(path: dir.path + "/from-skopeo", tag: "copied"))
        let ours = try ImageInspection.inspect(manifest, in: layout, reference: "ours").images[0]
        let theirs = try ImageInspection.inspect(copied.root, in: copied.layout, reference: "theirs").images[0]
        #expect(theirs.layers.map(\.diffID) == ours.layers.map(\.diffID))
        #expect(theirs.user == "65532:65532")

        try LocalImages.store(manifest, from: layout, to: .ociArchive(path: dir.path + "/o.tar", tag: "v1"))
        let archive = try runChecked("skopeo", ["inspect", "oci-archive:\(dir.path)/o.tar:v1"])
        #expect(archive.contains(manifest.digest.description))
    }

    @Test func weReadLayoutsThatSkopeoAndUmociWrite() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packSample(dir)
        // skopeo copy between layouts (it re-serialises the manifest its own way).
        try runChecked("skopeo", ["copy", "oci:\(layout.path):sample", "oci:\(dir.path)/skopeo-layout:again"])
        let again = try LocalImages.open(.layout(path: dir.path + "/skopeo-layout", tag: "again"))
        #expect(try ImageInspection.inspect(again.root, in: again.layout, reference: "x").images[0].entrypoint == ["/usr/bin/app"])
        _ = manifest

        // umoci builds an image from scratch: init, new, repack of a changed rootfs.
        let umoci = dir.path + "/umoci-layout"
        try runChecked("umoci", ["init", "--layout", umoci])
        try runChecked("umoci", ["new", "--image", "\(umoci):base"])
        try runChecked("umoci", ["unpack", "--image", "\(umoci):base", dir.path + "/ub"])
        try dir.write("ub/rootfs/hello.txt", Array("from umoci".utf8))
        try runChecked("umoci", ["repack", "--image", "\(umoci):base", dir.path + "/ub"])
        try runChecked("umoci", ["config", "--image", "\(umoci):base", "--config.user", "1000"])
        let opened = try LocalImages.open(.layout(path: umoci, tag: "base"))
        let inspection = try ImageInspection.inspect(opened.root, in: opened.layout, reference: "umoci")
        #expect(inspection.images[0].user == "1000")
        let layer = try #require(try opened.layout.readDocument(ImageManifest.self, opened.root, kind: "m").layers.last)
        let tar = TarReader(try Compression.gzip.decompressing(try opened.layout.openBlob(layer)))
        var found = false
        while !found, let entry = try tar.next() {
            if entry.path == "hello.txt" { found = try tar.readContents() == Array("from umoci".utf8) }
        }
        #expect(found)
    }

    @Test func ourDocumentsValidateAgainstTheOfficialSchemas() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try packSample(dir)
        let index = try layout.writeIndex(of: [manifest], annotations: ["org.opencontainers.image.title": "multi"])
        let parsed = try layout.readDocument(ImageManifest.self, manifest, kind: "manifest")
        let checks: [(schema: String, file: String)] = [
            ("image-manifest-schema.json", layout.blobPath(manifest.digest)),
            ("config-schema.json", layout.blobPath(parsed.config.digest)),
            ("image-index-schema.json", layout.blobPath(index.digest)),
            ("image-index-schema.json", layout.path + "/index.json"),
            ("image-layout-schema.json", layout.path + "/oci-layout"),
        ]
        for check in checks {
            let result = try run("python3", [validator, schemaDirectory + "/" + check.schema, check.file])
            #expect(result.status == 0, "\(check.schema): \(result.output) \(result.stderr)")
        }
        // The validator itself rejects a wrong document, so the checks above mean something.
        let bad = try dir.write("bad.json", Array(#"{"schemaVersion":3}"#.utf8))
        #expect(try run("python3", [validator, schemaDirectory + "/image-manifest-schema.json", bad]).status == 1)
    }
}
