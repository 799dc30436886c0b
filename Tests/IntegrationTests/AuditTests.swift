import Archive
import Debian
import Foundation
import ImageBuild
import OCI
import Policy
import SBOM
import Testing
import TestSupport

/// The conventional baseline of catalog/python, built once per test run from the real mirror.
actor Baselines {
    static let shared = Baselines()
    private var built: (ImageLayout, BuiltImage)?

    func python() async throws -> (ImageLayout, BuiltImage) {
        if let built { return built }
        let spec = try await CatalogBuilds.shared.lockedSpec("python")
        let layout = try ImageLayout.create(at: CatalogBuilds.shared.work + "/baseline-layout")
        let image = try await ImageBuilder(client: RepositoryClient(cache: CatalogBuilds.shared.cache)).buildBaseline(specPath: spec, into: layout)
        try layout.tag(image.index, as: "latest-baseline")
        built = (layout, image)
        return (layout, image)
    }
}

func amd64(_ image: BuiltImage) throws -> Descriptor {
    try #require(image.platforms.first { $0.architecture == "amd64" }).manifest
}

@Suite(.serialized) struct AuditTests {
    func status(_ report: AuditReport, _ check: String) -> AuditCheck.Status? { report.checks.first { $0.check == check }?.status }

    /// Every minimal catalog image passes every hardening check on every platform; the dev
    /// variants fail the ones they should (root, shell, package manager).
    @Test func minimalCatalogImagesPassEveryHardeningCheck() async throws {
        for name in CatalogBuilds.names {
            let (layout, images) = try await CatalogBuilds.shared.built(name)
            for image in images {
                for platform in image.platforms {
                    let report = try Auditor().audit(platform.manifest, in: layout, reference: image.tag)
                    #expect(report.platform.hasPrefix("linux/\(platform.architecture)"))
                    if image.variant == .minimal {
                        let failed = report.checks.filter { AuditCheck.hardening.contains($0.check) && $0.status != .pass }
                        #expect(failed.isEmpty, "\(image.tag) \(platform.architecture): \(failed.map { "\($0.check): \($0.detail) \($0.items.prefix(3))" })")
                        #expect(report.hardened)
                        #expect(report.figures.setIDFiles == 0 && report.figures.packages == platform.packages)
                    } else {
                        for check in ["user", "shell", "package-manager"] {
                            #expect(status(report, check) == .fail, "\(image.tag) \(platform.architecture): \(check)")
                        }
                    }
                }
            }
        }
    }

    /// The baseline (debian:bookworm-slim's set plus python3.11, unhardened) fails what it
    /// should, and python is at least 75% fewer packages and 80% fewer executables than it.
    @Test func baselineFailsAndPythonIsSmaller() async throws {
        let (baselineLayout, baseline) = try await Baselines.shared.python()
        #expect(baseline.tag == "python:latest-baseline")
        let report = try Auditor().audit(try amd64(baseline), in: baselineLayout, reference: baseline.tag)
        for check in ["user", "shell", "package-manager", "setuid"] {
            #expect(status(report, check) == .fail, "baseline \(check): \(report.checks.first { $0.check == check }?.detail ?? "missing")")
        }
        #expect(report.grade == "F")
        let setuid = try #require(report.checks.first { $0.check == "setuid" })
        #expect(setuid.items.contains { $0.hasPrefix("/usr/bin/passwd ") } && setuid.items.contains { $0.hasPrefix("/usr/bin/su ") })
        // The required set and apt are all there, with python on top.
        let names = Set(try #require(try Auditor.contents(of: try amd64(baseline), in: baselineLayout, reference: "b").inventory).packages.map(\.name))
        #expect(names.isSuperset(of: ["apt", "bash", "dash", "coreutils", "dpkg", "login", "passwd", "util-linux", "python3.11", "usr-is-merged"]))
        #expect(!names.contains("usrmerge") && !names.contains("perl"))

        let (layout, images) = try await CatalogBuilds.shared.built("python")
        let python = try #require(images.first { $0.variant == .minimal })
        let diff = ImageDiff(from: ("python:latest-baseline", try Auditor.contents(of: try amd64(baseline), in: baselineLayout, reference: "b"), nil),
                             to: ("python:latest", try Auditor.contents(of: try amd64(python), in: layout, reference: "p"), nil))
        #expect((diff.reduction["packages"] ?? 0) >= 75, "\(diff.text())")
        #expect((diff.reduction["executables"] ?? 0) >= 80, "\(diff.text())")
        #expect(diff.reduction["setuid"] == 100)
        #expect(diff.added.isEmpty, "python holds nothing the baseline lacks: \(diff.added)")
        #expect(diff.removed.contains { $0.name == "bash" } && diff.setIDRemoved.contains("/usr/bin/passwd"))
        print("python vs its baseline: " + diff.text().split(separator: "\n").prefix(11).joined(separator: "\n"))
    }

    /// The same baseline lock gives the same baseline digest, and a spec edit re-resolves it.
    @Test func baselineIsReproducible() async throws {
        let (_, first) = try await Baselines.shared.python()
        let spec = try await CatalogBuilds.shared.lockedSpec("python")
        #expect(FileSystem.exists(Baseline.lockPath(forSpec: spec)))
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/again")
        let again = try await ImageBuilder(client: RepositoryClient(cache: CatalogBuilds.shared.cache)).buildBaseline(specPath: spec, into: layout)
        #expect(again.index.digest == first.index.digest)
    }

    /// The CLI on a real baseline: the table, JSON, --fail-on, and diff's JSON.
    @Test func auditAndDiffCommands() async throws {
        let harden = try hardenBinary()
        let (baselineLayout, _) = try await Baselines.shared.python()
        let baseline = "oci:\(baselineLayout.path):latest-baseline"
        let table = try run(harden, ["audit", baseline, "--platform", "linux/amd64", "--db", "/nonexistent/db"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.output.contains("FAIL  user") && table.output.contains("FAIL  setuid") && table.output.contains("grade F"), "\(table.output)")
        #expect(table.output.contains("WARN  vulnerabilities  not scanned: no vulnerability database"))
        let failing = try run(harden, ["audit", baseline, "--platform", "linux/amd64", "--fail-on", "fail", "--format", "json"])
        #expect(failing.status == 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(failing.stdout)) as? [String: Any])
        #expect(json["grade"] as? String == "F")
        #expect((json["checks"] as? [[String: Any]])?.first { $0["check"] as? String == "shell" }?["status"] as? String == "fail")

        let (layout, _) = try await CatalogBuilds.shared.built("python")
        try layout.tag(try #require(try await CatalogBuilds.shared.built("python").1.first { $0.variant == .minimal }).index, as: "audit-python")
        let diff = try run(harden, ["diff", baseline, "oci:\(layout.path):audit-python", "--platform", "linux/amd64", "--format", "json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(diff.stdout)) as? [String: Any])
        let reduction = try #require(parsed["reduction"] as? [String: Double])
        #expect((reduction["packages"] ?? 0) >= 75 && (reduction["executables"] ?? 0) >= 80)
        #expect((parsed["removed"] as? [Any])?.isEmpty == false)
    }

    /// An image Harden did not build, with no package database, a private key, a credentials
    /// file, a setuid program and a world-writable directory; then with a damaged layer.
    @Test func foreignImageFindingsAndDamagedLayer() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let root = dir.path + "/root"
        try dir.write("root/etc/ssl/private/server.key", Array("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n".utf8))
        try dir.write("root/home/app/.netrc", Array("machine example.com login app password hunter2\n".utf8))
        try dir.write("root/usr/bin/tool", Array("#!/bin/true\n".utf8))
        try dir.write("root/usr/bin/sh", Array("#!/bin/true\n".utf8))
        try dir.write("root/srv/shared/readme", Array("x".utf8))
        #expect(chmod(root + "/usr/bin/tool", 0o4755) == 0)
        #expect(chmod(root + "/usr/bin/sh", 0o755) == 0)
        #expect(chmod(root + "/srv/shared", 0o777) == 0)
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let manifest = try DirectoryImage(root: root, architecture: "amd64").write(into: layout)
        try layout.tag(manifest, as: "foreign")
        let audited = try run(harden, ["audit", "oci:\(layout.path):foreign", "--format", "json"])
        #expect(audited.status == 0, "\(audited.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(audited.stdout)) as? [String: Any])
        let checks = Dictionary(uniqueKeysWithValues: (json["checks"] as? [[String: Any]] ?? []).map { ($0["check"] as? String ?? "", $0) })
        #expect(checks["secrets"]?["status"] as? String == "fail")
        let secrets = checks["secrets"]?["items"] as? [String] ?? []
        #expect(secrets.count == 2 && secrets.contains { $0.hasPrefix("/etc/ssl/private/server.key: PEM private key") }
                && secrets.contains { $0.hasPrefix("/home/app/.netrc: credentials file") }, "\(secrets)")
        #expect(checks["setuid"]?["items"] as? [String] == ["/usr/bin/tool (4755, owner 0)"])
        #expect(checks["shell"]?["items"] as? [String] == ["/usr/bin/sh"])
        #expect((checks["world-writable"]?["items"] as? [String])?.first?.hasPrefix("/srv/shared (directory, 777)") == true)
        #expect(checks["packages"]?["status"] as? String == "warn")
        #expect((checks["packages"]?["detail"] as? String)?.contains("no package database") == true)
        #expect(checks["signature"]?["status"] as? String == "fail")

        // A layer whose bytes changed: a clear error naming it, exit status 1.
        let image = try layout.readDocument(ImageManifest.self, manifest, kind: "manifest")
        let blob = layout.path + "/blobs/sha256/" + image.layers[0].digest.hex
        var bytes = try FileSystem.read(blob)
        bytes[bytes.count / 2] ^= 0xFF
        try FileSystem.writeAtomically(blob, bytes: bytes)
        let damaged = try run(harden, ["audit", "oci:\(layout.path):foreign"])
        #expect(damaged.status == 1)
        #expect(damaged.stderr.contains(image.layers[0].digest.description) || damaged.stderr.contains(image.layers[0].digest.short), "\(damaged.stderr)")
    }
}
