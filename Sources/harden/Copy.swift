import ArgumentParser
import Foundation
import OCI

struct Copy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy an image between local layouts and archives, verifying every blob.",
        discussion: """
        Examples:
          harden copy oci:out:app oci-archive:app.tar
          harden copy oci:out:app docker-archive:app.tar:example/app:1   # then: docker load -i app.tar
          harden copy --platform linux/arm64 oci:out:multi docker-archive:arm.tar
        """
    )

    @Argument(help: "The image to copy.")
    var source: String

    @Argument(help: "Where to write it.")
    var destination: String

    @Option(help: "For a docker-archive destination: the platform to take from a multi-platform index (os/arch).")
    var platform: String?

    func run() throws {
        let from = try ImageReference(parsing: source)
        let to = try ImageReference(parsing: destination)
        let opened = try LocalImages.open(from)
        try LocalImages.store(opened.root, from: opened.layout, to: to, platform: try platform.map { try Platform(parsing: $0) })
        print("\(opened.root.digest)  \(to)")
    }
}
