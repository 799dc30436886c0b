import Archive
import Debian
import Foundation
import Testing
import TestSupport

/// One shared cache for the tests against the host's real mirror, so indexes download once per run.
let mirrorCache = DownloadCache(root: (ProcessInfo.processInfo.environment["HARDEN_TEST_CACHE"]
    ?? FileManager.default.temporaryDirectory.path + "/harden-test-mirror-cache"))

/// Resolves with apt itself, in isolated state (empty dpkg status, private lists), as the
/// reference: `apt-get -s --no-install-recommends install`, on the host's own sources.
actor AptReference {
    static let shared = AptReference()
    private var prepared: String?

    private func options(_ dir: String) -> [String] {
        ["-o", "Dir::State::Lists=\(dir)/lists", "-o", "Dir::State::status=\(dir)/status",
         "-o", "Dir::Cache=\(dir)/cache", "-o", "Debug::NoLocking=1", "-o", "APT::Architecture=amd64"]
    }

    private func prepare() throws -> String {
        if let prepared { return prepared }
        let dir = try FileSystem.makeTemporaryDirectory(prefix: "harden-apt")
        for sub in ["lists/partial", "cache/archives/partial"] { try FileSystem.createDirectory(dir + "/" + sub) }
        try FileSystem.writeAtomically(dir + "/status", bytes: [UInt8]())
        try runChecked("apt-get", options(dir) + ["-q", "update"])
        prepared = dir
        return dir
    }

    /// name -> version that apt would install for `requests`.
    func closure(_ requests: [String]) throws -> [String: String] {
        let dir = try prepare()
        let output = try runChecked("apt-get", options(dir) + ["-s", "--no-install-recommends", "install"] + requests)
        var result: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("Inst ") {
            let parts = line.split(separator: " ")
            guard parts.count >= 3 else { continue }
            result[String(parts[1])] = String(parts[2].dropFirst())
        }
        return result
    }
}

/// The universe for the host's sources, loaded once per architecture.
actor HostUniverse {
    static let shared = HostUniverse()
    private var loaded: [String: (PackageUniverse, [VerifiedRelease])] = [:]

    func get(_ architecture: String) async throws -> (PackageUniverse, [VerifiedRelease]) {
        if let cached = loaded[architecture] { return cached }
        let client = RepositoryClient(cache: mirrorCache)
        let result = try await client.universe(repositories: try AptSources.host(), distribution: "bookworm", architecture: architecture)
        loaded[architecture] = result
        return result
    }
}

@Suite(.serialized) struct MirrorTests {
    @Test func hostSourcesNameTheDebianMirrorWithItsKeyring() throws {
        let repositories = try AptSources.host()
        let suites = repositories.flatMap(\.suites)
        #expect(suites.contains("bookworm") && suites.contains("bookworm-updates") && suites.contains("bookworm-security"))
        #expect(repositories.allSatisfy { !$0.keyrings.isEmpty && $0.keyrings.allSatisfy(FileSystem.exists) })
    }

    @Test(arguments: ["amd64", "arm64"])
    func bookwormSuitesVerifyAndParse(architecture: String) async throws {
        let (universe, releases) = try await HostUniverse.shared.get(architecture)
        #expect(Set(releases.map(\.suite)) == ["bookworm", "bookworm-updates", "bookworm-security"])
        for release in releases {
            #expect(release.signer.count == 40, "\(release.url)")
            #expect(release.sha256.count == 64)
        }
        #expect(universe.count > 50_000)
        let libc = try #require(universe.byName["libc6"]?.first)
        #expect(libc.source == "glibc" && libc.architecture == architecture)
        #expect(universe.byName["ca-certificates"]?.first?.architecture == "all")
    }

    /// The packages the issue names, each resolved alone and all together, against apt.
    @Test(arguments: [
        ["python3.11-minimal"], ["libssl3"], ["ca-certificates"], ["tzdata"], ["libstdc++6"],
        ["openjdk-17-jre-headless"],
        ["python3.11-minimal", "libssl3", "ca-certificates", "tzdata", "libstdc++6", "openjdk-17-jre-headless"],
    ])
    func closureMatchesApt(requests: [String]) async throws {
        let (universe, _) = try await HostUniverse.shared.get("amd64")
        let ours = try Resolver(universe: universe, architecture: "amd64").resolve(requests.map { PackageRequest(name: $0) })
        let apt = try await AptReference.shared.closure(requests)
        let ourVersions = Dictionary(uniqueKeysWithValues: ours.packages.map { ($0.name, $0.version.description) })
        // No difference is allowed: same names, same versions.
        #expect(Set(ourVersions.keys).subtracting(apt.keys).sorted() == [], "only in Harden's closure")
        #expect(Set(apt.keys).subtracting(ourVersions.keys).sorted() == [], "only in apt's closure")
        for (name, version) in apt where ourVersions[name] != nil {
            #expect(ourVersions[name] == version, "\(name)")
        }
    }

    @Test func resolvingTakesTheNewestAcrossSuites() async throws {
        let (universe, _) = try await HostUniverse.shared.get("amd64")
        let resolution = try Resolver(universe: universe, architecture: "amd64").resolve([PackageRequest(name: "libssl3")])
        let libssl = try #require(resolution.packages.first { $0.name == "libssl3" })
        let all = try #require(universe.byName["libssl3"])
        #expect(all.allSatisfy { DebianVersion.compare($0.version, libssl.version) <= 0 })
        #expect(all.count >= 2, "libssl3 should be in bookworm and in bookworm-security")
    }
}
