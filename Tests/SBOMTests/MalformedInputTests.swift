import Archive
import Foundation
import OCI
import SBOM
import Testing
import TestSupport

/// Writes `files` (relative path → text) as a one-layer image.
func smallImage(_ dir: TemporaryDirectory, _ files: [String: String]) throws -> (ImageLayout, Descriptor) {
    for (path, text) in files { try dir.write("root/" + path, Array(text.utf8)) }
    try FileSystem.createDirectory(dir.path + "/root")
    let layout = try ImageLayout.create(at: dir.path + "/layout")
    return (layout, try DirectoryImage(root: dir.path + "/root", architecture: "amd64").write(into: layout))
}

@Suite struct MalformedInputTests {
    static let osRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"

    @Test func noPackageDatabaseIsTypedError() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try smallImage(dir, ["etc/os-release": Self.osRelease, "bin/app": "x"])
        #expect(throws: SBOMError.noPackageDatabase("scratchy")) {
            try ImageInventory.read(manifest: manifest, from: layout, imageName: "scratchy")
        }
        #expect(SBOMError.noPackageDatabase("scratchy").description.contains("scratchy"))
    }

    @Test func brokenStanzasWarnAndNamesTheFile() throws {
        let dir = try TemporaryDirectory()
        let (layout, manifest) = try smallImage(dir, [
            "etc/os-release": Self.osRelease,
            "etc/debian_version": "12.7\n",
            "var/lib/dpkg/status.d/good": "Package: good\nVersion: 1.0-1\nArchitecture: amd64\nDepends: libfoo (>= 1) | other, good-data\n",
            "var/lib/dpkg/status.d/good-data": "Package: good-data\nVersion: 1.0-1\nArchitecture: all\nSource: good (1.0-1)\n",
            "var/lib/dpkg/status.d/noversion": "Package: noversion\nArchitecture: amd64\n",
            "var/lib/dpkg/status.d/garbage": "Package: garbage\nVersion: 2\n this continues\nno colon here\n",
            "var/lib/dpkg/status.d/twice": "Package: a\nVersion: 1\nArchitecture: all\n\nVersion: 2\nArchitecture: all\n",
            "usr/share/doc/good/copyright": """
                Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

                Files: *
                License: GPL-2+ or Artistic

                Files: lib/*
                License: Expat

                Files: weird/*
                License: Foo Bar
                 Some text of the Foo Bar licence.

                """,
            "usr/share/doc/good-data/copyright": "Copyright 2020 Someone. All rights reserved, probably.\n",
        ])
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: "odd")
        #expect(inventory.packages.map(\.name) == ["a", "good", "good-data"])
        #expect(inventory.osVersion == "12.7")
        let warnings = inventory.warnings.joined(separator: "\n")
        #expect(warnings.contains("var/lib/dpkg/status.d/noversion: paragraph at line 1 has no Version"))
        #expect(warnings.contains("var/lib/dpkg/status.d/garbage: paragraph at line 1"))
        #expect(warnings.contains("var/lib/dpkg/status.d/twice: paragraph at line 5 has no Package"))
        let good = try #require(inventory.packages.first { $0.name == "good" })
        #expect(good.license == "(GPL-2.0-or-later OR Artistic-1.0-Perl) AND LicenseRef-Foo-Bar AND MIT")
        #expect(good.licenseTexts["LicenseRef-Foo-Bar"] == "Some text of the Foo Bar licence.")
        #expect(good.depends == ["good-data", "libfoo"])
        let data = try #require(inventory.packages.first { $0.name == "good-data" })
        #expect(data.license == "NOASSERTION")
        #expect(data.purl == "pkg:deb/debian/good-data@1.0-1?arch=all&distro=debian-12&upstream=good")

        let spdx = String(decoding: try SPDXWriter.write(inventory), as: UTF8.self)
        #expect(spdx.contains("\"licenseId\" : \"LicenseRef-Foo-Bar\""))
        #expect(spdx.contains("\"relationshipType\" : \"DEPENDS_ON\""))
        let path = dir.path + "/odd.spdx.json"
        try FileSystem.writeAtomically(path, bytes: Array(spdx.utf8))
        _ = try validateSPDX(path)
    }
}
