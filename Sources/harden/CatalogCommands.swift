import Archive
import ArgumentParser
import Catalog
import Foundation
import ImageBuild
import OCI
import Registry
import SBOM
import VEX
import Vulnerability

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Build a whole catalog of images and report on it.",
        subcommands: [CatalogBuild.self, CatalogPlanCommand.self, CatalogPublish.self]
    )
}

struct CatalogBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build every spec of a catalog directory, audit each image and write the catalog report.",
        discussion: """
        Every *.yaml in DIR is built with its lock (minimal and -dev, every architecture), several
        specs at once (--jobs), into one store, so layers are shared. An image whose tags already
        name its lock's digest (annotation dev.harden.lock.digest) is reused: with nothing
        changed, nothing is built or written and every digest stays.

        Each image is then audited (as 'harden audit'), scanned when a vulnerability database
        exists, and compared with its conventional baseline (as 'harden baseline' builds it, once
        per baseline lock). The report goes to --report: catalog.json, catalog.md, index.html (one
        static page, no external assets) and documents/ (each image's SBOMs and, when signed, its
        provenance and VEX). An image that fails to build is in the report with its error, and
        the command exits 1 after writing it.

        With --push REGISTRY/PREFIX every image also goes to PREFIX/NAME:TAG (and TAG-dev) with
        its signatures and attestations; a tag that already names the same digest is left alone,
        so an unchanged catalog pushes nothing.

        Examples:
          harden catalog build                       # catalog/ into the local store, report in catalog-report/
          harden catalog build catalog --key harden.key --report site/
          harden catalog build catalog --output oci:out/store --no-baselines
          harden catalog build catalog --key harden.key --push registry.example.com/hardened
        """
    )

    @Argument(help: "The catalog directory (specs *.yaml and their locks).")
    var directory = "catalog"

    @Option(name: .shortAndLong, help: "The store to build into and reuse from: oci:DIR (default: the local store).")
    var output: String?

    @Option(help: "Where the report goes.")
    var report = "catalog-report"

    @Option(help: "Sign with this private key (as 'harden build --key'); the passphrase comes from HARDEN_PASSWORD or the terminal.")
    var key: String?

    @Option(help: "How many specs build at once (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Do not build or compare the conventional baselines.")
    var noBaselines = false

    @Option(help: "Layer compression: gzip, zstd or none.")
    var compression: Compression = .gzip

    @Option(help: "Also push every image to this registry prefix (REGISTRY/PREFIX: images go to PREFIX/NAME:TAG).")
    var push: String?

    @OptionGroup var registry: RegistryFlags

    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let prefix = try push.map(registryPrefix)
        let started = ContinuousClock.now
        let store = try catalogStore(output)
        var signing: CatalogBuilder.Signing?
        if let key {
            try BuildIsolation.protectParent()
            signing = CatalogBuilder.Signing(key: try loadSigningKey(key), keyPath: key, executable: try BuildIsolation.ownExecutable())
        }
        let vulnerabilities = usableDatabase(database.resolved)
        var derivedVEX: (@Sendable (ImageInventory, PURL) throws -> [VEXStatement])?
        if let db = vulnerabilities {
            derivedVEX = { @Sendable inventory, product in
                try VEXDerivation.statements(advisories: try ImageScan.advisories(for: inventory, in: db, target: inventory.imageName),
                                             inventory: inventory, product: product)
            }
        }
        let builder = CatalogBuilder(store: store, signing: signing, database: vulnerabilities, compression: compression, jobs: jobs,
                                     baselines: !noBaselines, builderVersion: Harden.version, derivedVEX: derivedVEX, progress: note)
        let result = try await builder.build(specs: try CatalogBuilder.specs(in: directory), reportDirectory: report)
        for image in result.images { print(summaryLine(image)) }
        if let prefix { try await publish(result, from: store, to: prefix) }
        note("report: \(report)/index.html, catalog.json, catalog.md (\(formatDuration(ContinuousClock.now - started)))")
        if result.images.contains(where: { $0.status == "failed" }) { throw ExitCode(1) }
    }

    /// Pushes every built image to PREFIX/NAME:TAG, skipping tags that already name its digest.
    private func publish(_ report: CatalogReport, from store: ImageLayout, to prefix: RegistryReference) async throws {
        try await RegistrySession.with(registry.options) { session in
            for image in report.images where image.status != "failed" {
                for variant in image.variants {
                    let tag = String(variant.tag.split(separator: ":").last ?? "latest")
                    let target = RegistryReference(registry: prefix.registry, repository: prefix.repository + "/" + image.name, tag: tag)
                    let index = try store.resolve(tag: variant.tag)
                    if let remote = try await session.client(for: target.registry).manifestIfPresent(tag, in: target.repository),
                       remote.digest == index.digest {
                        note("\(target): already \(index.digest.short), nothing pushed")
                        continue
                    }
                    let pushed = try await withTransferProgress("pushing") { try await session.push(index, from: store, to: target, progress: $0) }
                    print("\(index.digest)  \(target)")
                    note(summary(pushed))
                }
            }
        }
    }
}

/// One line per catalog image: status, digest, grade, size and the reduction against its baseline.
func summaryLine(_ image: CatalogReport.Image) -> String {
    var line = image.name.padding(toLength: 10, withPad: " ", startingAt: 0) + " " + image.status.padding(toLength: 9, withPad: " ", startingAt: 0)
    line += " " + (image.variants.first.map { String($0.digest.prefix(19)) } ?? "-")
    if let platform = image.comparedPlatform {
        line += "  grade \(platform.grade)  \(platform.figures.packages) packages, \(formatBytes(platform.figures.compressedBytes))"
    }
    if let reduction = image.reduction {
        let parts = ["packages", "executables", "cves"].compactMap { axis in reduction[axis].map { String(format: "%.0f%% fewer %@", $0, axis) } }
        line += "  vs baseline: " + parts.joined(separator: ", ")
    }
    return ([line] + image.problems.map { "  problem: \($0)" }).joined(separator: "\n")
}

/// The store a catalog command works in: `oci:DIR`, or the local store when nil.
func catalogStore(_ output: String?) throws -> ImageLayout {
    switch try output.map({ try ImageReference(parsing: $0) }) {
    case nil: return try LocalStore.open()
    case .layout(let path, nil)?: return try ImageLayout.create(at: path)
    case let other?: throw ValidationError("--output is a store directory, oci:DIR (not \(other))")
    }
}

/// REGISTRY/PREFIX from the command line (no tag, no digest).
func registryPrefix(_ text: String) throws -> RegistryReference {
    guard case .registry(let remote) = try ImageReference(parsing: text), text.contains("/"),
          text.split(separator: "/").last?.contains(":") == false, !text.contains("@") else {
        throw ValidationError("expected REGISTRY/PREFIX, without a tag (images go to PREFIX/NAME:TAG), not '\(text)'")
    }
    return remote
}

struct CatalogPlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the build matrix of a catalog: one job per image, variant and architecture.",
        discussion: """
        Each job builds one platform manifest from the spec's lock and pushes it to the registry
        (REGISTRY/PREFIX/NAME:TAG-ARCH, TAG-dev-ARCH), the shared store: 'rebuild' is false when
        the registry already holds one built from the same lock (its dev.harden.lock.digest), so
        nothing unchanged is rebuilt or uploaded. Any CI engine can run the jobs in parallel, on
        separate machines with separate caches; a final job runs the plan's 'publish' command,
        which assembles the multi-platform indexes (the same digests as one 'catalog build').

        --format json is the plan (its JSON Schema: docs/catalog-plan.schema.json);
        --format github-actions is a matrix for strategy.matrix: ${{ fromJSON(...) }}.
        See docs/scaling.md for a GitHub Actions workflow and Kubernetes Jobs.

        Examples:
          harden catalog plan catalog --push registry.example.com/hardened
          harden catalog plan catalog --push ghcr.io/acme/hardened --key-argument harden.key --format github-actions
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, githubActions = "github-actions" }

    @Argument(help: "The catalog directory (specs *.yaml and their locks).")
    var directory = "catalog"

    @Option(help: "The registry prefix the jobs push to (REGISTRY/PREFIX).")
    var push: String

    @Option(name: .customLong("key-argument"), help: "The key path the jobs and publish sign with (put on their commands as --key).")
    var keyArgument: String?

    @Option(help: "json or github-actions.")
    var format: Format = .json

    @Option(name: .shortAndLong, help: "Write the plan to this file instead of standard output.")
    var output: String?

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        let prefix = try registryPrefix(push)
        let key = keyArgument.map { ["--key", $0] } ?? []
        let plan = try await RegistrySession.with(registry.options) { session in
            try await CatalogPlan.make(specs: try CatalogBuilder.specs(in: directory), catalog: directory, prefix: prefix, session: session,
                                       buildArguments: key, publishArguments: key)
        }
        try write(format == .json ? try CanonicalJSON.pretty(plan) + "\n" : try plan.githubActions() + "\n", to: output)
        note("\(plan.jobs.count) jobs, \(plan.rebuilds) to run")
    }
}

struct CatalogPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Assemble and push the multi-platform indexes of a planned catalog build, and write its report.",
        discussion: """
        The final job of 'harden catalog plan': pulls every platform manifest the jobs pushed
        (each must name its spec's current lock), writes each variant's index exactly as one
        'harden catalog build' writes it, signs it with --key, and pushes it as
        REGISTRY/PREFIX/NAME:TAG (and TAG-dev); a tag that already names it is left alone. Then
        the catalog report is written from what was published, as 'catalog build' writes it.

        Example:
          harden catalog publish catalog --push registry.example.com/hardened --key harden.key --report site/
        """
    )

    @Argument(help: "The catalog directory (specs *.yaml and their locks).")
    var directory = "catalog"

    @Option(help: "The registry prefix the jobs pushed to (REGISTRY/PREFIX).")
    var push: String

    @Option(help: "Sign the indexes with this private key; the passphrase comes from HARDEN_PASSWORD or the terminal.")
    var key: String?

    @Option(name: .shortAndLong, help: "The store the images are pulled into (default: the local store).")
    var output: String?

    @Option(help: "Where the report goes.")
    var report = "catalog-report"

    @Flag(help: "Do not build or compare the conventional baselines in the report.")
    var noBaselines = false

    @OptionGroup var registry: RegistryFlags

    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let prefix = try registryPrefix(push)
        let store = try catalogStore(output)
        let signingKey = try key.map { try loadSigningKey($0) }
        let specs = try CatalogBuilder.specs(in: directory)
        let published = try await RegistrySession.with(registry.options) { session in
            try await CatalogPublisher(store: store, key: signingKey, progress: note).publish(specs: specs, prefix: prefix, session: session)
        }
        for (tag, digest) in published { print("\(digest)  \(prefix.registry)/\(prefix.repository)/\(tag)") }
        // Every image is in the store now, under tags that name its lock: the report reuses them all.
        let builder = CatalogBuilder(store: store, signing: nil, verificationKey: signingKey?.publicKey, database: usableDatabase(database.resolved),
                                     baselines: !noBaselines, builderVersion: Harden.version, progress: note)
        let result = try await builder.build(specs: specs, reportDirectory: report)
        for image in result.images { print(summaryLine(image)) }
        note("report: \(report)/index.html, catalog.json, catalog.md")
        if result.images.contains(where: { $0.status != "unchanged" }) {
            throw CLIError("the report found images that were not published: \(result.images.filter { $0.status != "unchanged" }.map(\.name))")
        }
    }
}
