import Archive
import Foundation
import OCI
import TestSupport

/// Pushing a ~100 MB image of four gzip layers to Debian's docker-registry on loopback: the
/// release `harden push` against `skopeo copy` (both from the same OCI layout, each run into a
/// fresh repository so every blob goes up), then a re-push of the same image (nothing to send).
func registryBenchmark(_ options: Options) throws {
    guard let harden = releaseHarden(for: "registry") else { return }
    let work = try FileSystem.makeTemporaryDirectory(prefix: "harden-regbench")
    defer { try? FileSystem.remove(work) }
    let layout = try ImageLayout.create(at: work + "/layout")
    let layerSize = max(1, options.sizeMB) * (1 << 20) / 4
    var layers: [StoredLayer] = []
    for i in 0..<4 {
        let bytes = pseudoRandomBytes(count: layerSize, seed: UInt64(i + 11))
        layers.append(try layout.writeLayer(compression: .gzip) { try $0.append(.file("data/\(i).bin", size: Int64(bytes.count)), bytes: bytes) })
    }
    let manifest = try layout.writeImage(config: ImageConfiguration(architecture: "amd64", rootfs: .init(diffIDs: [])), layers: layers)
    try layout.tag(manifest, as: "v1")
    let total = layers.reduce(Int64(0)) { $0 + $1.descriptor.size }
    print("Push of a \(formatBytes(total)) image (4 gzip layers) to docker-registry on loopback, best of \(options.runs)")
    print("(each first push goes to a registry of its own, so neither tool can mount or skip a blob)")
    print("")
    /// The best time of `runs` pushes, each to a fresh registry that `prepare` may fill first.
    func timed(_ command: (String) -> String, prepare: ((String) throws -> Void)? = nil) throws -> Double {
        var fastest = Double.infinity
        for _ in 0..<options.runs {
            let registry = try TestRegistry()
            try prepare?(registry.host)
            let start = Date()
            try shell(command(registry.host))
            fastest = min(fastest, Date().timeIntervalSince(start))
        }
        return fastest
    }
    let ours = { (host: String) in "\(harden) push oci:\(work)/layout:v1 \(host)/bench/app:v1 > /dev/null 2>&1" }
    let theirs = { (host: String) in "skopeo copy --quiet --dest-tls-verify=false oci:\(work)/layout:v1 docker://\(host)/bench/app:v1 > /dev/null" }
    let first = try timed(ours)
    let skopeoFirst = try timed(theirs)
    let again = try timed(ours, prepare: { try shell(ours($0)) })
    let skopeoAgain = try timed(theirs, prepare: { try shell(theirs($0)) })
    print("                       harden      skopeo copy   ratio (skopeo / harden)")
    print(String(format: "first push           %7.2f s    %7.2f s      %5.2fx", first, skopeoFirst, skopeoFirst / first))
    print(String(format: "re-push (no blobs)   %7.2f s    %7.2f s      %5.2fx", again, skopeoAgain, skopeoAgain / again))
    print(String(format: "\nharden first push: %.0f MB/s; skopeo: %.0f MB/s", Double(total) / 1e6 / first, Double(total) / 1e6 / skopeoFirst))
}
