import Archive
import Debian
import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct LocalRepositoryTests {
    static let packages: [SignedTestRepository.Pkg] = [
        .init(name: "app", fields: ["Depends": "libfoo (>= 1.0), mail-transport-agent | exim4, libc6"]),
        .init(name: "libfoo", version: "1.2-1", fields: ["Pre-Depends": "libc6", "Source": "foo (1.2-0.1)"]),
        .init(name: "libc6", version: "2.36-9"),
        .init(name: "tinymta", fields: ["Provides": "mail-transport-agent", "Priority": "optional"]),
        .init(name: "exim4"),
        .init(name: "docs", fields: ["Architecture": "all", "Depends": "app"]),
        .init(name: "broken", fields: ["Depends": "app, missing-thing (>= 2)"]),
        .init(name: "greedy", fields: ["Depends": "libfoo (>= 9)"]),
        .init(name: "fighter", fields: ["Conflicts": "libfoo"]),
    ]

    @Test func verifiesResolvesAndFetchesFromASignedRepository() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        let client = try repo.client()
        let release = try await client.release(of: repo.repository, suite: "test")
        #expect(release.release.origin == "Harden Test")
        #expect(release.signer.count == 40)
        let packages = try await client.packages(of: release, component: "main", architecture: "amd64")
        #expect(packages.count == Self.packages.count)
        let libfoo = try #require(packages.first { $0.name == "libfoo" })
        #expect(libfoo.source == "foo" && libfoo.sourceVersion.description == "1.2-0.1")

        let universe = PackageUniverse(packages: packages)
        let resolution = try Resolver(universe: universe, architecture: "amd64").resolve([try PackageRequest(parsing: "docs")])
        #expect(resolution.packages.map(\.name) == ["app", "docs", "libc6", "libfoo", "tinymta"])
        #expect(resolution.why("libc6")?.map(\.package) == ["docs", "app", "libfoo", "libc6"])

        let locked = resolution.packages.map(LockFile.Package.init)
        let fetched = try await PackageFetcher(http: HTTPFetcher(attempts: 1), cache: client.cache).fetch(locked)
        #expect(fetched.count == 5)
        for package in locked {
            let path = try #require(fetched[package.sha256])
            #expect(sha256Hex(try FileSystem.read(path, limit: 1 << 26)) == package.sha256)
        }
    }

    @Test func tamperedInReleaseIsRefused() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        let path = repo.root + "/dists/test/InRelease"
        var bytes = try FileSystem.read(path)
        let text = String(decoding: bytes, as: UTF8.self)
        // Flip one byte of the signed text ("Origin: Harden Test" -> "Origin: Iarden Test").
        let origin = try #require(text.range(of: "Origin: Harden").map { text.utf8.distance(from: text.utf8.startIndex, to: $0.upperBound) - 6 })
        bytes[origin] = UInt8(ascii: "I")
        try FileSystem.writeAtomically(path, bytes: bytes)
        let client = try repo.client()
        await #expect(throws: RepositoryError.self) { _ = try await client.release(of: repo.repository, suite: "test") }
    }

    /// A validly signed Release of another suite served in place of the one asked for is refused.
    @Test func replayedReleaseOfAnotherSuiteIsRefused() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        try FileSystem.createDirectory(repo.root + "/dists/bookworm")
        try FileSystem.writeAtomically(repo.root + "/dists/bookworm/InRelease", bytes: try FileSystem.read(repo.root + "/dists/test/InRelease"))
        var repository = repo.repository
        repository.suites = ["bookworm"]
        let client = try repo.client()
        let error = await #expect(throws: RepositoryError.self) { _ = try await client.release(of: repository, suite: "bookworm") }
        #expect(error?.description.contains("signed for suite 'test'") == true, "\(String(describing: error))")
    }

    @Test func wrongKeyringIsRefused() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        var repository = repo.repository
        repository.keyrings = [repo.otherKeyring]
        let client = try repo.client()
        let error = await #expect(throws: RepositoryError.self) { _ = try await client.release(of: repository, suite: "test") }
        if case .signature(_, let reason) = error {
            #expect(reason.contains(repo.otherKeyring))
        } else {
            Issue.record("expected a signature error, got \(String(describing: error))")
        }
    }

    @Test func expiredReleaseIsRefused() async throws {
        let repo = try SignedTestRepository(packages: Self.packages, validUntil: "Sun, 01 Jan 2023 00:00:00 UTC")
        let client = try repo.client()
        let error = await #expect(throws: RepositoryError.self) { _ = try await client.release(of: repo.repository, suite: "test") }
        if case .expired = error {} else { Issue.record("expected expiry, got \(String(describing: error))") }
    }

    @Test func indexWithWrongHashIsRefusedAndNotCached() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        let client = try repo.client()
        let release = try await client.release(of: repo.repository, suite: "test")
        let index = repo.root + "/dists/test/main/binary-amd64/Packages.xz"
        var bytes = try FileSystem.read(index, limit: 1 << 26)
        bytes[bytes.count / 2] ^= 0xff
        try FileSystem.writeAtomically(index, bytes: bytes)
        let error = await #expect(throws: RepositoryError.self) { _ = try await client.packages(of: release, component: "main", architecture: "amd64") }
        if case .hashMismatch = error {} else { Issue.record("expected a hash mismatch, got \(String(describing: error))") }
        #expect(((try? FileSystem.listDirectory(client.cache.root + "/sha256")) ?? []).isEmpty)
    }

    @Test func debWithWrongBytesIsRefusedAndNotCached() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        let client = try repo.client()
        let release = try await client.release(of: repo.repository, suite: "test")
        let packages = try await client.packages(of: release, component: "main", architecture: "amd64")
        let exim = try #require(packages.first { $0.name == "exim4" })
        try FileSystem.writeAtomically(repo.root + "/" + exim.filename, bytes: Array("not the package".utf8))
        let fetcher = PackageFetcher(http: HTTPFetcher(attempts: 1), cache: client.cache)
        await #expect(throws: RepositoryError.self) { _ = try await fetcher.fetch([LockFile.Package(exim)]) }
        #expect(client.cache.verifiedPath(sha256: exim.sha256, size: exim.size) == nil)
        #expect(!FileSystem.exists(client.cache.path(sha256: exim.sha256)))
    }

    @Test func corruptCacheEntryIsDroppedAndFetchedAgain() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        let client = try repo.client()
        let release = try await client.release(of: repo.repository, suite: "test")
        let packages = try await client.packages(of: release, component: "main", architecture: "amd64")
        let app = LockFile.Package(try #require(packages.first { $0.name == "app" }))
        let fetcher = PackageFetcher(http: HTTPFetcher(attempts: 1), cache: client.cache)
        let path = try #require(try await fetcher.fetch([app])[app.sha256])
        try FileSystem.writeAtomically(path, bytes: Array("rotten".utf8))
        #expect(client.cache.verifiedPath(sha256: app.sha256, size: app.size) == nil)
        let again = try #require(try await fetcher.fetch([app])[app.sha256])
        #expect(sha256Hex(try FileSystem.read(again, limit: 1 << 26)) == app.sha256)
    }

    @Test func resolverErrorsNameTheChain() async throws {
        let repo = try SignedTestRepository(packages: Self.packages)
        let client = try repo.client()
        let release = try await client.release(of: repo.repository, suite: "test")
        let resolver = Resolver(universe: PackageUniverse(packages: try await client.packages(of: release, component: "main", architecture: "amd64")),
                                architecture: "amd64")
        #expect(throws: ResolverError.unknownPackage(name: "nonexistent", chain: [])) {
            try resolver.resolve([PackageRequest(name: "nonexistent")])
        }
        let missing = #expect(throws: ResolverError.self) { try resolver.resolve([PackageRequest(name: "broken")]) }
        #expect(missing?.description.contains("missing-thing (>= 2)") == true)
        #expect(missing?.description.contains("broken") == true)
        let pin = #expect(throws: ResolverError.self) { try resolver.resolve([try PackageRequest(parsing: "libfoo=7.0")]) }
        #expect(pin?.description.contains("available: 1.2-1") == true)
        let greedy = #expect(throws: ResolverError.self) { try resolver.resolve([PackageRequest(name: "app"), PackageRequest(name: "greedy")]) }
        #expect(greedy?.description.contains("greedy") == true && greedy?.description.contains("libfoo (>= 9)") == true)
        // An exclusion that breaks a hard dependency is dropped and reported with its chain, not an error.
        let dropped = try resolver.resolve([PackageRequest(name: "docs"), PackageRequest(name: "libfoo", excluded: true)])
        #expect(dropped.dropped.map(\.chain) == [["docs", "app"]])
        #expect(dropped.dropped.first?.relation == "libfoo (>= 1.0)")
        #expect(!dropped.packages.contains { $0.name == "libfoo" })
        let conflict = #expect(throws: ResolverError.self) { try resolver.resolve([PackageRequest(name: "app"), PackageRequest(name: "fighter")]) }
        #expect(conflict?.description.contains("fighter") == true && conflict?.description.contains("libfoo") == true)
        // With the provider excluded, the next alternative (exim4) is taken.
        let noMTA = try resolver.resolve([PackageRequest(name: "app"), PackageRequest(name: "tinymta", excluded: true)])
        #expect(noMTA.packages.map(\.name) == ["app", "exim4", "libc6", "libfoo"])
    }
}
