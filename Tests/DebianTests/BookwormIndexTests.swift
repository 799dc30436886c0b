import Archive
import Foundation
import TestSupport
import Testing
import Debian

/// The real bookworm main/binary-amd64 Packages.xz, downloaded once per test run and kept in memory.
let bookwormPackagesXz: Result<[UInt8], any Error> = Result {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/Packages.xz"
    try runChecked("curl", ["-fsS", "-o", path,
                            "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz"])
    return try FileSystem.read(path, limit: 256 << 20)
}

/// One binary package's identity, as the differential test needs it.
struct IndexEntry {
    var package: String
    var version: String
    var source: String
    var sourceVersion: String
    var depends: String?
}

@Suite struct BookwormIndexTests {
    @Test func parseFullIndex() throws {
        let xz = try bookwormPackagesXz.get()
        let decompressed = try XzDecompressor(MemorySource(xz)).readAll(limit: 1 << 30)
        let dir = try TemporaryDirectory()
        let path = try dir.write("Packages", decompressed)
        let grepCount = try #require(Int(try runChecked("grep", ["-c", "^Package:", path])
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(grepCount > 50_000)

        // Streamed straight from the decompressor, and parsed from memory: the same paragraphs.
        var streamedCount = 0
        var packages: [String] = []
        var badFields: [String] = []
        let relationFields = ["Depends", "Pre-Depends", "Recommends", "Suggests", "Enhances", "Breaks",
                              "Conflicts", "Replaces", "Provides", "Built-Using", "Static-Built-Using"]
        try ControlFile.forEachParagraph(in: XzDecompressor(MemorySource(xz))) { paragraph in
            streamedCount += 1
            packages.append(paragraph["Package"] ?? "")
            // Every version and relation field of the archive must parse.
            do { _ = try DebianVersion(paragraph["Version"] ?? "") } catch { badFields.append("\(error)") }
            for field in relationFields {
                guard let value = paragraph[field] else { continue }
                do { _ = try RelationParser.parse(value) } catch { badFields.append("\(field): \(error)") }
            }
        }
        #expect(streamedCount == grepCount)
        #expect(badFields.isEmpty, "\(badFields.prefix(20))")
        let whole = try ControlFile.parse(decompressed)
        #expect(whole.count == grepCount)
        #expect(whole.map { $0["Package"] ?? "" } == packages)

        let libc6 = try #require(whole.first { $0["Package"] == "libc6" })
        #expect(libc6["Source"] == "glibc")
        #expect(libc6["Multi-Arch"] == "same")
        #expect(libc6["Architecture"] == "amd64")
        let sha = try #require(libc6["SHA256"])
        #expect(sha.count == 64 && sha.allSatisfy(\.isHexDigit))
        let version = try DebianVersion(try #require(libc6["Version"]))
        #expect(version.upstream.hasPrefix("2.36") && version.epoch == 0)
        #expect(libc6["Filename"]?.hasPrefix("pool/main/g/glibc/libc6_") == true)
        #expect(libc6["Description"]?.isEmpty == false)
        let depends = try RelationParser.parse(try #require(libc6["Depends"]))
        #expect(depends.contains { $0.contains { $0.name == "libgcc-s1" } })
        #expect(libc6.lineNumber > 1)
    }

    @Test func differentialAgainstDpkg() throws {
        _ = try requireTool("dpkg")
        let xz = try bookwormPackagesXz.get()
        var entries: [IndexEntry] = []
        try ControlFile.forEachParagraph(in: XzDecompressor(MemorySource(xz))) { p in
            guard let package = p["Package"], let version = p["Version"] else { return }
            var source = package, sourceVersion = version
            if let field = p["Source"], let name = field.split(separator: " ").first {
                let parts = field.split(separator: " ", maxSplits: 1)
                source = String(name)
                if parts.count == 2 { sourceVersion = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "() ")) }
            }
            entries.append(IndexEntry(package: package, version: version, source: source,
                                      sourceVersion: sourceVersion, depends: p["Depends"]))
        }
        let pairs = try Self.versionPairs(entries)
        #expect(pairs.count >= 3000)
        #expect(pairs.filter { $0.0.contains(":") || $0.1.contains(":") }.count >= 300)
        #expect(pairs.filter { $0.0.contains("~") || $0.1.contains("~") }.count >= 300)
        #expect(pairs.filter { $0.0.contains("+") || $0.1.contains("+") }.count >= 300)

        // One shell script, one line per pair: dpkg prints -1, 0 or 1.
        var script = ""
        for (a, b) in pairs {
            script += "dpkg --compare-versions '\(a)' lt '\(b)' && echo -1 || "
                + "{ dpkg --compare-versions '\(a)' eq '\(b)' && echo 0 || echo 1; }\n"
        }
        let dir = try TemporaryDirectory()
        let scriptPath = try dir.write("compare.sh", Array(script.utf8))
        let output = try runChecked("sh", [scriptPath])
        let results = output.split(separator: "\n").map { Int($0) }
        try #require(results.count == pairs.count)

        var mismatches: [String] = []
        for ((a, b), expected) in zip(pairs, results) {
            let va = try DebianVersion(a), vb = try DebianVersion(b)
            let ours = DebianVersion.compare(va, vb)
            if ours != expected || DebianVersion.compare(vb, va) != -ours || (va == vb) != (expected == 0)
                || (expected == 0 && va.hashValue != vb.hashValue) {
                mismatches.append("\(a) vs \(b): dpkg \(expected.map(String.init) ?? "?"), ours \(ours)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(20))")
        // All three outcomes are represented.
        #expect(Set(results.compactMap { $0 }) == [-1, 0, 1])
    }

    /// Deterministic version pairs from the index: versions of the same source package, dependency
    /// constraints against the target's version, epochs, tildes, plus signs, equal spellings, and a
    /// pseudo-random sample.
    static func versionPairs(_ entries: [IndexEntry]) throws -> [(String, String)] {
        var seen = Set<String>()
        var pairs: [(String, String)] = []
        func add(_ a: String, _ b: String) {
            guard a != b || pairs.count % 50 == 0 else { return }
            if seen.insert(a + " " + b).inserted { pairs.append((a, b)) }
        }

        // Same source package: binary versions (binNMUs, separately versioned binaries) and the source version.
        var bySource: [String: Set<String>] = [:]
        for e in entries { bySource[e.source, default: []].formUnion([e.version, e.sourceVersion]) }
        var sameSource = 0
        for source in bySource.keys.sorted() {
            let versions = bySource[source, default: []].sorted()
            guard versions.count > 1 else { continue }
            for i in 1..<versions.count where sameSource < 1500 {
                add(versions[i - 1], versions[i])
                sameSource += 1
            }
        }

        // Dependency constraints against the version the archive has.
        var versionOf: [String: String] = [:]
        for e in entries where versionOf[e.package] == nil { versionOf[e.package] = e.version }
        var constraints = 0
        for (index, e) in entries.enumerated() where index % 3 == 0 && constraints < 1200 {
            guard let depends = e.depends else { continue }
            for group in try RelationParser.parse(depends) {
                for relation in group {
                    guard let constraint = relation.constraint, let target = versionOf[relation.name] else { continue }
                    add(target, constraint.version.description)
                    constraints += 1
                }
            }
        }

        // Epochs, tildes and plus signs, paired with neighbours in sorted order and further away.
        let all = Array(Set(entries.map(\.version))).sorted()
        for marker in [":", "~", "+"] {
            let marked = all.filter { $0.contains(marker) }
            guard marked.count > 2 else { continue }
            for i in 0..<min(marked.count, 500) {
                add(marked[i], marked[(i + 1) % marked.count])
                add(marked[(i * 7919) % marked.count], all[(i * 104_729) % all.count])
            }
        }

        // Different spellings of equal versions.
        for i in stride(from: 0, to: all.count, by: max(1, all.count / 150)) where !all[i].contains(":") {
            add(all[i], "0:" + all[i])
        }

        // A pseudo-random sample (xorshift, fixed seed).
        var state: UInt64 = 0x2545F4914F6CDD1D
        func next() -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(all.count))
        }
        for _ in 0..<1000 { add(all[next()], all[next()]) }
        return pairs
    }
}
