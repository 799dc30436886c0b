import Archive
import Debian
import Foundation
import Testing
import TestSupport

@Suite struct AptSourcesTests {
    @Test func deb822SourcesParse() throws {
        let text = """
        # comment
        Types: deb deb-src
        URIs: http://deb.debian.org/debian http://mirror.example/debian/
        Suites: bookworm bookworm-updates
        Components: main contrib
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

        Types: deb-src
        URIs: http://src.example/debian
        Suites: bookworm
        Components: main

        Enabled: no
        Types: deb
        URIs: http://disabled.example/debian
        Suites: bookworm
        Components: main

        Types: deb
        URIs: http://deb.debian.org/debian-security
        Suites: bookworm-security
        Components: main
        Architectures: amd64 arm64
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
        """
        let repositories = try AptSources.parseDeb822(text, file: "test.sources")
        #expect(repositories.map(\.uri) == ["http://deb.debian.org/debian", "http://mirror.example/debian", "http://deb.debian.org/debian-security"])
        #expect(repositories[0].suites == ["bookworm", "bookworm-updates"])
        #expect(repositories[0].components == ["main", "contrib"])
        #expect(repositories[2].architectures == ["amd64", "arm64"])
        #expect(repositories[2].keyrings == ["/usr/share/keyrings/debian-archive-keyring.gpg"])
    }

    @Test func oneLineSourcesParse() throws {
        let text = """
        deb [arch=amd64,arm64 signed-by=/etc/keys/a.gpg] http://deb.debian.org/debian bookworm main contrib # trailing
        # deb http://commented.example/debian bookworm main
        deb-src http://deb.debian.org/debian bookworm main
        deb http://deb.debian.org/debian-security bookworm-security main
        """
        let repositories = try AptSources.parseOneLine(text, file: "sources.list")
        #expect(repositories.count == 2)
        #expect(repositories[0].architectures == ["amd64", "arm64"] && repositories[0].keyrings == ["/etc/keys/a.gpg"])
        #expect(repositories[0].components == ["main", "contrib"])
        #expect(repositories[1].suites == ["bookworm-security"])
    }

    @Test func badSourcesNameTheLine() {
        #expect(throws: SourcesError.invalid(file: "x.list", line: 2, reason: "expected 'deb URI SUITE [COMPONENT...]'")) {
            try AptSources.parseOneLine("\ndeb http://only-uri", file: "x.list")
        }
        #expect(throws: SourcesError.self) {
            try AptSources.parseDeb822("Types: deb\nURIs: http://x\nSuites: bookworm\nComponents: main\nSigned-By: 6ED0E7B82643E131\n", file: "y.sources")
        }
    }
}

@Suite struct ReleaseFileTests {
    @Test func datesParseAsUTC() throws {
        #expect(try ReleaseFile.parseDate("Sat, 28 Nov 2026 14:05:12 UTC") == 1_795_874_712)
        #expect(try ReleaseFile.parseDate("Thu, 01 Jan 1970 01:00:00 +0100") == 0)
        #expect(try ReleaseFile.parseDate("Sat, 10 Jun 2023 08:54:00 UTC") == 1_686_387_240)
        #expect(throws: RepositoryError.self) { try ReleaseFile.parseDate("yesterday") }
        #expect(throws: RepositoryError.self) { try ReleaseFile.parseDate("Sat, 32 Nov 2026 14:05:12 UTC") }
    }

    @Test func releaseWithoutSHA256IsRefused() {
        let text = "Origin: Debian\nSuite: stable\nDate: Sat, 28 Nov 2026 14:05:12 UTC\nMD5Sum:\n 0123 12 main/binary-amd64/Packages\n"
        #expect(throws: RepositoryError.self) { try ReleaseFile(text: Array(text.utf8)) }
    }
}

@Suite struct LockFileTests {
    func sample() -> LockFile {
        let package = LockFile.Package(name: "libc6", version: "2.36-9+deb12u10", architecture: "amd64", source: "glibc",
                                       sourceVersion: "2.36-9+deb12u10", url: "http://deb.debian.org/debian/pool/main/g/glibc/libc6.deb",
                                       sha256: String(repeating: "a", count: 64), size: 2_800_000, suite: "bookworm")
        return LockFile(spec: .init(path: "base.yaml", sha256: String(repeating: "b", count: 64)), distribution: "bookworm",
                        releases: [.init(url: "http://deb.debian.org/debian/dists/bookworm/InRelease", suite: "bookworm",
                                         date: "2026-11-28T00:00:00Z", sha256: String(repeating: "c", count: 64), signer: "F" + String(repeating: "0", count: 39))],
                        packages: ["amd64": [package]], dropped: ["amd64": []])
    }

    @Test func roundTripsToTheSameBytes() throws {
        let dir = try TemporaryDirectory()
        let lock = sample()
        try lock.write(to: dir.path + "/base.lock.json")
        let back = try LockFile.read(dir.path + "/base.lock.json")
        #expect(back == lock)
        #expect(try back.encoded() == (try lock.encoded()))
        #expect(String(decoding: try lock.encoded(), as: UTF8.self).contains("\"url\" : \"http://deb.debian.org/debian/pool/main/g/glibc/libc6.deb\""))
    }

    @Test func staleAndInvalidLocksAreClearErrors() throws {
        let lock = sample()
        #expect(throws: LockError.stale(spec: "base.yaml", lockedSHA256: String(repeating: "b", count: 64), actualSHA256: "d")) {
            try lock.check(specSHA256: "d", specPath: "base.yaml")
        }
        let dir = try TemporaryDirectory()
        var bad = lock
        bad.packages["amd64"]?[0].sha256 = "xyz"
        try bad.write(to: dir.path + "/bad.lock.json")
        #expect(throws: LockError.self) { try LockFile.read(dir.path + "/bad.lock.json") }
        try dir.write("garbage.lock.json", Array("{".utf8))
        #expect(throws: LockError.self) { try LockFile.read(dir.path + "/garbage.lock.json") }
        #expect(LockFile.path(forSpec: "catalog/python.yaml") == "catalog/python.lock.json")
    }
}
