import Archive
import Debian
import Foundation
import Testing
import TestSupport

/// `harden lock` and `harden resolve` against the host's real mirror.
@Suite(.serialized) struct LockCLITests {
    var catalog: String {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.path + "/catalog"
    }

    @Test func lockPinsBothArchitecturesReproducibly() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let environment = ["XDG_CACHE_HOME": dir.path + "/cache", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]
        let first = try run(harden, ["lock", catalog + "/base.yaml", "--output", dir.path + "/a.lock.json"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("verified http://deb.debian.org/debian/dists/bookworm/InRelease"))
        let second = try run(harden, ["lock", catalog + "/base.yaml", "--output", dir.path + "/b.lock.json"], environment: environment)
        #expect(second.status == 0)
        let a = try FileSystem.read(dir.path + "/a.lock.json", limit: 1 << 24)
        #expect(a == (try FileSystem.read(dir.path + "/b.lock.json", limit: 1 << 24)), "two locks in a row differ")

        let lock = try LockFile.read(dir.path + "/a.lock.json")
        #expect(lock.spec.sha256 == sha256Hex(try FileSystem.read(catalog + "/base.yaml")))
        #expect(Set(lock.releases.map(\.suite)) == ["bookworm", "bookworm-updates", "bookworm-security"])
        for arch in ["amd64", "arm64"] {
            let names = Set(lock.packages[arch]?.map(\.name) ?? [])
            #expect(names.isSuperset(of: ["libc6", "libssl3", "base-files", "tzdata", "ca-certificates", "netbase"]), "\(arch)")
            #expect(!names.contains("openssl") && !names.contains("debconf"), "\(arch) has an excluded package")
            #expect(lock.packages[arch]?.allSatisfy { $0.architecture == arch || $0.architecture == "all" } == true)
            #expect(lock.dropped[arch]?.contains { $0.package == "ca-certificates" && $0.dependency.contains("openssl") } == true)
        }
    }

    @Test func resolveExplainsAndFailsWithTheChain() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let why = try run(harden, ["resolve", catalog + "/python.yaml", "--why", "libssl3"])
        #expect(why.status == 0, "\(why.stderr)")
        #expect(why.output.hasPrefix("python3.11") && why.output.contains("libssl3"))
        try dir.write("bad.yaml", Array("name: bad\ndebian: bookworm\npackages: [python3.11, no-such-package-anywhere]\n".utf8))
        let unknown = try run(harden, ["resolve", dir.path + "/bad.yaml"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown package 'no-such-package-anywhere'"))
        try dir.write("typo.yaml", Array("name: bad\ndebian: bookworm\npakages: [bash]\n".utf8))
        let typo = try run(harden, ["lock", dir.path + "/typo.yaml"])
        #expect(typo.stderr.contains("typo.yaml:3: unknown key 'pakages'"), "\(typo.stderr)")
        #expect(!FileSystem.exists(dir.path + "/typo.lock.json"))
    }
}
