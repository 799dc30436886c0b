import Archive
import ArgumentParser
import Foundation
import OCI

struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Package a directory tree as a reproducible single-layer image.",
        discussion: """
        Every file is stored with its mode bits (setuid included), extended attributes and link
        targets, owned by --owner (default 0:0), with mtimes clamped to the epoch. The same tree
        and options always give the same digest. The epoch is --epoch, else SOURCE_DATE_EPOCH, else 0.

        Example:
          harden pack ./rootfs --output oci:out:static --user 65532 --entrypoint /usr/bin/app
        """
    )

    @Argument(help: "The directory whose contents become the image's root.")
    var directory: String

    @Option(name: .shortAndLong, help: "Where to write the image: oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME:TAG].")
    var output: String

    @Option(help: "CPU architecture of the contents (amd64, arm64, ...).")
    var arch: String = Platform.hostArchitecture

    @Option(help: "User (name or uid[:gid]) the container runs as.")
    var user: String?

    @Option(parsing: .upToNextOption, help: "Entrypoint command and arguments.")
    var entrypoint: [String] = []

    @Option(parsing: .upToNextOption, help: "Default arguments (Cmd).")
    var cmd: [String] = []

    @Option(help: "Environment variable KEY=VALUE (repeatable); PATH has a default.")
    var env: [String] = []

    @Option(help: "Working directory.")
    var workdir: String?

    @Option(help: "Label KEY=VALUE (repeatable).")
    var label: [String] = []

    @Option(help: "Owner uid:gid recorded for every file.")
    var owner: String = "0:0"

    @Option(help: "Seconds since 1970 for 'created' and the mtime clamp.")
    var epoch: Int64?

    @Option(help: "Layer compression: gzip, zstd or none.")
    var compression: Compression = .gzip

    func validate() throws {
        guard FileSystem.isDirectory(directory) else { throw ValidationError("'\(directory)' is not a directory") }
        for item in env + label where !item.contains("=") { throw ValidationError("'\(item)' is not KEY=VALUE") }
        guard parseOwner() != nil else { throw ValidationError("--owner must be uid:gid, e.g. 0:0") }
        if compression == .xz { throw ValidationError("xz layers are not supported: use gzip, zstd or none") }
    }

    private func parseOwner() -> (Int, Int)? {
        let parts = owner.split(separator: ":").compactMap { Int($0) }
        return parts.count == 2 && parts.allSatisfy({ $0 >= 0 }) ? (parts[0], parts[1]) : nil
    }

    func run() throws {
        let destination = try ImageReference(parsing: output)
        var image = DirectoryImage(root: directory, architecture: arch, epoch: try resolvedEpoch())
        image.user = user
        image.entrypoint = entrypoint.isEmpty ? nil : entrypoint
        image.cmd = cmd.isEmpty ? nil : cmd
        image.env += env
        image.workingDir = workdir
        image.labels = label.isEmpty ? nil : Dictionary(label.map(splitPair), uniquingKeysWith: { $1 })
        image.compression = compression
        image.owner = parseOwner() ?? (0, 0)

        let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-pack")
        defer { try? FileSystem.remove(scratch) }
        let staging = try ImageLayout.create(at: scratch + "/layout")
        let manifest = try image.write(into: staging)
        try LocalImages.store(manifest, from: staging, to: destination)
        print("\(manifest.digest)  \(destination)")
    }

    private func resolvedEpoch() throws -> Int64 {
        if let epoch { return epoch }
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return 0 }
        guard let value = Int64(text), value >= 0 else { throw ValidationError("SOURCE_DATE_EPOCH '\(text)' is not a number of seconds") }
        return value
    }
}

func splitPair(_ text: String) -> (String, String) {
    let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
}

extension Compression: ExpressibleByArgument {}
