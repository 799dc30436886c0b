import Archive
import Foundation
import OCI
import SBOM
import Testing
import TestSupport
import Vulnerability

/// `harden db`, `harden scan` and `harden vex` end to end on a catalog image, with the real
/// bookworm tracker sample as the database.
@Suite("harden scan / db / vex")
struct ScanCLITests {
    static let root = FileSystem.parentPath(FileSystem.parentPath(FileSystem.parentPath(#filePath)))
    static let feed = root + "/../shared/vulndata/debian-tracker/bookworm-sample.json"
    static let vexSchema = root + "/../shared/reference/schemas/openvex/openvex_json_schema.json"

    struct Report: Decodable {
        struct Item: Decodable {
            var cve: String
            var package: String
            var version: String
            var purl: String
            var severity: String
            var fixedVersion: String?
            var vex: [String: String]?
        }
        var image: [String: String]
        var findings: [Item]
        var suppressed: [Item]
    }

    @Test func scanGatesAndVEXSuppresses() async throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let db = dir.path + "/v.db"
        let imported = try run(harden, ["db", "import", Self.feed, "--db", db])
        #expect(imported.status == 0 && imported.stderr.contains("debian-tracker: 84 advisories"), "\(imported.stderr)")
        let status = try runChecked(harden, ["db", "status", "--db", db])
        #expect(status.contains("debian-tracker: 84 advisories, 84 CVEs, 31 source packages"), "\(status)")

        let (layout, images) = try await CatalogBuilds.shared.built("python")
        try LocalImages.store(images[0].index, from: layout, to: .layout(path: dir.path + "/python", tag: "latest"), platform: Platform(architecture: "amd64"))
        let image = "oci:\(dir.path)/python:latest"

        // The table, and the library's own findings for the same layers.
        let table = try run(harden, ["scan", image, "--db", db])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.output.contains("CVE-2024-5535") && table.output.contains("libssl3") && table.output.contains("FIXED IN"))
        let json = try run(harden, ["scan", image, "--db", db, "--format", "json", "--output", dir.path + "/report.json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(try FileSystem.read(dir.path + "/report.json")))
        let manifest = try ImageGraph.manifest(for: Platform(architecture: "amd64"), under: images[0].index, in: layout)
        let inventory = try ImageInventory.read(manifest: manifest, from: layout, imageName: "python")
        let library = Scanner(entries: try DebianTracker.entries(from: try FileSystem.read(Self.feed), file: Self.feed)).scan(inventory.packages).findings
        #expect(report.findings.map { "\($0.package) \($0.cve)" } == library.map { "\($0.package) \($0.cve)" })
        #expect(report.image["digest"] == manifest.digest.description)

        // Gates: exit 2 at or above the threshold, 0 below it; --ignore-unfixed keeps fixable ones only.
        #expect(try run(harden, ["scan", image, "--db", db, "--fail-on", "negligible"]).status == 2)
        #expect(try run(harden, ["scan", image, "--db", db, "--fail-on", "critical"]).status == 0)
        let unfixed = try run(harden, ["scan", image, "--db", db, "--ignore-unfixed", "--format", "json"])
        let fixable = try JSONDecoder().decode(Report.self, from: Data(unfixed.output.utf8))
        #expect(fixable.findings.allSatisfy { $0.fixedVersion != nil } && fixable.findings.count < report.findings.count)

        // VEX: a not_affected statement for this image's libssl3 takes CVE-2024-5535 out; one for another image does not.
        let ssl = try #require(report.findings.first { $0.cve == "CVE-2024-5535" && $0.package == "libssl3" })
        let product = "pkg:oci/\(report.image["name"] ?? "")@\(manifest.digest)"
        let subcomponent = "pkg:deb/debian/libssl3@\(ssl.version)?arch=amd64"
        try runChecked(harden, ["vex", "create", "--product", product, "--subcomponent", subcomponent, "--vulnerability", "CVE-2024-5535",
                                "--status", "not_affected", "--justification", "vulnerable_code_not_in_execute_path", "--output", dir.path + "/mine.vex.json"])
        try runChecked(harden, ["vex", "create", "--product", "pkg:oci/other@sha256:" + String(repeating: "0", count: 64), "--vulnerability", "CVE-2024-5535",
                                "--status", "not_affected", "--justification", "component_not_present", "--output", dir.path + "/other.vex.json"])
        try runChecked(harden, ["vex", "merge", dir.path + "/mine.vex.json", dir.path + "/other.vex.json", "--output", dir.path + "/all.vex.json"])
        for name in ["mine", "other", "all"] {
            try runChecked("python3", [validator, Self.vexSchema, dir.path + "/\(name).vex.json"])
        }
        let other = try run(harden, ["scan", image, "--db", db, "--vex", dir.path + "/other.vex.json", "--format", "json"])
        #expect(try JSONDecoder().decode(Report.self, from: Data(other.output.utf8)).findings.count == report.findings.count)
        let suppressed = try run(harden, ["scan", image, "--db", db, "--vex", dir.path + "/all.vex.json", "--show-suppressed"])
        #expect(suppressed.status == 0, "\(suppressed.stderr)")
        #expect(suppressed.output.contains("Suppressed by VEX:") && suppressed.output.contains("vulnerable_code_not_in_execute_path"))
        #expect(suppressed.output.contains("(1 suppressed by VEX)"))
        // The same, applied afterwards to the saved report.
        let applied = try run(harden, ["vex", "apply", dir.path + "/report.json", dir.path + "/all.vex.json", "--format", "json"])
        let after = try JSONDecoder().decode(Report.self, from: Data(applied.output.utf8))
        #expect(after.findings.count == report.findings.count - 1 && !after.findings.contains { $0.cve == "CVE-2024-5535" && $0.package == "libssl3" })
        #expect(after.suppressed.map(\.cve) == ["CVE-2024-5535"] && after.suppressed[0].vex?["justification"] == "vulnerable_code_not_in_execute_path")

        // SARIF 2.1.0, read by Microsoft's sarif-tools.
        try runChecked(harden, ["scan", image, "--db", db, "--format", "sarif", "--output", dir.path + "/report.sarif"])
        let sarif = try JSONSerialization.jsonObject(with: Data(try FileSystem.read(dir.path + "/report.sarif"))) as? [String: Any]
        #expect(sarif?["version"] as? String == "2.1.0")
        let results = ((sarif?["runs"] as? [[String: Any]])?.first?["results"] as? [Any])?.count
        #expect(results == report.findings.count)
        let summary = try runChecked("sarif", ["summary", dir.path + "/report.sarif"])
        #expect(summary.contains("\(report.findings.count)"), "\(summary)")
    }

    @Test func rootFilesystemAndSBOMTargetsMatchTheImage() async throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let db = dir.path + "/v.db"
        try runChecked(harden, ["db", "import", Self.feed, "--db", db])
        let (layout, images) = try await CatalogBuilds.shared.built("python")
        let manifest = try ImageGraph.manifest(for: Platform(architecture: "amd64"), under: images[0].index, in: layout)
        try LocalImages.store(manifest, from: layout, to: .layout(path: dir.path + "/python", tag: "latest"))
        try runChecked("umoci", ["unpack", "--image", dir.path + "/python:latest", dir.path + "/bundle"])
        try runChecked(harden, ["sbom", "oci:\(dir.path)/python:latest", "--format", "cyclonedx-json", "--output", dir.path + "/python.cdx.json"])
        func cves(_ target: String) throws -> [String] {
            let output = try runChecked(harden, ["scan", target, "--db", db, "--format", "json"])
            return try JSONDecoder().decode(Report.self, from: Data(output.utf8)).findings.map { "\($0.package) \($0.version) \($0.cve) \($0.severity)" }
        }
        let fromImage = try cves("oci:\(dir.path)/python:latest")
        #expect(!fromImage.isEmpty)
        #expect(try cves(dir.path + "/bundle/rootfs") == fromImage)
        #expect(try cves(dir.path + "/python.cdx.json") == fromImage)
        // Not Debian, or no OS at all: a clear error.
        let noOS = try dir.write("no-os.cdx.json", Array(#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#.utf8))
        let refused = try run(harden, ["scan", noOS, "--db", db])
        #expect(refused.status == 1 && refused.stderr.contains("names no operating system"), "\(refused.stderr)")
    }
}
