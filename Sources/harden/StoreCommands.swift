import ArgumentParser
import Foundation
import ImageBuild
import OCI

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Check the local store.",
        subcommands: [StoreVerify.self])
}

struct StoreVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every blob of the store matches its digest and every tag names a complete image.",
        discussion: """
        Reads every blob in the store (an OCI image layout) and hashes it, on both cores; checks that oci-layout and index.json parse and that every entry of index.json, tagged or not, reaches only blobs that are present with the sizes their descriptors give. Temporary files that killed writers left behind are removed first (a live writer's are kept).

        Exits 0 when the store is intact, 1 when anything is wrong (each problem names its file). Blobs no entry reaches are counted, not treated as a problem.

        Examples:
          harden store verify
          harden store verify --store ./out/images --format json
        """)

    @Option(help: "The store (an OCI image layout); default $HARDEN_STORE or ~/.local/share/harden/images.")
    var store: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let path = store ?? LocalStore.defaultPath()
        let layout = try ImageLayout(opening: path)
        let check = layout.check(removeStale: true)
        switch format {
        case .json:
            struct Summary: Encodable { var store: String; var intact: Bool; var check: LayoutCheck }
            let summary = Summary(store: path, intact: check.isIntact, check: check)
            print(try CanonicalJSON.pretty(summary))
        case .text:
            for name in check.staleTemporaries { print("removed \(name) (left by a killed writer)") }
            for problem in check.problems { print("problem: \(problem)") }
            print("\(path): \(check.blobs) blobs (\(formatBytes(check.bytes))) hashed, \(check.entries) index entries (\(check.tags) tagged), "
                  + "\(check.unreferenced) unreferenced; " + (check.isIntact ? "intact" : "\(check.problems.count) problems"))
        }
        if !check.isIntact { throw ExitCode(1) }
    }
}
