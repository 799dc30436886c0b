import ArgumentParser
import OCI
import Registry

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an image's manifest, configuration and layers.",
        discussion: """
        Reads any image, including layouts written by skopeo or umoci and registry images, and
        verifies every blob it reads against its digest. For an index, each platform's image is shown.

        Examples:
          harden inspect oci:/var/lib/images:python
          harden inspect --format json docker-archive:app.tar
          harden inspect --raw oci-archive:image.tar      # the exact manifest bytes
          harden inspect localhost:5000/hardened/base:latest
        """
    )

    @Argument(help: "The image, e.g. oci:DIR:TAG, oci-archive:FILE, docker-archive:FILE, REGISTRY/REPO:TAG.")
    var image: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Print the top manifest or index exactly as stored.")
    var raw = false

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        // Manifests and configs are all it reads: a registry image's layers stay where they are.
        let opened = try await openImage(image, registry: registry, blobs: .configs)
        if raw {
            print(String(decoding: try opened.reader.readBlob(opened.root), as: UTF8.self))
            return
        }
        let inspection = try ImageInspection.inspect(opened.root, in: opened.reader, reference: image)
        switch format {
        case .text: print(inspection.text())
        case .json: print(try CanonicalJSON.pretty(inspection))
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
