import Archive
import ArgumentParser
import Debian
import Foundation
import ImageBuild

/// A failure to report in one line, without the usage text ArgumentParser adds to ValidationError.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Progress lines on standard error, so standard output stays machine-readable.
func note(_ message: String) {
    FileHandle.standardError.write(Data(("  " + message + "\n").utf8))
}

struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve a spec's packages and pin them in <spec>.lock.json.",
        discussion: """
        Verifies the signed Release files of the spec's repositories (the host's apt sources
        unless the spec lists its own), resolves the closure of the requested packages for each
        architecture, and records every package's URL, size and SHA-256 along with the Release
        files used and the spec's digest. A build with the lock installs exactly those packages.

        Example:
          harden lock catalog/base.yaml          # writes catalog/base.lock.json
        """
    )

    @Argument(help: "The image spec (YAML).")
    var spec: String

    @Option(name: .shortAndLong, help: "Where to write the lock (default: next to the spec, .lock.json).")
    var output: String?

    func run() async throws {
        let bytes = try FileSystem.read(spec, limit: 4 << 20)
        let parsed = try ImageSpec(yaml: String(decoding: bytes, as: UTF8.self), file: spec)
        let lock = try await PackageLocker().lock(parsed, specPath: spec, specBytes: bytes, progress: note)
        let path = output ?? LockFile.path(forSpec: spec)
        try lock.write(to: path)
        for (arch, packages) in lock.packages.sorted(by: { $0.key < $1.key }) {
            let size = packages.reduce(Int64(0)) { $0 + $1.size }
            print("\(arch): \(packages.count) packages, \(size) bytes of .debs")
        }
        print("wrote \(path)")
    }
}

struct Resolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Print the package closure of a spec, or why a package is in it.",
        discussion: """
        Resolution follows Depends and Pre-Depends (not Recommends or Suggests) as apt does with
        --no-install-recommends, without adding Essential packages. '!name' in the spec excludes a
        package: dependencies on it are dropped and reported.

        Examples:
          harden resolve catalog/python.yaml --arch arm64
          harden resolve catalog/python.yaml --why libssl3
        """
    )

    @Argument(help: "The image spec (YAML).")
    var spec: String

    @Option(help: "Architecture to resolve for (default: the spec's first).")
    var arch: String?

    @Option(help: "Show the chain of dependencies that pulled in this package.")
    var why: String?

    func run() async throws {
        let parsed = try ImageSpec(contentsOf: spec)
        let architecture = arch ?? parsed.archs[0]
        let (resolution, _) = try await PackageLocker().resolve(parsed, architecture: architecture, progress: note)
        if let why {
            guard let chain = resolution.why(why) else {
                throw CLIError("\(why) is not in the closure of \(spec) for \(architecture)")
            }
            for (depth, step) in chain.enumerated() {
                let indent = String(repeating: "  ", count: depth)
                print(indent + step.package + (step.relation.map { "  (depends on: \($0))" } ?? ""))
            }
            return
        }
        for package in resolution.packages {
            print("\(package.name) \(package.version) \(package.architecture) \(package.suite)")
        }
        for drop in resolution.dropped { print("dropped: \(drop)") }
        let size = resolution.packages.reduce(Int64(0)) { $0 + $1.size }
        print("\(resolution.packages.count) packages, \(size) bytes of .debs (\(architecture))")
    }
}
