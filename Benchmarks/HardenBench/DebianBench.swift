import Archive
import Debian
import Foundation

/// CPU seconds (user + system) this process has used.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Index parsing and resolution on the real bookworm main amd64 index (verified through the
/// host's apt sources), next to grep-dctrl and python-debian on the same file.
func debianBenchmark(_ options: Options) async throws {
    let client = RepositoryClient(cache: DownloadCache(root: DownloadCache.defaultLocation()))
    guard let main = try AptSources.host().first(where: { $0.suites.contains("bookworm") }) else {
        print("debian benchmark: no bookworm source in the host's apt configuration")
        return
    }
    let release = try await client.release(of: main, suite: "bookworm")
    guard let entry = release.release.files["main/binary-amd64/Packages.xz"] else { return }
    let index = try await client.http.fetchVerified("\(main.uri)/dists/bookworm/main/binary-amd64/Packages.xz",
                                                    sha256: entry.sha256, size: entry.size, cache: client.cache)
    var stanzas = 0
    var packages: [BinaryPackage] = []
    var bestWall = Double.infinity, bestCPU = Double.infinity
    for _ in 0..<options.runs {
        let (wall0, cpu0) = (now(), cpuSeconds())
        packages = try RepositoryClient.parseIndex(file: index, compression: .xz, repositoryURI: main.uri, suite: "bookworm")
        bestWall = min(bestWall, now() - wall0)
        bestCPU = min(bestCPU, cpuSeconds() - cpu0)
        stanzas = packages.count
    }
    // Decompression alone, to see what parsing adds.
    let xzOnly = try best(options.runs) { try XzDecompressor(try FileSource(path: index)).pump(into: CountingSink()) }
    print("Debian index: bookworm main amd64 Packages.xz, \(entry.size / 1024) KiB -> \(stanzas) stanzas, best of \(options.runs)")
    print(String(format: "  xz decompress only:                %6.3f s", xzOnly))
    print(String(format: "  decompress + parse (wall):         %6.3f s  (%.0f stanzas/s)", bestWall, Double(stanzas) / bestWall))
    print(String(format: "  decompress + parse (CPU):          %6.3f s  (target < 1 s)", bestCPU))

    let plain = NSTemporaryDirectory() + "/harden-bench-Packages"
    try shell("xz -dc \(index) > \(plain)")
    defer { try? FileSystem.remove(plain) }
    let fromFile = try best(options.runs) {
        _ = try RepositoryClient.parseIndex(file: plain, compression: .none, repositoryURI: main.uri, suite: "bookworm")
    }
    let grepDctrl = try best(options.runs) { try shell("grep-dctrl -n -s Package -r -FPackage . \(plain) > /dev/null") }
    let python = try best(1) {
        try shell("/usr/bin/python3 -c \"from debian import deb822\nn=0\nfor p in deb822.Packages.iter_paragraphs(open('\(plain)'), use_apt_pkg=False): n+=1\" ")
    }
    print("")
    print("what (uncompressed index)                 harden st/s   other st/s    ratio")
    printRow("parse Packages (vs grep-dctrl)", ours: Double(stanzas) / fromFile, theirs: Double(stanzas) / grepDctrl)
    printRow("parse Packages (vs python-debian)", ours: Double(stanzas) / fromFile, theirs: Double(stanzas) / python)

    // Resolution: about a hundred packages (a JRE, Python and their libraries).
    let universe = PackageUniverse(packages: packages.filter { $0.architecture == "amd64" || $0.architecture == "all" })
    let resolver = Resolver(universe: universe, architecture: "amd64")
    let requests = ["openjdk-17-jre-headless", "python3.11", "ca-certificates", "tzdata", "libstdc++6", "curl", "git"].map { PackageRequest(name: $0) }
    var closure = 0
    let resolve = try best(max(options.runs, 10)) { closure = try resolver.resolve(requests).packages.count }
    print("")
    print(String(format: "Resolve %d-package closure (bookworm main): %.1f ms (target < 50 ms)", closure, resolve * 1000))
}
