import Archive
import Debian
import Foundation
import Testing
import TestSupport

/// `harden update` on the real mirror: a lock holding an older libssl3 (a version the tracker
/// sample records as vulnerable to CVE-2023-5678 and CVE-2024-0727) is reported with the newer
/// version and the CVEs it fixes, rewritten with --write, and up to date afterwards.
@Suite("harden update")
struct UpdateTests {
    @Test func olderPinsAreReportedWithTheCVEsTheirUpgradeFixes() async throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let shared = try await CatalogBuilds.shared.lockedSpec("base")
        let spec = try dir.write("base.yaml", try FileSystem.read(shared))
        var lock = try LockFile.read(LockFile.path(forSpec: shared))
        let current = try #require(lock.packages["amd64"]?.first { $0.name == "libssl3" })
        lock.packages["amd64"] = lock.packages["amd64"]?.map { package in
            guard package.name == "libssl3" else { return package }
            var old = package
            old.version = "3.0.11-1~deb12u2"
            old.sourceVersion = "3.0.11-1~deb12u2"
            return old
        }
        try lock.write(to: LockFile.path(forSpec: spec))
        let root = FileSystem.parentPath(FileSystem.parentPath(FileSystem.parentPath(#filePath)))
        let db = dir.path + "/v.db"
        try runChecked(harden, ["db", "import", root + "/../shared/vulndata/debian-tracker/bookworm-sample.json", "--db", db])
        let environment = SignedCatalog.shared.environment()

        let report = try run(harden, ["update", spec, "--db", db], environment: environment)
        #expect(report.status == 0, "\(report.stderr)")
        let line = "[minimal amd64] libssl3 3.0.11-1~deb12u2 -> \(current.version) (\(current.suite)): fixes CVE-2023-5678, CVE-2024-0727"
        #expect(report.output.contains(line), "\(report.output)")
        #expect(report.output.contains("1 package change") && report.stderr.contains("run again with --write"), "\(report.output)\(report.stderr)")
        #expect(try LockFile.read(LockFile.path(forSpec: spec)).packages["amd64"]?.first { $0.name == "libssl3" }?.version == "3.0.11-1~deb12u2")

        let written = try run(harden, ["update", spec, "--db", db, "--write"], environment: environment)
        #expect(written.status == 0 && written.output.contains("wrote "), "\(written.stderr)")
        let relocked = try LockFile.read(LockFile.path(forSpec: spec))
        #expect(relocked.packages["amd64"]?.first { $0.name == "libssl3" } == current)
        let again = try run(harden, ["update", spec, "--db", db], environment: environment)
        #expect(again.output.contains("up to date"), "\(again.output)")

        let missing = try run(harden, ["update", dir.path + "/nolock.yaml"], environment: environment)
        #expect(missing.status == 1)
    }

    /// --security-only on a signed repository of three suites: `b`'s upgrade comes from
    /// bookworm-security and is taken; `a`'s comes from bookworm-updates and is held back, until
    /// the database knows a CVE that `a` 1.1 fixes.
    @Test func securityOnlyTakesSecurityUpgradesAndHoldsTheRest() throws {
        let repo = try SignedTestRepository(suites: [
            ("bookworm", [.init(name: "a", version: "1.0"), .init(name: "b", version: "2.0")]),
            ("bookworm-updates", [.init(name: "a", version: "1.1")]),
            ("bookworm-security", [.init(name: "b", version: "2.1")]),
        ])
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = dir.path + "/cache"
        func spec(_ packages: String) -> [UInt8] {
            Array("""
            name: t
            debian: bookworm
            packages: [\(packages)]
            repositories:
              - url: \(repo.server?.url ?? "")
                suites: [bookworm, bookworm-updates, bookworm-security]
                components: [main]
                keyring: \(repo.keyring)
            variants: {dev: false}

            """.utf8)
        }
        // The lock of an older day, then the spec as it is.
        let specPath = try dir.write("t.yaml", spec("a=1.0, b=2.0"))
        try runChecked(harden, ["lock", specPath], environment: environment)
        try dir.write("t.yaml", spec("a, b"))

        let report = try run(harden, ["update", specPath, "--security-only", "--db", dir.path + "/none.db"], environment: environment)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.output.contains("1 package change") && report.output.contains("[minimal amd64] b 2.0 -> 2.1 (bookworm-security)"), "\(report.output)")
        #expect(report.output.contains("held back: [minimal amd64] a 1.0 (1.1 in bookworm-updates fixes no known CVE)"), "\(report.output)")
        try runChecked(harden, ["update", specPath, "--security-only", "--write", "--db", dir.path + "/none.db"], environment: environment)
        let lock = try LockFile.read(LockFile.path(forSpec: specPath))
        #expect(lock.packages["amd64"]?.map { "\($0.name) \($0.version) \($0.suite)" } == ["a 1.0 bookworm", "b 2.1 bookworm-security"])

        // Once the database knows a CVE fixed in a 1.1, that upgrade is a security one too.
        let feed = try dir.write("feed.json", Array(#"{"a":{"CVE-2099-0200":{"releases":{"bookworm":{"status":"resolved","fixed_version":"1.1","urgency":"medium"}}}}}"#.utf8))
        try runChecked(harden, ["db", "import", feed, "--db", dir.path + "/v.db"])
        let withCVE = try run(harden, ["update", specPath, "--security-only", "--db", dir.path + "/v.db"], environment: environment)
        #expect(withCVE.output.contains("[minimal amd64] a 1.0 -> 1.1 (bookworm-updates): fixes CVE-2099-0200") && !withCVE.output.contains("held back"),
                "\(withCVE.output)")
    }
}
