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
    // The same input for both: the docker-archive of the amd64 image. The two run in turns, so
    // a busy machine slows both alike; medians are compared (trivy alone varies by 2x here).
    var ours: [Double] = []
    var theirs: [Double] = []
    for _ in 0..<options.runs {
        var start = now()
        try shell("\(harden) sbom docker-archive:\(work)/python.tar --format spdx-json --output \(work)/ours.spdx.json 2>/dev/null")
        ours.append(now() - start)
        start = now()
        try shell("rm -rf \(trivyCache) && trivy image --quiet --cache-dir \(trivyCache) --format spdx-json --input \(work)/python.tar --output \(work)/trivy.spdx.json")
        theirs.append(now() - start)
    }
    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
    print("SBOM of the python image (amd64 docker-archive), SPDX JSON, \(options.runs) runs each in turns, cold trivy cache")
    print(String(format: "  harden sbom: median %.3f s (best %.3f)   trivy image: median %.3f s (best %.3f)   ratio of medians %.1fx (target >= 5x)",
                 median(ours), ours.min() ?? 0, median(theirs), theirs.min() ?? 0, median(theirs) / median(ours)))
}
