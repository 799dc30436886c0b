import Archive
import ArgumentParser
import Attestation
import Foundation
import ImageBuild
import OCI
import Policy
import SBOM
import VEX
import Vulnerability

/// What `audit` and `diff` share: the database, VEX and key that decide CVEs and evidence.
struct AuditOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOption

    @Option(help: ArgumentHelp("An OpenVEX document whose not_affected and fixed statements take findings out (repeatable).", valueName: "file"))
    var vex: [String] = []

    @Option(help: "Verify signatures, SBOM and provenance attestations with this public key, and apply the image's signed VEX.")
    var key: String?

    @Option(help: "The platform of a multi-platform image (default: the host's).")
    var platform: String?

    @OptionGroup var registry: RegistryFlags

    func auditor() throws -> Auditor {
        Auditor(database: usableDatabase(database.resolved), vex: try vex.map { try VEXDocument.load(path: $0) },
                key: try key.map { try KeyFile.loadVerificationKey($0) })
    }
}

enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Writes `text` to `output`, or to standard output when nil.
func write(_ text: String, to output: String?) throws {
    if let output {
        try FileSystem.writeAtomically(output, bytes: Array(text.utf8))
        note("wrote \(output)")
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check how hardened an image is, ours or anyone's, and grade it.",
        discussion: """
        Reads the image's merged filesystem (every layer, whiteouts applied) and checks:
          user             root fails; a non-root uid passes
          shell            any shell (sh, bash, dash, busybox, ...) fails
          package-manager  dpkg, apt, rpm, apk, ... fail; pip, npm, gem warn
          setuid           any setuid or setgid file fails
          world-writable   any world-writable path but a sticky directory fails
          secrets          PEM private keys and credentials files (.netrc, .docker/config.json, ...) fail
          packages         no package database warns (scanners see nothing)
          vulnerabilities  CVEs after VEX: one with a fixed version fails, unfixed high or critical warn
          signature, sbom, provenance
                           verified with --key pass; attached but unverified warn; missing fails

        Grade: A every check passes, B warnings only, C one failure, D two or three, F more.
        Exit status: 0, or 2 with --fail-on when a check is at or above it; 1 when the audit
        itself failed (an unreadable image or layer).

        Examples:
          harden audit python:latest --key harden.pub
          harden audit docker-archive:bookworm-slim.tar --format json
          harden audit localhost:5000/hardened/python:latest --fail-on fail
        """
    )

    @Argument(help: "The image: NAME:TAG in the local store, oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE or REGISTRY/REPO[:TAG].")
    var image: String

    @OptionGroup var options: AuditOptions

    @Option(help: "table or json.")
    var format: ReportFormat = .table

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    @Option(help: "Exit with status 2 when a check is at this status or worse (warn or fail).")
    var failOn: AuditCheck.Status?

    func run() async throws {
        let (opened, manifest) = try await openManifest(image, registry: options.registry, platform: options.platform)
        let report = try options.auditor().audit(manifest, in: opened.layout, reference: image)
        try write(format == .json ? try CanonicalJSON.pretty(report) : report.text(), to: output)
        if let failOn, failOn != .pass, report.checks.contains(where: { $0.status >= failOn }) {
            note("checks at \(failOn.rawValue) or worse: failing (exit status 2)")
            throw ExitCode(2)
        }
    }
}

extension AuditCheck.Status: ExpressibleByArgument {}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two images: packages, files, executables, setuid files, size and CVEs.",
        discussion: """
        A is the reference (a conventional baseline, or the previous release) and B the image
        compared with it. For each axis the table shows both figures and how much smaller B is,
        in percent: how "attack surface reduced by N%" is measured. Then the packages only in
        one image or at another version, the setuid files, and (with a database) the CVEs.

        Examples:
          harden baseline catalog/python.yaml
          harden diff python:latest-baseline python:latest
          harden diff localhost:5000/python:1.0 localhost:5000/python:1.1 --format json
        """
    )

    @Argument(help: "The reference image.")
    var a: String

    @Argument(help: "The image compared with it.")
    var b: String

    @OptionGroup var options: AuditOptions

    @Option(help: "table or json.")
    var format: ReportFormat = .table

    @Option(name: .shortAndLong, help: "Write the comparison to this file instead of standard output.")
    var output: String?

    func run() async throws {
        let auditor = try options.auditor()
        var sides: [(image: String, contents: ImageContents, scan: ScanReport?)] = []
        for image in [a, b] {
            let (opened, manifest) = try await openManifest(image, registry: options.registry, platform: options.platform)
            let contents = try Auditor.contents(of: manifest, in: opened.layout, reference: image)
            if let problem = contents.inventoryProblem { note("warning: \(problem)") }
            sides.append((image, contents, try auditor.scan(contents, in: opened.layout, target: image)))
        }
        let diff = ImageDiff(from: sides[0], to: sides[1])
        try write(format == .json ? try CanonicalJSON.pretty(diff) : diff.text(), to: output)
    }
}

struct BaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Build the conventional image a spec replaces, to compare it with.",
        discussion: """
        The baseline is what users would otherwise take: debian:bookworm-slim's package set
        (every Priority: required package, and apt) with the spec's packages on top, as a
        conventional Dockerfile would install them: running as root, with a shell, apt and
        dpkg, setuid bits kept, nothing excluded. It is resolved from the same signed
        repositories as the image and pinned in <spec>.baseline.lock.json (written when
        missing or older than the spec), so it is reproducible and, once its packages are
        cached, builds offline. It is not signed: it is a yardstick, not a product.

        The image goes to the local store as NAME:TAG-baseline, or to --output.

        Examples:
          harden baseline catalog/python.yaml
          harden audit python:latest-baseline
          harden diff python:latest-baseline python:latest
        """
    )

    @Argument(help: "The image spec (YAML).")
    var spec: String

    @Option(name: .shortAndLong, help: "Destination (default: the local store): oci:DIR[:TAG] (tag TAG-baseline), oci-archive:FILE, docker-archive:FILE.")
    var output: String?

    @Option(help: "For docker-archive output: the platform (os/arch).")
    var platform: String?

    func run() async throws {
        let started = ContinuousClock.now
        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-stage")
        defer { try? FileSystem.remove(scratch) }
        let staging = try ImageLayout.create(at: scratch + "/layout")
        let image = try await ImageBuilder(progress: note).buildBaseline(specPath: spec, into: staging)
        try publish(image, from: staging, to: try output.map { try ImageReference(parsing: $0) }, platform: platform, alone: true)
        for platform in image.platforms {
            print("  \(platform.architecture): \(platform.manifest.digest)  \(platform.packages) packages, \(formatBytes(platform.uncompressedSize)) uncompressed")
        }
        note("baseline built in \(formatDuration(ContinuousClock.now - started))")
    }
}
