import Archive
import Attestation
import Foundation
import OCI
import Testing
import TestSupport
import VEX

/// A signed build of a spec with a `vex:` section, with a vulnerability database: the image's
/// signed OpenVEX attestation holds the spec's statement and the tracker-derived ones, `verify`
/// finds it, `scan --key` applies it, and `--fail-on` publishes nothing above the threshold.
@Suite("build-time VEX")
struct BuildVEXTests {
    static let root = FileSystem.parentPath(FileSystem.parentPath(FileSystem.parentPath(#filePath)))

    @Test func signedBuildPublishesItsVEXAndScanAppliesIt() async throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let environment = SignedCatalog.shared.environment()
        // The base image, amd64 only, with the maintainers' statement about openssl's CVE-2024-5535.
        var spec = String(decoding: try FileSystem.read(Self.root + "/catalog/base.yaml"), as: UTF8.self)
            .replacingOccurrences(of: "archs: [amd64, arm64]", with: "archs: [amd64]")
        spec += """
        vex:
          - vulnerability: CVE-2024-5535
            packages: [libssl3]
            status: not_affected
            justification: vulnerable_code_not_in_execute_path
            impact: "No program in this image calls SSL_select_next_proto."

        """
        let specPath = try dir.write("base.yaml", Array(spec.utf8))
        // The real bookworm sample, and one (made-up, clearly so) glibc CVE the tracker marks as never affecting bookworm.
        let extra = try dir.write("extra.json", Array(#"{"glibc":{"CVE-2099-0100":{"releases":{"bookworm":{"status":"resolved","fixed_version":"0","urgency":"unimportant"}}}}}"#.utf8))
        let db = dir.path + "/v.db"
        try runChecked(harden, ["db", "import", Self.root + "/../shared/vulndata/debian-tracker/bookworm-sample.json", extra, "--db", db])
        try runChecked(harden, ["keygen", "--output-prefix", dir.path + "/signer"], environment: environment)

        let build = try run(harden, ["build", specPath, "--key", dir.path + "/signer.key", "--variant", "minimal", "--db", db,
                                     "--output", "oci:\(dir.path)/out"], environment: environment)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("base:latest amd64:") && build.stderr.contains("(1 suppressed by VEX)"), "\(build.stderr)")

        // The attestation: signed, about the manifest, valid OpenVEX, with both kinds of statement.
        let layout = try ImageLayout(opening: dir.path + "/out")
        let manifest = try #require(try layout.readDocument(ImageIndex.self, try layout.resolve(tag: "latest"), kind: "index").manifests.first)
        let key = try KeyFile.loadVerificationKey(dir.path + "/signer.pub")
        let statements = try layout.verifiedStatements(of: manifest.digest, key: key, predicateType: PredicateType.openVEX)
        let document = try VEXDocument.decode(try #require(statements.first).predicate, file: "attestation")
        let byCVE = Dictionary(grouping: document.statements, by: \.vulnerability.name)
        #expect(byCVE["CVE-2024-5535"]?.first?.justification == .vulnerableCodeNotInExecutePath)
        #expect(byCVE["CVE-2024-5535"]?.first?.products.first?.subcomponents?.first?.purls.first?.name == "libssl3")
        #expect(byCVE["CVE-2099-0100"]?.first?.justification == .vulnerableCodeNotPresent)
        #expect(byCVE["CVE-2099-0100"]?.first?.products.first?.id == "pkg:oci/base@\(manifest.digest)")
        let vexFile = try dir.write("attached.vex.json", try document.encoded())
        try runChecked("python3", [validator, Self.root + "/../shared/reference/schemas/openvex/openvex_json_schema.json", vexFile])
        let verify = try run(harden, ["verify", "oci:\(dir.path)/out:latest", "--key", dir.path + "/signer.pub", "--require", "provenance,vex"],
                             environment: environment)
        #expect(verify.status == 0, "\(verify.output)")

        // scan applies the signed statements with --key, and only then.
        let withKey = try run(harden, ["scan", "oci:\(dir.path)/out:latest", "--db", db, "--key", dir.path + "/signer.pub", "--show-suppressed"])
        #expect(withKey.status == 0 && withKey.stderr.contains("applying 1 signed VEX attestation"), "\(withKey.stderr)")
        #expect(withKey.output.contains("Suppressed by VEX:") && withKey.output.contains("vulnerable_code_not_in_execute_path"))
        let withoutKey = try run(harden, ["scan", "oci:\(dir.path)/out:latest", "--db", db])
        #expect(withoutKey.output.contains("CVE-2024-5535") && withoutKey.stderr.contains("pass --key"), "\(withoutKey.stderr)")
        let otherKey = try TemporaryDirectory()
        try runChecked(harden, ["keygen", "--output-prefix", otherKey.path + "/other"], environment: environment)
        let wrongKey = try run(harden, ["scan", "oci:\(dir.path)/out:latest", "--db", db, "--key", otherKey.path + "/other.pub"])
        #expect(wrongKey.output.contains("CVE-2024-5535") && wrongKey.stderr.contains("applying 0 signed VEX attestation"), "\(wrongKey.stderr)")

        // --fail-on: the build completes but publishes nothing.
        let refused = try run(harden, ["build", specPath, "--key", dir.path + "/signer.key", "--variant", "minimal", "--db", db,
                                       "--fail-on", "negligible", "--output", "oci:\(dir.path)/refused"], environment: environment)
        #expect(refused.status == 1 && refused.stderr.contains("not published: findings at or above negligible"), "\(refused.stderr)")
        #expect(!FileSystem.exists(dir.path + "/refused"))
    }
}
