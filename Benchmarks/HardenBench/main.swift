// Throughput of Harden's codecs and hashing next to the C tools, on the same ~100 MB tar.
//
// Usage: HardenBench [--only codecs|debian|build|sbom|signing|registry|vulnerability] [--size MB] [--runs N] [--keep DIR]
// Prints MB/s for each and the ratio ours/theirs (above 1.0 means Harden is faster).
// The debian part times Packages index parsing and dependency resolution (DebianBench.swift).
import Archive
import ContainerRuntime
import Dispatch
import Foundation

struct Options {
    var sizeMB = 100
    var runs = 3
    var workDir: String?
    var only: String?

    init(_ arguments: [String]) {
        var i = 1
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--size": sizeMB = Int(value) ?? sizeMB; i += 1
            case "--runs": runs = Int(value) ?? runs; i += 1
            case "--keep": workDir = value; i += 1
            case "--only": only = value; i += 1
            default: break
            }
            i += 1
        }
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Best of `runs` wall-clock timings.
func best(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var fastest = Double.infinity
    for _ in 0..<runs {
        let start = now()
        try body()
        fastest = min(fastest, now() - start)
    }
    return fastest
}

/// Runs `command` with /bin/sh and waits for it, through `HostProcess` (posix_spawn, and a
/// clean signal state: a child inheriting this process's blocked signals would be slowed, Go
/// programs such as trivy most). Foundation's Process adds tens of milliseconds of its own,
/// which would blur short timings.
func shell(_ command: String) throws {
    let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    let pid = try HostProcess.spawn("/bin/sh", ["-c", command], stdout: 1, stderr: 2, environment: environment)
    let outcome = HostProcess.wait(pid, until: nil)
    if outcome != .exited(0) { throw ArchiveError.codec("'\(command)' ended \(outcome)") }
}

/// A tar of real files from /usr (binaries, libraries, text), in canonical order, about `size` bytes.
func makeCorpus(at path: String, size: Int) throws {
    var files: [String] = []
    for top in ["/usr/lib/x86_64-linux-gnu", "/usr/share", "/usr/bin"] {
        guard let walker = FileManager.default.enumerator(atPath: top) else { continue }
        while let name = walker.nextObject() as? String { files.append(top + "/" + name) }
    }
    files.sort()
    try FileSystem.writeAtomically(path) { sink in
        let tar = TarWriter(sink)
        var total = 0
        for file in files where total < size {
            var st = stat()
            guard lstat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0, total + Int(st.st_size) <= size,
                  let source = try? FileSource(path: file) else { continue }
            try tar.append(.file(String(file.dropFirst()), size: Int64(st.st_size), mode: UInt32(st.st_mode) & 0o7777), contents: source)
            total += Int(st.st_size) + 512
        }
        try tar.finish()
    }
}

func ours(_ input: String, _ make: (ByteSink) throws -> ByteSink) throws {
    let sink = try make(CountingSink())
    try FileSource(path: input).pump(into: sink)
    try sink.finish()
}

func oursDecompress(_ input: String, _ format: Compression) throws {
    try format.decompressing(try FileSource(path: input)).pump(into: CountingSink())
}

/// Runs `body` on `count` threads at once.
func concurrently(_ count: Int, _ body: @escaping @Sendable () throws -> Void) throws {
    let failures = ManagedFailure()
    DispatchQueue.concurrentPerform(iterations: count) { _ in
        do { try body() } catch { failures.record(error) }
    }
    if let error = failures.first { throw error }
}

final class ManagedFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func record(_ error: Error) { lock.lock(); errors.append(error); lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return errors.first }
}

func codecBenchmark(_ options: Options) throws {
    let work = try options.workDir ?? FileSystem.makeTemporaryDirectory(prefix: "harden-bench")
    try FileSystem.createDirectory(work)
    defer { if options.workDir == nil { try? FileSystem.remove(work) } }
    let corpus = work + "/corpus.tar"
    if !FileSystem.exists(corpus) { try makeCorpus(at: corpus, size: options.sizeMB << 20) }
    let bytes = Double(try FileSource(path: corpus).size())
    let mb = bytes / 1_048_576
    try shell("gzip -6 -c \(corpus) > \(corpus).gz && zstd -q -3 -T1 -c \(corpus) > \(corpus).zst")

    print("Harden codec benchmark: \(String(format: "%.1f", mb)) MiB tar of /usr files, best of \(options.runs), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("")
    print("what                                      harden MB/s   C tool MB/s   ratio")

    func row(_ name: String, ours: Double, theirs: Double, volume: Double = mb) {
        printRow(name, ours: volume / ours, theirs: volume / theirs)
    }

    let runs = options.runs
    row("sha256 (vs sha256sum)",
        ours: try best(runs) { try ours(corpus) { HashingSink($0) } },
        theirs: try best(runs) { try shell("sha256sum \(corpus) > /dev/null") })
    row("gzip -6 compress (vs gzip -6)",
        ours: try best(runs) { try ours(corpus) { try GzipCompressor($0, level: 6) } },
        theirs: try best(runs) { try shell("gzip -6 -c \(corpus) > /dev/null") })
    row("zstd -3 compress (vs zstd -3 -T1)",
        ours: try best(runs) { try ours(corpus) { try ZstdCompressor($0, level: 3) } },
        theirs: try best(runs) { try shell("zstd -q -3 -T1 -c \(corpus) > /dev/null") })
    row("gzip decompress (vs gzip -d)",
        ours: try best(runs) { try oursDecompress(corpus + ".gz", .gzip) },
        theirs: try best(runs) { try shell("gzip -d -c \(corpus).gz > /dev/null") })
    row("zstd decompress (vs zstd -d)",
        ours: try best(runs) { try oursDecompress(corpus + ".zst", .zstd) },
        theirs: try best(runs) { try shell("zstd -q -d -c \(corpus).zst > /dev/null") })
    row("gzip+sha256 layer (vs gzip|sha256sum)",
        ours: try best(runs) { try ours(corpus) { HashingSink(try GzipCompressor(HashingSink($0))) } },
        theirs: try best(runs) { try shell("sha256sum \(corpus) >/dev/null; gzip -6 -c \(corpus) | sha256sum > /dev/null") })

    print("")
    print("Two layers at once (both cores) vs the C tool on the same two layers, one after the other")
    let cores = 2
    row("2x gzip -6 (vs 2x gzip, sequential)",
        ours: try best(runs) { try concurrently(cores) { try ours(corpus) { try GzipCompressor($0, level: 6) } } },
        theirs: try best(runs) { try shell("gzip -6 -c \(corpus) > /dev/null; gzip -6 -c \(corpus) > /dev/null") },
        volume: mb * 2)
    row("2x zstd -3 (vs 2x zstd -T1, sequential)",
        ours: try best(runs) { try concurrently(cores) { try ours(corpus) { try ZstdCompressor($0, level: 3) } } },
        theirs: try best(runs) { try shell("zstd -q -3 -T1 -c \(corpus) > /dev/null; zstd -q -3 -T1 -c \(corpus) > /dev/null") },
        volume: mb * 2)
    row("2x gzip -6 (vs 2 gzip processes at once)",
        ours: try best(runs) { try concurrently(cores) { try ours(corpus) { try GzipCompressor($0, level: 6) } } },
        theirs: try best(runs) { try shell("gzip -6 -c \(corpus) > /dev/null & gzip -6 -c \(corpus) > /dev/null; wait") },
        volume: mb * 2)
}

/// The release `harden` built next to this benchmark, or nil (after saying how to build it).
func releaseHarden(for benchmark: String) -> String? {
    let harden = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/harden"
    guard FileManager.default.isExecutableFile(atPath: harden) else {
        print("\(benchmark) benchmark: \(harden) is missing: run 'make release' first")
        return nil
    }
    return harden
}

/// One result line: our rate, theirs, and the ratio.
func printRow(_ name: String, ours: Double, theirs: Double) {
    print(name.padding(toLength: 42, withPad: " ", startingAt: 0)
          + String(format: "%10.1f    %10.1f    %5.2f", ours, theirs, ours / theirs))
}

let options = Options(CommandLine.arguments)
if options.only == nil || options.only == "codecs" { try codecBenchmark(options) }
if options.only == nil || options.only == "debian" {
    if options.only == nil { print("") }
    try await debianBenchmark(options)
}
if options.only == nil || options.only == "build" {
    if options.only == nil { print("") }
    try buildBenchmark(options)
}
if options.only == nil || options.only == "sbom" {
    if options.only == nil { print("") }
    try sbomBenchmark(options)
}
if options.only == nil || options.only == "signing" {
    if options.only == nil { print("") }
    try signingBenchmark(options)
}
if options.only == nil || options.only == "registry" {
    if options.only == nil { print("") }
    try registryBenchmark(options)
}
if options.only == nil || options.only == "vulnerability" {
    if options.only == nil { print("") }
    try vulnerabilityBenchmark(options)
}
