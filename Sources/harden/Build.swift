import Archive
import ArgumentParser
import Attestation
import Foundation
import ImageBuild
import OCI
import Registry
import SBOM
import VEX
import Vulnerability

struct Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a hardened image and its -dev variant from a spec.",
        discussion: """
        Uses <spec>.lock.json (written first if missing; refused if the spec changed since), fetches
        every pinned .deb verified by SHA-256, unpacks them without running maintainer scripts,
        does natively what those scripts would have done (accounts, os-release, CA bundle,
        alternatives), hardens the minimal variant (no shell, no package manager, no docs, no
        setuid, no world-writable path but /tmp, non-root user) and writes deterministic layers.
        The same lock gives the same digests on any machine; the epoch is SOURCE_DATE_EPOCH or
        the newest Release date in the lock.

        With --key, the build is signed as SLSA Build L3 asks: the build steps run in a child process
        that cannot reach the key (own mount namespace with the key file covered, no capabilities,
        no inherited descriptors, HARDEN_PASSWORD scrubbed); this process holds the key, checks every
        blob the child wrote, and signs each image (cosign simple signing) with attestations of its
        SLSA provenance, SPDX and CycloneDX SBOMs (DSSE, in-toto). 'harden verify' checks them.

        The spec's vex: statements, and (when a vulnerability database exists, see 'harden db') a
        not_affected statement for each CVE Debian marks as never affecting bookworm's version of
        a package in the image, are attested as the image's signed OpenVEX document. The findings
        left after VEX are printed per image; with --fail-on SEVERITY nothing is published when
        one is at or above it.

        Images go to the local store (see 'harden images') as NAME:TAG and NAME:TAG-dev, or to
        --output: oci:DIR (tags TAG and TAG-dev), oci-archive:FILE, docker-archive:FILE (one
        variant and one platform: --variant, --platform). With --push REGISTRY/REPO[:TAG] each image
        also goes to the registry with its signatures and attestations (the -dev variant as TAG-dev).

        --arch builds only that architecture (repeatable), as one job of a CI build matrix does
        ('harden catalog plan'): with --push its platform manifest goes to TAG-ARCH (TAG-dev-ARCH),
        and 'harden catalog publish' assembles the multi-platform index from those.

        Examples:
          harden build catalog/python.yaml
          harden build catalog/base.yaml --output oci:out/base
          HARDEN_PASSWORD=... harden build catalog/python.yaml --key harden.key
          harden build catalog/base.yaml --key harden.key --push registry.example.com/hardened/base:12
          harden build catalog/static.yaml --variant minimal --platform linux/amd64 --output docker-archive:static.tar:static:latest
        """
    )

    @Argument(help: "The image spec (YAML).")
    var spec: String

    @Option(name: .shortAndLong, help: "Destination (default: the local store).")
    var output: String?

    @Option(help: "Only this variant: minimal or dev.")
    var variant: String?

    @Option(help: "For docker-archive output: the platform (os/arch).")
    var platform: String?

    @Option(help: ArgumentHelp("Build only this of the spec's architectures (repeatable; default: all).", valueName: "arch"))
    var arch: [String] = []

    @Option(help: "Lock file (default: <spec>.lock.json).")
    var lock: String?

    @Option(help: "Layer compression: gzip, zstd or none.")
    var compression: Compression = .gzip

    @Option(help: "Sign with this private key (see 'harden keygen'); the passphrase comes from HARDEN_PASSWORD or the terminal.")
    var key: String?

    @Option(help: "Also push to this registry repository (REGISTRY/REPO[:TAG]; the -dev variant gets TAG-dev).")
    var push: String?

    @OptionGroup var registry: RegistryFlags

    @OptionGroup var database: DatabaseOption

    @Option(help: "Publish nothing when an image has a finding at or above this severity after VEX (needs the vulnerability database).")
    var failOn: Severity?

    @Flag(help: "List every change hardening made.")
    var verbose = false

    @Flag(help: "With --key: build nothing, only show that the build child cannot reach the key (every attempt it makes).")
    var probeIsolation = false

    func run() async throws {
        let start = Date()
        var epoch: Int64?
        if let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty {
            guard let value = Int64(text), value >= 0 else { throw ValidationError("SOURCE_DATE_EPOCH '\(text)' is not a number of seconds") }
            epoch = value
        }
        let selected = try variant.map { name -> Variant in
            guard let v = Variant(rawValue: name) else { throw ValidationError("--variant must be minimal or dev") }
            return v
        }
        // The vulnerability database, when there is one: findings after VEX, and VEX derived from it.
        let vulnerabilities = usableDatabase(database.resolved)
        if failOn != nil && vulnerabilities == nil {
            throw ValidationError("--fail-on needs the vulnerability database (\(database.resolved)): run 'harden db update' first")
        }
        let imageSpec = try ImageSpec(contentsOf: spec)
        let architectures = arch.isEmpty ? nil : arch
        _ = try ImageBuilder.selected(architectures, of: imageSpec)
        let specPath = spec
        var derivedVEX: (@Sendable (ImageInventory, PURL) throws -> [VEXStatement])?
        if let db = vulnerabilities {
            derivedVEX = { @Sendable inventory, product in
                let advisories = try ImageScan.advisories(for: inventory, in: db, target: specPath)
                return try VEXDerivation.statements(advisories: advisories, inventory: inventory, product: product)
            }
        }
        // Build into a private staging layout; only a complete build is copied and tagged.
        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-stage")
        defer { try? FileSystem.remove(scratch) }
        let staging: ImageLayout
        let images: [BuiltImage]
        if let key {
            // Protect this process before the key is in its memory.
            try BuildIsolation.protectParent()
            let signingKey = try loadSigningKey(key)
            // The child covers the key file's real path and every other mount of it too.
            let signed = SignedBuild(key: signingKey, specPath: spec, lockPath: lock, compression: compression, variant: selected, epoch: epoch,
                                     hidden: [key], executable: try BuildIsolation.ownExecutable(), builderVersion: Harden.version,
                                     derivedVEX: derivedVEX, architectures: architectures, progress: note)
            if probeIsolation {
                let attempts = try await signed.probe()
                for attempt in attempts { print("\(attempt.reached ? "REACHED" : "denied ")  \(attempt.target): \(attempt.detail)") }
                if attempts.contains(where: \.reached) { throw ExitCode(1) }
                return
            }
            (staging, images) = try await signed.run(scratch: scratch)
        } else {
            if probeIsolation { throw ValidationError("--probe-isolation needs --key") }
            staging = try ImageLayout.create(at: scratch + "/layout")
            let builder = ImageBuilder(epoch: epoch, compression: compression, only: selected, architectures: architectures, progress: note)
            images = try await builder.build(specPath: spec, lockPath: lock, into: staging)
        }

        if let vulnerabilities {
            try checkFindings(images, in: staging, spec: imageSpec, database: vulnerabilities, derivedVEX: derivedVEX)
        } else {
            note("no vulnerability database at \(database.resolved): findings not checked ('harden db update' makes one)")
        }

        let destination = try output.map { try ImageReference(parsing: $0) }
        let pushTarget = try push.map { text -> RegistryReference in
            guard case .registry(let remote) = try ImageReference(parsing: text), remote.digest == nil else {
                throw ValidationError("--push takes REGISTRY/REPOSITORY[:TAG], not '\(text)'")
            }
            return remote
        }
        for image in images {
            try publish(image, from: staging, to: destination, platform: platform, alone: images.count == 1)
            for platform in image.platforms {
                print("  \(platform.architecture): \(platform.manifest.digest)  \(platform.packages) packages, \(formatBytes(platform.uncompressedSize)) uncompressed")
            }
            if verbose {
                for (arch, changes) in image.hardening.sorted(by: { $0.key < $1.key }) {
                    for change in changes { print("  [\(arch)] \(change)") }
                }
            }
        }
        if let pushTarget {
            // One session for every image: the registry's scheme and tokens are found once.
            try await RegistrySession.with(registry.options) { session in
                for image in images {
                    // A tag the user wrote wins; else the image's own (python:3.11 → REPO:3.11).
                    let written = push?.split(separator: "/").last?.contains(":") == true ? pushTarget.tag : nil
                    let base = written ?? imageSpec.tag
                    var target = pushTarget
                    target.tag = image.variant == .dev ? base + "-dev" : base
                    // One job of a matrix pushes its platform manifests, for 'catalog publish' to assemble.
                    let roots = architectures == nil ? [(image.index, target)] : image.platforms.map { platform in
                        var perArch = target
                        perArch.tag = (target.tag ?? base) + "-" + platform.architecture
                        return (platform.manifest, perArch)
                    }
                    for (root, destination) in roots {
                        let report = try await withTransferProgress("pushing") { try await session.push(root, from: staging, to: destination, progress: $0) }
                        print("\(root.digest)  \(destination)")
                        note(summary(report))
                    }
                }
            }
        }
        note(String(format: "built in %.1f s", Date().timeIntervalSince(start)) + (key == nil ? " (unsigned: pass --key to sign)" : ", signed"))
    }

    /// Prints each image's findings after its VEX (the spec's statements and the derived ones, as
    /// published), and with --fail-on refuses to publish when one is at or above the threshold.
    private func checkFindings(_ images: [BuiltImage], in layout: ImageLayout, spec: ImageSpec, database: VulnerabilityDatabase,
                               derivedVEX: ((ImageInventory, PURL) throws -> [VEXStatement])?) throws {
        var refused: [String] = []
        for image in images {
            for platform in image.platforms {
                let inventory = try ImageInventory.read(manifest: platform.manifest, from: layout, imageName: spec.name)
                let product = PURL.oci(repository: spec.name, digest: platform.manifest.digest, includeRepositoryURL: false)
                let statements = try spec.vexStatements(for: inventory, product: product) + (derivedVEX?(inventory, product) ?? [])
                let documents = statements.isEmpty ? [] : [try VEXDocument.create(statements: statements, author: "harden build", timestamp: Date())]
                let report = try ImageScan.report(inventory, target: image.tag, database: database, documents: documents)
                note("\(image.tag) \(platform.architecture): \(report.summary)")
                if let failOn, report.exceeds(failOn) {
                    let worst = report.findings.filter { $0.severity >= failOn }
                    refused.append("\(image.tag) \(platform.architecture): " + worst.prefix(5).map { "\($0.cve) (\($0.package), \($0.severity.rawValue))" }.joined(separator: ", ")
                                   + (worst.count > 5 ? " and \(worst.count - 5) more" : ""))
                }
            }
        }
        if !refused.isEmpty {
            throw CLIError("not published: findings at or above \(failOn?.rawValue ?? "")\n  " + refused.joined(separator: "\n  ")
                           + "\n(add VEX statements to the spec's vex: section for those that do not apply, or update the lock)")
        }
    }
}

/// Copies a built image from `staging` with its attachments to `destination` (the local store
/// when nil; in a layout the variant's suffix goes on the tag given) and prints where it went.
/// Archives hold one image: `alone` says whether this is the only one built.
func publish(_ image: BuiltImage, from staging: ImageLayout, to destination: ImageReference?, platform: String?, alone: Bool) throws {
    switch destination {
    case nil:
        let store = try LocalStore.open()
        try store.copyImage(image.index, from: staging, tag: image.tag)
        try store.copyAttachments(of: image.index, from: staging)
        print("\(image.index.digest)  \(image.tag)  (local store \(store.path))")
    case .layout(let path, let tag)?:
        let base = tag ?? String(image.tag.split(separator: ":").last ?? "latest")
        let name = image.variant != .minimal && tag != nil ? base + "-" + image.variant.rawValue : base
        let target = try ImageLayout.create(at: path)
        try target.copyImage(image.index, from: staging, tag: name)
        try target.copyAttachments(of: image.index, from: staging)
        print("\(image.index.digest)  oci:\(path):\(name)")
    case let other?:
        guard alone else { throw ValidationError("\(other) holds one image: choose it with --variant minimal or --variant dev") }
        try LocalImages.store(image.index, from: staging, to: other, platform: try platform.map { try Platform(parsing: $0) })
        print("\(image.index.digest)  \(other)")
    }
}

struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "List the images in the local store.",
        discussion: "The store is an OCI image layout at $HARDEN_STORE, $XDG_DATA_HOME/harden/images or ~/.local/share/harden/images.")

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let store = try LocalStore.open()
        var rows: [[String: String]] = []
        let all = try store.tags()
        // Referrer indexes (sha256-<hex>) hold SBOMs and other artifacts, not images.
        for (tag, descriptor) in all where !tag.hasPrefix("sha256-") {
            let inspection = try ImageInspection.inspect(descriptor, in: store, reference: tag)
            let platforms = inspection.images.compactMap(\.platform).joined(separator: ",")
            let size = inspection.images.map(\.layersSize).max() ?? 0
            rows.append(["tag": tag, "digest": descriptor.digest.description, "platforms": platforms, "size": formatBytes(size)])
        }
        switch format {
        case .json: print(try CanonicalJSON.pretty(rows))
        case .text:
            print("TAG".padding(toLength: 28, withPad: " ", startingAt: 0) + "DIGEST".padding(toLength: 22, withPad: " ", startingAt: 0) + "PLATFORMS".padding(toLength: 30, withPad: " ", startingAt: 0) + "SIZE")
            for row in rows {
                print((row["tag"] ?? "").padding(toLength: 28, withPad: " ", startingAt: 0)
                      + String((row["digest"] ?? "").dropFirst(7).prefix(12)).padding(toLength: 22, withPad: " ", startingAt: 0)
                      + (row["platforms"] ?? "").padding(toLength: 30, withPad: " ", startingAt: 0) + (row["size"] ?? ""))
            }
            if rows.isEmpty { print("(no images in \(store.path); build one with 'harden build SPEC')") }
        }
    }
}
