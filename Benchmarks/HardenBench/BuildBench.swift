import Archive
import Foundation

/// Warm `harden build` (lock present, .debs cached) of the minimal base and python images for
/// amd64 and arm64, next to mmdebstrap --variant=extract + umoci for the same packages.
func buildBenchmark(_ options: Options) throws {
    guard let harden = releaseHarden(for: "build") else { return }
    let catalog = FileManager.default.currentDirectoryPath + "/catalog"
    let work = try FileSystem.makeTemporaryDirectory(prefix: "harden-buildbench")
    defer { try? FileSystem.remove(work) }
    let sources = ["deb http://deb.debian.org/debian bookworm main", "deb http://deb.debian.org/debian bookworm-updates main",
                   "deb http://deb.debian.org/debian-security bookworm-security main"].map { "'\($0)'" }.joined(separator: " ")
    print("Warm builds of minimal images, both architectures (amd64 + arm64), best of \(options.runs)")
    print("")
    print("image      harden build     mmdebstrap+umoci   ratio   packages")
    for name in ["base", "python"] {
        let spec = work + "/\(name).yaml"
        try FileSystem.writeAtomically(spec, bytes: try FileSystem.read(catalog + "/\(name).yaml"))
        try shell("\(harden) lock \(spec) > /dev/null 2>&1")
        let build = "\(harden) build \(spec) --variant minimal --output oci:\(work)/out-\(name) > /dev/null 2>&1"
        try shell(build) // warm the cache
        let ours = try best(options.runs) { try shell(build) }
        // The same package list, per architecture, through mmdebstrap (no maintainer scripts: extract) and umoci.
        let lock = try JSONSerialization.jsonObject(with: Data(try FileSystem.read(lockPath(spec)))) as? [String: Any]
        let packages = lock?["packages"] as? [String: [[String: Any]]] ?? [:]
        let theirs = try best(options.runs) {
            for arch in ["amd64", "arm64"] {
                let names = (packages[arch] ?? []).compactMap { $0["name"] as? String }.joined(separator: ",")
                let tar = "\(work)/\(name)-\(arch).tar", layout = "\(work)/umoci-\(name)-\(arch)"
                try shell("rm -rf \(layout) && mmdebstrap --quiet --variant=extract --architectures=\(arch) --include=\(names) bookworm \(tar) \(sources) > /dev/null 2>&1"
                          + " && umoci init --layout \(layout) && umoci new --image \(layout):t && umoci raw add-layer --image \(layout):t \(tar)")
            }
        }
        let count = (packages["amd64"] ?? []).count
        print(name.padding(toLength: 11, withPad: " ", startingAt: 0)
              + String(format: "%8.2f s        %8.2f s        %5.1fx   %d", ours, theirs, theirs / ours, count))
    }
}

private func lockPath(_ spec: String) -> String { String(spec.dropLast(5)) + ".lock.json" }
