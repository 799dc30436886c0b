import ArgumentParser
import Foundation
import OCI
import Registry

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy an image between any two transports (layouts, archives, registries), verifying every blob.",
        discussion: """
        Examples:
          harden copy oci:out:app oci-archive:app.tar
          harden copy oci:out:app docker-archive:app.tar:example/app:1   # then: docker load -i app.tar
          harden copy --platform linux/arm64 oci:out:multi docker-archive:arm.tar
          harden copy localhost:5000/base:latest registry.example.com/mirror/base:latest
        Signatures, attestations and SBOMs follow the image to layouts, oci-archives and registries.
        """
    )

    @Argument(help: "The image to copy.")
    var source: String

    @Argument(help: "Where to write it.")
    var destination: String

    @Option(help: "The platform to take from a multi-platform index (os/arch): required for docker-archive, optional from a registry.")
    var platform: String?

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        let to = try ImageReference(parsing: destination)
        let (digest, report) = try await copyImage(from: try sourceReference(source), to: to, registry: registry,
                                                   platform: try platform.map { try Platform(parsing: $0) })
        print("\(digest)  \(to)")
        if let report { note(summary(report)) }
    }
}
