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
}
