import Archive
import Debian
import Foundation
import ImageBuild
import OCI
import Testing
import TestSupport

/// `harden catalog build` through the CLI on the real mirror, signed: static and base (base
/// locked with an older libssl3 that bookworm's main suite still has, while bookworm-security has
/// a newer one). The report and its page; a second run that writes nothing; then `harden update
/// --write` and a build that rebuilds base alone.
@Suite(.serialized) struct CatalogTests {
    static let oldSSL = "3.0.20-1~deb12u2"

    /// The files of a layout (path → SHA-256), to show that a run wrote nothing.
    func snapshot(_ layout: String) throws -> [String: String] {
        var files: [String: String] = [:]
        for name in try FileSystem.listDirectory(layout + "/blobs/sha256") { files[name] = name }
        files["index.json"] = sha256Hex(try FileSystem.read(layout + "/index.json"))
        return files
    }

    func report(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(try FileSystem.read(path + "/catalog.json"))) as? [String: Any])
    }

    func images(_ report: [String: Any]) -> [String: [String: Any]] {
        Dictionary(uniqueKeysWithValues: (report["images"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0) })
    }

    func minimalDigest(_ image: [String: Any]?) -> String? {
        ((image?["variants"] as? [[String: Any]])?.first { $0["variant"] as? String == "minimal" })?["digest"] as? String
    }

    @Test func catalogBuildReportsReusesAndRebuildsOnlyWhatChanged() async throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let catalog = dir.path + "/catalog"
        try FileSystem.createDirectory(catalog)
        for name in ["static", "base"] {
            let shared = try await CatalogBuilds.shared.lockedSpec(name)
            try FileSystem.writeAtomically(catalog + "/\(name).yaml", bytes: try FileSystem.read(shared))
            try FileSystem.writeAtomically(catalog + "/\(name).lock.json", bytes: try FileSystem.read(LockFile.path(forSpec: shared)))
        }
        // base's lock of an older day: libssl3 held at the main suite's version.
        let baseSpec = catalog + "/base.yaml"
        let parsed = try ImageSpec(contentsOf: baseSpec)
        let version = try DebianVersion(Self.oldSSL)
        let holds: PackageLocker.Holds = ["minimal": ["amd64": ["libssl3": version], "arm64": ["libssl3": version]],
                                          "dev": ["amd64": ["libssl3": version], "arm64": ["libssl3": version]]]
        let old = try await PackageLocker(client: RepositoryClient(cache: CatalogBuilds.shared.cache))
            .lock(parsed, specPath: baseSpec, specBytes: try FileSystem.read(baseSpec), holding: holds)
        #expect(old.packages["amd64"]?.first { $0.name == "libssl3" }?.version == Self.oldSSL)
        try old.write(to: LockFile.path(forSpec: baseSpec))

        let environment = SignedCatalog.shared.environment()
        let keys = dir.path + "/catalog-signer"
        try runChecked(harden, ["keygen", "--output-prefix", keys], environment: environment)
        let root = FileSystem.parentPath(FileSystem.parentPath(FileSystem.parentPath(#filePath)))
        let db = dir.path + "/v.db"
        try runChecked(harden, ["db", "import", root + "/../shared/vulndata/debian-tracker/bookworm-sample.json", "--db", db])
        let store = dir.path + "/store"
        let reportDir = dir.path + "/report"
        // The registry the catalog is published to, behind a proxy that logs every request.
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let build = ["catalog", "build", catalog, "--output", "oci:" + store, "--report", reportDir, "--key", keys + ".key", "--db", db,
                     "--push", proxy.host + "/hardened"]
        func writes() throws -> [String] {
            try proxy.requests().filter { ["PUT", "POST", "PATCH", "DELETE"].contains($0.method) }.map { "\($0.method) \($0.target)" }
        }

        // First run: both built, signed, audited against their baselines.
        let first = try await runOffPool(harden, build, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let firstReport = try report(reportDir)
        let built = images(firstReport)
        #expect(Set(built.keys) == ["static", "base"])
        for (name, image) in built {
            #expect(image["status"] as? String == "built", "\(name)")
            #expect((image["problems"] as? [Any])?.isEmpty == true, "\(name): \(image["problems"] ?? "")")
            let reduction = image["reduction"] as? [String: Double] ?? [:]
            #expect((reduction["packages"] ?? 0) >= 75 && (reduction["executables"] ?? 0) >= 80, "\(name): \(reduction)")
            let baseline = image["baseline"] as? [String: Any]
            let failed = Set(baseline?["failed"] as? [String] ?? [])
            #expect(failed.isSuperset(of: ["user", "shell", "package-manager", "setuid"]), "\(name): \(failed)")
            for variant in image["variants"] as? [[String: Any]] ?? [] {
                for platform in variant["platforms"] as? [[String: Any]] ?? [] {
                    let evidence = platform["evidence"] as? [String: String]
                    #expect(evidence == ["signature": "pass", "sbom": "pass", "provenance": "pass"], "\(name) \(variant["variant"] ?? ""): \(evidence ?? [:])")
                    guard variant["variant"] as? String == "minimal" else { continue }
                    #expect(platform["hardened"] as? Bool == true, "\(name)")
                    for (_, path) in platform["documents"] as? [String: String] ?? [:] {
                        #expect(FileSystem.exists(reportDir + "/" + path), "\(path)")
                    }
                    #expect(Set((platform["documents"] as? [String: String] ?? [:]).keys).isSuperset(of: ["spdx", "cyclonedx", "provenance"]))
                }
            }
        }
        #expect(try writes().contains { $0.hasPrefix("PUT /v2/hardened/static/manifests/latest") })
        #expect(try writes().contains { $0.hasPrefix("PUT /v2/hardened/base/manifests/latest-dev") })
        let markdown = String(decoding: try FileSystem.read(reportDir + "/catalog.md"), as: UTF8.self)
        #expect(markdown.contains("| static | built |") && markdown.contains("| base | built |"))
        try checkPageRenders(reportDir, images: ["static", "base"], work: dir)

        // Second run: nothing changed, nothing written or pushed, every digest kept.
        let before = try snapshot(store)
        try proxy.clearLog()
        let second = try await runOffPool(harden, build, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try snapshot(store) == before, "an unchanged catalog wrote to the store")
        let unchangedWrites = try writes()
        #expect(unchangedWrites.isEmpty, "an unchanged catalog pushed: \(unchangedWrites)")
        let reads = try proxy.requests().filter { $0.target.contains("/manifests/") }
        #expect(reads.count == 4, "one manifest read per tag: \(reads.map(\.target))")
        let again = images(try report(reportDir))
        #expect(again.values.allSatisfy { $0["status"] as? String == "unchanged" })
        #expect(minimalDigest(again["base"]) == minimalDigest(built["base"]) && minimalDigest(again["static"]) == minimalDigest(built["static"]))

        // The security update: relock base, then only base is rebuilt.
        let update = try await runOffPool(harden, ["update", baseSpec, "--write", "--db", db], environment: environment)
        #expect(update.status == 0 && update.output.contains("libssl3 \(Self.oldSSL) -> "), "\(update.output)\(update.stderr)")
        try proxy.clearLog()
        let third = try await runOffPool(harden, build, environment: environment)
        #expect(third.status == 0, "\(third.stderr)")
        let pushed = try writes()
        #expect(pushed.contains { $0.hasPrefix("PUT /v2/hardened/base/manifests/latest") } && !pushed.contains { $0.contains("/hardened/static/") },
                "\(pushed)")
        let rebuilt = images(try report(reportDir))
        #expect(rebuilt["base"]?["status"] as? String == "rebuilt")
        #expect(rebuilt["static"]?["status"] as? String == "unchanged")
        #expect(minimalDigest(rebuilt["static"]) == minimalDigest(built["static"]))
        #expect(minimalDigest(rebuilt["base"]) != minimalDigest(built["base"]))
        let previous = rebuilt["base"]?["previous"] as? [String: Any]
        #expect(previous?["digest"] as? String == minimalDigest(built["base"]))
        let changes = previous?["packagesChanged"] as? [[String: Any]] ?? []
        #expect(changes.contains { $0["name"] as? String == "libssl3" && $0["from"] as? String == Self.oldSSL }, "\(changes)")
        #expect(previous?["cvesFixed"] is [String])
        let storeLayout = try ImageLayout(opening: store)
        #expect(try storeLayout.resolve(tag: "base:latest").digest.description == minimalDigest(rebuilt["base"]))
    }

    /// The page in headless Chromium: a screenshot, and the layout of every card and the chart
    /// measured in the rendered page (a script added to a copy reports their boxes).
    func checkPageRenders(_ reportDir: String, images: [String], work: TemporaryDirectory) throws {
        let chromium = try requireTool("chromium")
        let page = String(decoding: try FileSystem.read(reportDir + "/index.html"), as: UTF8.self)
        #expect(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"), "the page must need nothing from outside")
        let shot = work.path + "/catalog.png"
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1400", "--user-data-dir=\(work.path)/chromium"]
        let screenshot = try run(chromium, flags + ["--screenshot=\(shot)", "file://\(reportDir)/index.html"])
        #expect(screenshot.status == 0, "\(screenshot.stderr)")
        #expect((try? FileSystem.read(shot).count) ?? 0 > 20_000, "the screenshot is missing or blank")
        let probe = """
        <script>
        const boxes = [...document.querySelectorAll('article.card')].map(c => c.id + '=' + Math.round(c.getBoundingClientRect().height));
        const chart = document.querySelector('#chart svg').getBoundingClientRect();
        const bars = document.querySelectorAll('#chart rect.bar-ours').length;
        document.body.setAttribute('data-layout', boxes.join(',') + ';chart=' + Math.round(chart.width) + 'x' + Math.round(chart.height) + ';bars=' + bars);
        </script>
        """
        let probed = work.path + "/probed.html"
        try FileSystem.writeAtomically(probed, bytes: Array(page.replacingOccurrences(of: "</body>", with: probe + "</body>").utf8))
        let dom = try run(chromium, flags + ["--dump-dom", "file://\(probed)"])
        let layout = dom.output.firstRange(of: "data-layout=\"").map { String(dom.output[$0.upperBound...].prefix { $0 != "\"" }) } ?? ""
        for image in images {
            let height = layout.firstRange(of: "image-\(image)=").map { Int(layout[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
            #expect(height > 150, "card of \(image) not laid out: \(layout)")
        }
        #expect(layout.contains("bars=\(images.count * 2)"), "chart bars: \(layout)")
        let chart = layout.firstRange(of: "chart=").map { String(layout[$0.upperBound...].prefix { $0 != ";" }) } ?? ""
        let size = chart.split(separator: "x").compactMap { Int($0) }
        #expect(size.count == 2 && size[0] > 600 && size[1] > 60, "chart not laid out: \(layout)")
    }
}

/// The catalog split into CI jobs: `catalog plan` (validated against its JSON Schema), the jobs
/// run by two separate processes with separate caches and stores, each pushing to the loopback
/// registry, then `catalog publish`: the digests of one local `catalog build`. Then nothing is
/// left to rebuild, and a second publish writes nothing.
@Suite(.serialized) struct CatalogFanOutTests {
    @Test func plannedJobsInTwoProcessesThenPublishGiveTheLocalDigests() async throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let catalog = dir.path + "/catalog"
        try FileSystem.createDirectory(catalog)
        let shared = try await CatalogBuilds.shared.lockedSpec("static")
        try FileSystem.writeAtomically(catalog + "/static.yaml", bytes: try FileSystem.read(shared))
        try FileSystem.writeAtomically(catalog + "/static.lock.json", bytes: try FileSystem.read(LockFile.path(forSpec: shared)))
        let environment = SignedCatalog.shared.environment()
        let key = dir.path + "/fanout"
        try runChecked(harden, ["keygen", "--output-prefix", key], environment: environment)
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let prefix = proxy.host + "/hardened"

        // The plan: four jobs (minimal and dev, amd64 and arm64), all to run; valid per its schema.
        let planned = try await runOffPool(harden, ["catalog", "plan", catalog, "--push", prefix, "--key-argument", key + ".key", "--output", dir.path + "/plan.json"],
                              environment: environment)
        #expect(planned.status == 0, "\(planned.stderr)")
        let root = FileSystem.parentPath(FileSystem.parentPath(FileSystem.parentPath(#filePath)))
        let validate = "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))"
        let valid = try run("python3", ["-c", validate, root + "/docs/catalog-plan.schema.json", dir.path + "/plan.json"])
        #expect(valid.status == 0, "\(valid.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(try FileSystem.read(dir.path + "/plan.json"))) as? [String: Any])
        let jobs = plan["jobs"] as? [[String: Any]] ?? []
        #expect(Set(jobs.compactMap { $0["id"] as? String }) == ["static-minimal-amd64", "static-minimal-arm64", "static-dev-amd64", "static-dev-arm64"])
        #expect(jobs.allSatisfy { $0["rebuild"] as? Bool == true })
        let matrix = try await runOffPool(harden, ["catalog", "plan", catalog, "--push", prefix, "--format", "github-actions"], environment: environment)
        let include = (try JSONSerialization.jsonObject(with: Data(matrix.stdout)) as? [String: Any])?["include"] as? [[String: Any]]
        #expect(include?.count == 4 && include?.allSatisfy { ($0["command"] as? String)?.hasPrefix("harden build ") == true } == true)

        // Two processes, one per architecture, each with its own cache, store and temporary files.
        var workers: [Process] = []
        for architecture in ["amd64", "arm64"] {
            let own = dir.path + "/worker-" + architecture
            try FileSystem.createDirectory(own + "/tmp")
            let commands = jobs.filter { $0["architecture"] as? String == architecture }.compactMap { $0["command"] as? [String] }
                .map { ([harden] + $0.dropFirst()).map(CatalogFanOutTests.quoted).joined(separator: " ") }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "set -e; " + commands.joined(separator: "; ") + " > \(own)/out.txt 2> \(own)/err.txt"]
            process.environment = environment.merging(["XDG_CACHE_HOME": own + "/cache", "HARDEN_STORE": own + "/store", "TMPDIR": own + "/tmp"]) { $1 }
            try process.run()
            workers.append(process)
        }
        for (worker, architecture) in zip(workers, ["amd64", "arm64"]) {
            nonisolated(unsafe) let waited = worker
            await withCheckedContinuation { done in Thread { waited.waitUntilExit(); done.resume() }.start() }
            let err = String(decoding: (try? FileSystem.read(dir.path + "/worker-\(architecture)/err.txt")) ?? [], as: UTF8.self)
            #expect(worker.terminationStatus == 0, "\(architecture) jobs: \(err.suffix(2000))")
            #expect(FileSystem.exists(dir.path + "/worker-\(architecture)/cache/harden"), "the \(architecture) jobs did not use their own cache")
        }

        // Publish, in a third store; then one local catalog build of the same catalog.
        let publishEnvironment = environment.merging(["HARDEN_STORE": dir.path + "/publish-store"]) { $1 }
        let published = try await runOffPool(harden, ["catalog", "publish", catalog, "--push", prefix, "--key", key + ".key", "--report", dir.path + "/report",
                                          "--no-baselines"], environment: publishEnvironment)
        #expect(published.status == 0, "\(published.stderr)")
        let local = try await runOffPool(harden, ["catalog", "build", catalog, "--output", "oci:\(dir.path)/local", "--report", dir.path + "/local-report", "--no-baselines"],
                            environment: environment)
        #expect(local.status == 0, "\(local.stderr)")
        let localStore = try ImageLayout(opening: dir.path + "/local")
        for tag in ["latest", "latest-dev"] {
            let digest = try localStore.resolve(tag: "static:" + tag).digest.description
            #expect(published.output.contains("\(digest)  \(prefix)/static:\(tag)"), "\(tag): local \(digest), published: \(published.output)")
        }
        let report = try #require(try JSONSerialization.jsonObject(with: Data(try FileSystem.read(dir.path + "/report/catalog.json"))) as? [String: Any])
        let image = (report["images"] as? [[String: Any]])?.first
        let platforms = (image?["variants"] as? [[String: Any]])?.flatMap { $0["platforms"] as? [[String: Any]] ?? [] } ?? []
        #expect(platforms.count == 4 && platforms.allSatisfy { ($0["evidence"] as? [String: String])?.values.allSatisfy { $0 == "pass" } == true },
                "\(platforms.map { $0["evidence"] ?? "" })")

        // Nothing changed: no job to run, and publish again makes no write request.
        let again = try await runOffPool(harden, ["catalog", "plan", catalog, "--push", prefix], environment: environment)
        let replanned = (try JSONSerialization.jsonObject(with: Data(again.stdout)) as? [String: Any])?["jobs"] as? [[String: Any]] ?? []
        #expect(replanned.count == 4 && replanned.allSatisfy { $0["rebuild"] as? Bool == false }, "\(again.output)")
        try proxy.clearLog()
        let republished = try await runOffPool(harden, ["catalog", "publish", catalog, "--push", prefix, "--key", key + ".key", "--report", dir.path + "/report",
                                           "--no-baselines"], environment: publishEnvironment)
        #expect(republished.status == 0, "\(republished.stderr)")
        let writes = try proxy.requests().filter { ["PUT", "POST", "PATCH", "DELETE"].contains($0.method) }
        #expect(writes.isEmpty, "\(writes.map { "\($0.method) \($0.target)" })")
    }

    static func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Failures stay in the catalog report: on a signed test repository with no Debian base, one
/// spec names a package that does not exist (its build fails) and the other builds but its
/// baseline cannot be (the repository has no apt and no required packages).
@Suite(.serialized) struct CatalogFailureTests {
    @Test func aFailedBuildAndAnUnbuildableBaselineAreReported() throws {
        let repo = try SignedTestRepository(packages: [.init(name: "tool", files: ["usr/bin/tool": "#!tool\n"])], suite: "bookworm")
        let catalog = repo.dir.path + "/catalog"
        try FileSystem.createDirectory(catalog)
        for (name, package) in [("good", "tool"), ("broken", "no-such-package")] {
            let text = """
                name: \(name)
                debian: bookworm
                archs: [amd64]
                packages: [\(package)]
                variants:
                  dev: false
                repositories:
                  - url: \(repo.server?.url ?? "")
                    suites: [bookworm]
                    components: [main]
                    keyring: \(repo.keyring)
                """
            try FileSystem.writeAtomically(catalog + "/\(name).yaml", bytes: Array(text.utf8))
        }
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = repo.dir.path + "/cache"
        let report = repo.dir.path + "/report"
        let result = try run(try hardenBinary(), ["catalog", "build", catalog, "--output", "oci:\(repo.dir.path)/store", "--report", report],
                             environment: environment)
        #expect(result.status == 1, "a failed build fails the command, after the report: \(result.stderr)")
        #expect(result.output.contains("problem: build: ") && result.output.contains("unknown package 'no-such-package'"), "\(result.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try FileSystem.read(report + "/catalog.json"))) as? [String: Any])
        let images = Dictionary(uniqueKeysWithValues: (json["images"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0) })
        #expect(images["broken"]?["status"] as? String == "failed")
        #expect(images["good"]?["status"] as? String == "built")
        let problems = images["good"]?["problems"] as? [String] ?? []
        #expect(problems.contains { $0.hasPrefix("baseline: ") && $0.contains("apt") }, "\(problems)")
        #expect(images["good"]?["baseline"] == nil && images["good"]?["reduction"] == nil)
        let page = String(decoding: try FileSystem.read(report + "/index.html"), as: UTF8.self)
        #expect(page.contains("id=\"image-broken\"") && page.contains("unknown package"), "the page shows the failure")
    }
}
