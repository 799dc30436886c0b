import Archive
import ArgumentParser
import ContainerRuntime
import Foundation
import ImageBuild
import OCI

struct TestImage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a spec's tests in a built image, for real, under runc.",
        discussion: """
        Unpacks the image (every blob verified) into an OCI runtime bundle and runs each test of
        the spec for this variant as the image's user, with no network. A test passes when its exit
        status and output match; in a minimal image the process must also run with a non-zero uid,
        observed from /proc, not assumed. Runs the host's platform of a multi-platform image.
        Needs root and runc.

        Examples:
          harden test python:latest --spec catalog/python.yaml
          harden test python:latest-dev --spec catalog/python.yaml
          harden test oci:out/base:latest --spec catalog/base.yaml --variant minimal
        """
    )

    @Argument(help: "The image: NAME:TAG in the local store, or oci:/oci-archive:/docker-archive: references.")
    var image: String

    @Option(help: "The spec whose tests to run.")
    var spec: String

    @Option(help: "minimal or dev (default: dev when the tag ends in -dev).")
    var variant: String?

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        let parsed = try ImageSpec(contentsOf: spec)
        let opened = try await openImage(image, registry: registry)
        let isDev = variant.map { $0 == "dev" } ?? image.hasSuffix("-dev")
        if let variant, variant != "dev" && variant != "minimal" { throw ValidationError("--variant must be minimal or dev") }
        let manifest = try ImageGraph.manifest(for: Platform(architecture: Platform.hostArchitecture), under: opened.root, in: opened.layout)
        let tests = parsed.tests.filter { $0.variant == .both || $0.variant == (isDev ? .dev : .minimal) }.map {
            ImageTestCase(name: $0.name, command: $0.run, expectOutput: $0.expectOutput, expectStatus: $0.expectStatus)
        }
        guard !tests.isEmpty else {
            throw CLIError("\(spec) declares no tests for the \(isDev ? "dev" : "minimal") variant")
        }
        let results = try ImageTester.run(tests, manifest: manifest, from: opened.layout, requireNonRoot: !isDev, progress: note)
        for result in results {
            let mark = result.passed ? "PASS" : "FAIL"
            print("\(mark)  \(result.test.name)  (uid \(result.uid), status \(result.status))" + (result.failure.map { ": \($0)" } ?? ""))
        }
        let failed = results.filter { !$0.passed }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}

/// The local store, when `text` is a bare NAME:TAG it holds.
func storeHolding(_ text: String) throws -> ImageLayout? {
    guard !text.contains("/") && !text.hasPrefix("oci") && !text.hasPrefix("docker-archive:") else { return nil }
    let store = try LocalStore.open()
    return try store.tags().contains(where: { $0.name == text }) ? store : nil
}
