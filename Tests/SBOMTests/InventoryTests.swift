import Archive
import Foundation
import OCI
import SBOM
import Testing
import TestSupport

@Suite(.serialized) struct InventoryTests {
    /// A distroless image (status.d) read back: packages, versions, sources, files, licences,
    /// and both documents accepted by pyspdxtools, the CycloneDX 1.6 schema and trivy.
    @Test func distrolessImageToValidDocuments() throws {
        let fixture = try DebianFixture()
        try fixture.writeStatusD()
        let (layout, manifest) = try fixture.image(name: "distroless")
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: "base")

        #expect(inventory.osName == "debian")
        #expect(inventory.osVersion.hasPrefix("12."))
        #expect(inventory.created == "2023-11-14T22:13:20Z")
        #expect(inventory.packages.map(\.name) == DebianFixture.packages.sorted())
        #expect(inventory.warnings.isEmpty, "\(inventory.warnings)")

        let byName = Dictionary(uniqueKeysWithValues: inventory.packages.map { ($0.name, $0) })
        let zlib = try #require(byName["zlib1g"])
        #expect(zlib.version.hasPrefix("1:"))
        #expect(zlib.purl.hasPrefix("pkg:deb/debian/zlib1g@1%3A1.2.13"))
        #expect(zlib.purl.contains("arch=\(fixture.architecture)&distro=debian-12&upstream=zlib"))
        #expect(zlib.sourceName == "zlib")
        #expect(zlib.license == "Zlib")
        #expect(zlib.copyrightFile == "/usr/share/doc/zlib1g/copyright")
        #expect(zlib.depends.contains("libc6"))
        #expect(zlib.files.contains { $0.hasPrefix("/") && $0.contains("libz.so.1.2") })

        let libc = try #require(byName["libc6"])
        #expect(libc.sourceName == "glibc")
        #expect(libc.license != "NOASSERTION")
        #expect(libc.license.contains("LGPL-2.1"))
        #expect(libc.installedSize ?? 0 > 1000)
        #expect(libc.maintainer?.contains("GNU Libc Maintainers") == true)

        let tzdata = try #require(byName["tzdata"])
        #expect(tzdata.license == "LicenseRef-public-domain")
        #expect(tzdata.architecture == "all")

        // libgcc-s1's doc dir is a symlink to gcc-12-base's.
        let libgcc = try #require(byName["libgcc-s1"])
        #expect(libgcc.copyrightFile == "/usr/share/doc/gcc-12-base/copyright")
        #expect(libgcc.license == byName["gcc-12-base"]?.license)
        #expect(libgcc.license != "NOASSERTION")

        let out = fixture.dir.path
        let spdx = try SPDXWriter.write(inventory, sha256ByPackage: ["zlib1g": String(repeating: "ab", count: 32)])
        let cdx = try CycloneDXWriter.write(inventory)
        #expect(try SPDXWriter.write(inventory, sha256ByPackage: ["zlib1g": String(repeating: "ab", count: 32)]) == spdx)
        #expect(try CycloneDXWriter.write(inventory) == cdx)
        // Reading the image again gives the same documents, byte for byte.
        let again = try ImageInventory.read(manifest: manifest, from: layout, imageName: "base")
        #expect(again.packages == inventory.packages)
        #expect(try CycloneDXWriter.write(again) == cdx)
        try FileSystem.writeAtomically(out + "/base.spdx.json", bytes: spdx)
        try FileSystem.writeAtomically(out + "/base.cdx.json", bytes: cdx)
        if let keep = ProcessInfo.processInfo.environment["HARDEN_SBOM_KEEP"] {
            try FileSystem.writeAtomically(keep + "/base.spdx.json", bytes: spdx)
            try FileSystem.writeAtomically(keep + "/base.cdx.json", bytes: cdx)
        }

        let spdxReport = try validateSPDX(out + "/base.spdx.json")
        #expect(!spdxReport.lowercased().contains("error"), "\(spdxReport)")
        try validateCycloneDX(out + "/base.cdx.json")

        for file in ["base.spdx.json", "base.cdx.json"] {
            let seen = try trivyRead(out + "/" + file, cache: out + "/trivy-cache")
            #expect(seen.os == "debian", "\(file): \(seen)")
            #expect(seen.version.hasPrefix("12"), "\(file): \(seen)")
            #expect(seen.packages.count == inventory.packages.count, "\(file): \(seen.packages)")
        }
    }

    /// An image with a real dpkg database: only installed entries, files from info/*.list.
    @Test func dpkgStatusDatabase() throws {
        let fixture = try DebianFixture()
        try fixture.writeStatus()
        let (layout, manifest) = try fixture.image(name: "dev")
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: "base-dev")
        #expect(inventory.packages.map(\.name) == DebianFixture.packages.sorted())
        #expect(!inventory.packages.contains { $0.name == "removed-tool" })
        #expect(inventory.warnings.isEmpty, "\(inventory.warnings)")
        let libc = try #require(inventory.packages.first { $0.name == "libc6" })
        #expect(libc.files.contains("/usr"))
        #expect(!libc.files.contains("/."))
        #expect(libc.files.contains { $0.hasSuffix("libc.so.6") })
        let cdx = try CycloneDXWriter.write(inventory)
        try FileSystem.writeAtomically(fixture.dir.path + "/dev.cdx.json", bytes: cdx)
        try validateCycloneDX(fixture.dir.path + "/dev.cdx.json")
    }

    /// A second layer whites out a status.d entry and empties a doc dir (opaque).
    @Test func whiteoutsAcrossLayers() throws {
        let fixture = try DebianFixture()
        try fixture.writeStatusD()
        let layout = try ImageLayout.create(at: fixture.dir.path + "/layout-two")
        let archiver = DirectoryArchiver(owner: (0, 0), clampModificationTime: 0)
        let base = try layout.writeLayer { tar in try archiver.append(fixture.rootfs, to: tar) }
        let top = try layout.writeLayer { tar in
            try tar.append(.file("var/lib/dpkg/status.d/.wh.zlib1g", size: 0), bytes: [])
            try tar.append(.file("var/lib/dpkg/status.d/.wh.zlib1g.md5sums", size: 0), bytes: [])
            try tar.append(.directory("usr/share/doc/tzdata"))
            try tar.append(.file("usr/share/doc/tzdata/.wh..wh..opq", size: 0), bytes: [])
            let note = Array("kept by the top layer\n".utf8)
            try tar.append(.file("usr/share/doc/tzdata/README", size: Int64(note.count)), bytes: note)
        }
        let config = ImageConfiguration(architecture: fixture.architecture, created: "2024-05-06T07:08:09.5+02:00",
                                        rootfs: .init(diffIDs: []))
        let manifest = try layout.writeImage(config: config, layers: [base, top])
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: "layered")
        #expect(!inventory.packages.contains { $0.name == "zlib1g" })
        #expect(inventory.packages.count == DebianFixture.packages.count - 1)
        let tzdata = try #require(inventory.packages.first { $0.name == "tzdata" })
        #expect(tzdata.license == "NOASSERTION")
        #expect(tzdata.copyrightFile == nil)
        // The SPDX time is the config's, in UTC seconds.
        let spdx = String(decoding: try SPDXWriter.write(inventory), as: UTF8.self)
        #expect(spdx.contains("\"created\" : \"2024-05-06T05:08:09Z\""))
    }
}

@Suite("pkg:oci purls")
struct OCIPackageURLTests {
    @Test("the digest is encoded; repository_url keeps the registry's host, port and path")
    func repositoryURL() throws {
        let digest = try Digest("sha256:" + String(repeating: "ab", count: 32))
        #expect(PackageURL.oci(imageName: "team/Python", digest: digest) == "pkg:oci/python@sha256%3A" + String(repeating: "ab", count: 32))
        #expect(PackageURL.oci(imageName: "python", digest: digest, repositoryURL: "registry.example:5000/team/python")
                == "pkg:oci/python@sha256%3A" + String(repeating: "ab", count: 32) + "?repository_url=registry.example:5000/team/python")
        #expect(PackageURL.oci(imageName: "a", digest: digest, repositoryURL: "r.example/a b").hasSuffix("?repository_url=r.example/a%20b"))
    }
}
