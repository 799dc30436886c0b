import Archive
import Foundation

/// `harden sbom` on the python image next to `trivy image --format spdx-json` on the same archive.
func sbomBenchmark(_ options: Options) throws {
    guard let harden = releaseHarden(for: "sbom") else { return }
    let work = try FileSystem.makeTemporaryDirectory(prefix: "harden-sbombench")
    defer { try? FileSystem.remove(work) }
    let spec = work + "/python.yaml"
    try FileSystem.writeAtomically(spec, bytes: try FileSystem.read(FileManager.default.currentDirectoryPath + "/catalog/python.yaml"))
    try shell("\(harden) build \(spec) --variant minimal --output oci:\(work)/layout > /dev/null 2>&1")
    try shell("\(harden) copy oci:\(work)/layout:latest oci-archive:\(work)/python.oci.tar:latest > /dev/null 2>&1")
    try shell("\(harden) copy --platform linux/amd64 oci:\(work)/layout:latest docker-archive:\(work)/python.tar:python:latest > /dev/null 2>&1")
    let trivyCache = work + "/trivy-cache"
    // The same input for both: the docker-archive of the amd64 image.
    let ours = try best(options.runs) {
        try shell("\(harden) sbom docker-archive:\(work)/python.tar --format spdx-json --output \(work)/ours.spdx.json 2>/dev/null")
    }
    let theirs = try best(options.runs) {
        try shell("rm -rf \(trivyCache) && trivy image --quiet --cache-dir \(trivyCache) --format spdx-json --input \(work)/python.tar --output \(work)/trivy.spdx.json")
    }
    print("SBOM of the python image (amd64 docker-archive), SPDX JSON, best of \(options.runs), cold trivy cache")
    print(String(format: "  harden sbom: %.2f s   trivy image: %.2f s   ratio %.1fx (target >= 5x)", ours, theirs, theirs / ours))
}
