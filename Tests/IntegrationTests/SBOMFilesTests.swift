import Archive
import Foundation
import OCI
import SBOM
import Testing
import TestSupport

@Suite struct SBOMFilesTests {
    /// `--files`: every regular file of the python image with the SHA-1 and SHA-256 that GNU tar's
    /// extraction and sha1sum/sha256sum give, owned by the package that lists it; the SPDX
    /// document still validates and trivy still finds every package.
    @Test func everyFileIsListedWithItsDigestsAndOwner() async throws {
        let dir = try TemporaryDirectory()
        let (layout, images) = try await CatalogBuilds.shared.built("python")
        let amd64 = try #require(images[0].platforms.first { $0.architecture == "amd64" })
        let inventory = try ImageInventory.read(manifest: amd64.manifest, from: layout, imageName: "python", includingFiles: true)
        let files = try #require(inventory.files)

        // The same layer, extracted by GNU tar, hashed by coreutils.
        let manifest = try layout.readDocument(ImageManifest.self, amd64.manifest, kind: "manifest")
        try FileSystem.createDirectory(dir.path + "/root")
        for layer in manifest.layers {
            try runChecked("tar", ["-xzf", layout.blobPath(layer.digest), "-C", dir.path + "/root", "--no-same-owner"])
        }
        let found = try runChecked("/usr/bin/find", [".", "-type", "f"], cwd: dir.path + "/root")
            .split(separator: "\n").map { String($0.dropFirst(2)) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(files.map(\.path) == found)
        for path in ["usr/bin/python3.11", "usr/lib/x86_64-linux-gnu/libc.so.6", "etc/passwd", "usr/lib/os-release"] {
            let file = try #require(files.first { $0.path == path }, "\(path)")
            let sha256 = try runChecked("sha256sum", [path], cwd: dir.path + "/root").prefix(64)
            let sha1 = try runChecked("sha1sum", [path], cwd: dir.path + "/root").prefix(40)
            #expect(file.sha256 == sha256 && file.sha1 == sha1, "\(path)")
        }
        #expect(files.first { $0.path == "usr/bin/python3.11" }?.package == "python3.11-minimal")
        #expect(files.first { $0.path == "usr/lib/x86_64-linux-gnu/libc.so.6" }?.package == "libc6")
        // Harden wrote /etc/passwd itself: no package owns it.
        #expect(files.first { $0.path == "etc/passwd" }?.package == nil)
        #expect(files.filter { $0.package != nil }.count > files.count / 2)

        let spdx = try dir.write("python.files.spdx.json", try SPDXWriter.write(inventory))
        let check = try run("pyspdxtools", ["-i", spdx])
        #expect(check.status == 0, "\(check.output.prefix(2000)) \(check.stderr.prefix(2000))")
        let trivy = try run("trivy", ["sbom", "--quiet", "--cache-dir", dir.path + "/trivy", "--scanners", "license", "--format", "json",
                                      "--list-all-pkgs", "--skip-db-update", "--offline-scan", spdx])
        let report = try JSONSerialization.jsonObject(with: Data(trivy.stdout)) as? [String: Any]
        let packages = (report?["Results"] as? [[String: Any]] ?? []).reduce(0) { $0 + (($1["Packages"] as? [Any])?.count ?? 0) }
        #expect(packages == inventory.packages.count, "\(trivy.stderr)")
        // Deterministic, like every SBOM Harden writes.
        let again = try ImageInventory.read(manifest: amd64.manifest, from: layout, imageName: "python", includingFiles: true)
        #expect(try SPDXWriter.write(again) == SPDXWriter.write(inventory))
    }
}
