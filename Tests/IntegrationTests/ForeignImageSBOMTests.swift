import Archive
import Debian
import Foundation
import ImageBuild
import OCI
import SBOM
import Testing
import TestSupport

/// An image Harden did not build: a real Debian minbase made by mmdebstrap (dpkg ran its
/// maintainer scripts), packed as an OCI image.
@Suite(.serialized) struct ForeignImageSBOMTests {
    @Test func minbaseInventoryEqualsDpkgQuery() async throws {
        let mmdebstrap = try requireTool("mmdebstrap")
        let dir = try TemporaryDirectory()
        let rootfs = dir.path + "/rootfs"
        try FileSystem.createDirectory(rootfs)
        try runChecked(mmdebstrap, ["--quiet", "--variant=minbase", "bookworm", rootfs,
                                    "deb http://deb.debian.org/debian bookworm main",
                                    "deb http://deb.debian.org/debian-security bookworm-security main"])
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let manifest = try DirectoryImage(root: rootfs, architecture: "amd64", epoch: 0).write(into: layout)
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: "minbase")

        let query = try runChecked("dpkg-query", ["--admindir=\(rootfs)/var/lib/dpkg", "-W", "-f", "${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n"])
        let installed = Set(query.split(separator: "\n").filter { $0.hasSuffix("ii ") || $0.hasSuffix("ii") }.map { line in
            line.split(separator: " ").prefix(3).joined(separator: " ")
        })
        let ours = Set(inventory.packages.map { "\($0.name) \($0.version) \($0.architecture)" })
        #expect(installed.count > 80, "minbase should hold about 90 packages, dpkg-query says \(installed.count)")
        #expect(ours == installed, "differences: \(ours.symmetricDifference(installed).sorted())")
        #expect(inventory.osName == "debian" && inventory.osVersion.hasPrefix("12"))
        // Files come from info/*.list.
        #expect(inventory.packages.first { $0.name == "dpkg" }?.files.contains("/usr/bin/dpkg") == true)
        let spdx = try dir.write("minbase.spdx.json", try SPDXWriter.write(inventory))
        let check = try run("pyspdxtools", ["-i", spdx])
        #expect(check.status == 0, "\(check.output) \(check.stderr)")

        // harden baseline's package set, without a runtime on top, is mmdebstrap's minbase but
        // for merged /usr: mmdebstrap converts with usrmerge (and perl), the baseline is born
        // merged and takes usr-is-merged, as debootstrap does (a smaller, so fairer, yardstick).
        let spec = try dir.write("minbase.yaml", Array("name: minbase\ndebian: bookworm\narchs: [amd64]\npackages: [base-files]\n".utf8))
        let parsed = try ImageSpec(contentsOf: spec)
        let lock = try await PackageLocker(client: RepositoryClient(cache: CatalogBuilds.shared.cache))
            .lockBaseline(parsed, specPath: spec, specBytes: try FileSystem.read(spec))
        let baseline = Set((lock.packages["amd64"] ?? []).map(\.name))
        let minbase = Set(inventory.packages.map(\.name))
        let usrmerge: Set = ["usrmerge", "perl", "perl-modules-5.36", "libperl5.36", "libfile-find-rule-perl", "libnumber-compare-perl",
                             "libtext-glob-perl", "libgdbm6", "libgdbm-compat4"]
        #expect(baseline.subtracting(minbase) == ["usr-is-merged"], "only in the baseline: \(baseline.subtracting(minbase).sorted())")
        #expect(minbase.subtracting(baseline).isSubset(of: usrmerge), "only in minbase: \(minbase.subtracting(baseline).sorted())")
        #expect(baseline.count > 80)
    }
}
