import Archive
import ArgumentParser
import Foundation
import OCI
import SBOM

struct SBOMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbom",
        abstract: "Write the SPDX 2.3 or CycloneDX 1.6 SBOM of any Debian-based image.",
        discussion: """
        Reads the image's package database (/var/lib/dpkg/status, or distroless status.d), layer by
        layer with whiteouts honoured, and licences from the copyright files (DEP-5 mapped to SPDX;
        NOASSERTION when not machine-readable; never guessed). The same image always gives the same
        bytes: times come from the image config, identifiers from its digest.

        An SBOM file (SPDX or CycloneDX JSON, from Harden, syft or trivy) can be given instead of
        an image: its Debian packages are read back and written in the requested format.

        Examples:
          harden sbom python:latest --format spdx-json --output python.spdx.json
          harden sbom trivy-output.cdx.json --format spdx-json
          harden sbom oci-archive:image.tar --platform linux/arm64 --format cyclonedx-json
          harden sbom python:latest --files --output python.files.spdx.json
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case spdxJSON = "spdx-json"
        case cyclonedxJSON = "cyclonedx-json"
    }

    @Argument(help: "The image (NAME:TAG in the local store, oci:/oci-archive:/docker-archive:, REGISTRY/REPO:TAG) or an SBOM .json file.")
    var image: String

    @Option(help: "spdx-json or cyclonedx-json.")
    var format: Format = .spdxJSON

    @Option(help: "The platform of a multi-platform image (default: the host's).")
    var platform: String?

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(help: "Read the layers even when the image carries an SBOM written at build time.")
    var rescan = false

    @Flag(help: "List every regular file with its SHA-1 and SHA-256 and the package that owns it (spdx-json; reads the layers).")
    var files = false

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        if image.hasSuffix(".json") && FileSystem.exists(image) {
            if files { throw ValidationError("--files needs an image: an SBOM file does not hold the image's files") }
            let inventory = try SBOMReader.read(try FileSystem.read(image, limit: 256 << 20), path: image)
            for warning in inventory.warnings { note("warning: \(warning)") }
            let bytes = format == .spdxJSON ? try SPDXWriter.write(inventory) : try CycloneDXWriter.write(inventory)
            try emit(bytes, summary: "\(inventory.packages.count) Debian packages read from \(image)")
            return
        }
        if files && format != .spdxJSON { throw ValidationError("--files lists files in SPDX documents: use --format spdx-json") }
        let (opened, manifest) = try await openManifest(image, registry: registry, platform: platform)
        let type = format == .spdxJSON ? MediaType.spdxJSON : MediaType.cycloneDXJSON
        // An archive read in place has no attachments: only a layout can hold a stored SBOM.
        if !rescan && !files, let layout = opened.existingLayout,
           let stored = try layout.referrers(of: manifest.digest).first(where: { $0.artifactType == type }) {
            // Written at build time from the same layers; verified on read.
            let artifact = try layout.readDocument(ImageManifest.self, stored, kind: "SBOM artifact")
            guard let blob = artifact.layers.first else { throw CLIError("SBOM artifact \(stored.digest) has no layer") }
            try emit(try layout.readBlob(blob, limit: 256 << 20), summary: "stored SBOM \(stored.digest.short)")
            return
        }
        let inventory = try readInventory(image, opened: opened, manifest: manifest, includingFiles: files)
        let bytes = format == .spdxJSON ? try SPDXWriter.write(inventory) : try CycloneDXWriter.write(inventory)
        let listed = inventory.files.map { ", \($0.count) files" } ?? ""
        try emit(bytes, summary: "\(inventory.packages.count) packages\(listed) (\(inventory.osName) \(inventory.osVersion), \(inventory.architecture))")
    }

    private func emit(_ bytes: [UInt8], summary: String) throws {
        if let output {
            try FileSystem.writeAtomically(output, bytes: bytes)
            note("\(summary) -> \(output)")
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}
