import Archive
import Crypto
import Foundation
import OpenPGP

/// A Release file whose signature and freshness have been checked.
public struct VerifiedRelease: Sendable {
    public var repository: AptRepository
    public var suite: String
    public var release: ReleaseFile
    /// URL of the InRelease (or Release) file that was verified.
    public var url: String
    /// SHA-256 of the exact bytes downloaded.
    public var sha256: String
    /// Fingerprint of the primary key whose signature verified.
    public var signer: String
}

/// Reads signed Debian repositories: InRelease (or Release + Release.gpg) verified with the
/// repository's keyrings, then each index verified by the SHA256 and size the Release lists.
public struct RepositoryClient: Sendable {
    public var http: HTTPFetcher
    public var cache: DownloadCache
    /// The time against which `Valid-Until` and key expiry are checked.
    public var now: Int64

    public init(http: HTTPFetcher = HTTPFetcher(), cache: DownloadCache = DownloadCache(root: DownloadCache.defaultLocation()),
                now: Int64 = Int64(Date().timeIntervalSince1970)) {
        self.http = http
        self.cache = cache
        self.now = now
    }

    /// Downloads and verifies `dists/<suite>/InRelease` (falling back to Release + Release.gpg).
    public func release(of repository: AptRepository, suite: String) async throws -> VerifiedRelease {
        let keyring = try loadKeyring(repository.keyrings)
        let base = "\(repository.uri)/dists/\(suite)"
        let keyrings = repository.keyrings.joined(separator: ", ")
        var url = base + "/InRelease"
        let fetched: (content: [UInt8], verification: SignatureVerification, sha: String)
        do {
            let bytes = try await http.fetch(url)
            fetched = try verified(url: url, keyrings: keyrings) {
                let (content, verification) = try OpenPGP.verifyClearsigned(bytes, keyring: keyring, now: now)
                return (content, verification, sha256Hex(bytes))
            }
        } catch RepositoryError.http(_, 404) {
            url = base + "/Release"
            let bytes = try await http.fetch(url)
            let signature = try await http.fetch(url + ".gpg")
            fetched = try verified(url: url, keyrings: keyrings) {
                (bytes, try OpenPGP.verifyDetached(bytes, signature: signature, keyring: keyring, now: now), sha256Hex(bytes))
            }
        }
        let (content, verification, sha) = fetched
        let release = try ReleaseFile(text: content)
        // A validly signed Release of another suite (e.g. an old one replayed) is refused, as apt does.
        let requested = suite.split(separator: "/").first.map(String.init) ?? suite
        if release.suite != nil || release.codename != nil, release.suite != requested, release.codename != requested {
            throw RepositoryError.invalidRelease("\(url) is signed for suite '\(release.suite ?? "")' (codename '\(release.codename ?? "")'), not '\(suite)'")
        }
        if let validUntil = release.validUntil, validUntil < now {
            throw RepositoryError.expired(url: url, validUntil: validUntil, now: now)
        }
        return VerifiedRelease(repository: repository, suite: suite, release: release, url: url, sha256: sha,
                               signer: verification.primaryFingerprint)
    }

    /// The packages of one component and architecture, from the index the Release vouches for.
    public func packages(of release: VerifiedRelease, component: String, architecture: String) async throws -> [BinaryPackage] {
        let directory = "\(component)/binary-\(architecture)"
        let candidates: [(String, Compression)] = [("Packages.xz", .xz), ("Packages.gz", .gzip), ("Packages", .none)]
        guard let (name, compression) = candidates.first(where: { release.release.files["\(directory)/\($0.0)"] != nil }),
              let entry = release.release.files["\(directory)/\(name)"] else {
            throw RepositoryError.missingIndex(url: release.url, path: "\(directory)/Packages(.xz)")
        }
        let base = "\(release.repository.uri)/dists/\(release.suite)"
        let canonical = "\(base)/\(directory)/\(name)"
        let file: String
        if release.release.acquireByHash {
            do {
                file = try await http.fetchVerified("\(base)/\(directory)/by-hash/SHA256/\(entry.sha256)", sha256: entry.sha256,
                                                    size: entry.size, cache: cache)
            } catch RepositoryError.http(_, 404) {
                file = try await http.fetchVerified(canonical, sha256: entry.sha256, size: entry.size, cache: cache)
            }
        } else {
            file = try await http.fetchVerified(canonical, sha256: entry.sha256, size: entry.size, cache: cache)
        }
        return try Self.parseIndex(file: file, compression: compression, repositoryURI: release.repository.uri, suite: release.suite)
    }

    /// Parses a (compressed) Packages index from disk.
    public static func parseIndex(file: String, compression: Compression, repositoryURI: String, suite: String) throws -> [BinaryPackage] {
        var packages: [BinaryPackage] = []
        packages.reserveCapacity(70_000)
        let source = try compression.decompressing(try FileSource(path: file))
        try ControlFile.forEachParagraph(in: source) { paragraph in
            packages.append(try BinaryPackage(paragraph: paragraph, repositoryURI: repositoryURI, suite: suite))
        }
        return packages
    }

    /// Verifies the Release of every suite of `repositories` that belongs to `distribution`
    /// (e.g. `bookworm`, `bookworm-updates`, `bookworm-security`) and loads their packages for
    /// `architecture` (plus `all`), concurrently.
    public func universe(repositories: [AptRepository], distribution: String, architecture: String,
                         progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> (PackageUniverse, [VerifiedRelease]) {
        var targets: [(AptRepository, String)] = []
        for repository in repositories where repository.architectures?.contains(architecture) ?? true {
            for suite in repository.suites where suite == distribution || suite.hasPrefix(distribution + "-") || suite.hasPrefix(distribution + "/") {
                targets.append((repository, suite))
            }
        }
        guard !targets.isEmpty else {
            throw SourcesError.noRepositories("no configured repository carries suite '\(distribution)' (or its -updates/-security suites)")
        }
        let results = try await withThrowingTaskGroup(of: (Int, VerifiedRelease, [BinaryPackage]).self) { group in
            for (position, (repository, suite)) in targets.enumerated() {
                group.addTask {
                    let release = try await self.release(of: repository, suite: suite)
                    progress("verified \(release.url) (signed by \(release.signer.suffix(16)))")
                    var packages: [BinaryPackage] = []
                    for component in repository.components where release.release.components.isEmpty
                        || release.release.components.contains(where: { $0 == component || $0.hasSuffix("/" + component) }) {
                        packages += try await self.packages(of: release, component: component, architecture: architecture)
                    }
                    progress("loaded \(packages.count) packages from \(suite) [\(architecture)]")
                    return (position, release, packages)
                }
            }
            var collected: [(Int, VerifiedRelease, [BinaryPackage])] = []
            for try await result in group { collected.append(result) }
            return collected.sorted { $0.0 < $1.0 }
        }
        let packages = results.flatMap { $0.2 }.filter { $0.architecture == architecture || $0.architecture == "all" }
        return (PackageUniverse(packages: packages), results.map { $0.1 })
    }

    /// Runs a signature check, turning its error into one that names the URL and keyrings.
    private func verified<T>(url: String, keyrings: String, _ check: () throws -> T) throws -> T {
        do {
            return try check()
        } catch {
            throw RepositoryError.signature(url: url, reason: "\(error) (keyrings: \(keyrings))")
        }
    }

    private func loadKeyring(_ paths: [String]) throws -> OpenPGPKeyring {
        guard !paths.isEmpty else { throw RepositoryError.signature(url: "", reason: "no keyring configured (Signed-By) for the repository") }
        var keyrings: [OpenPGPKeyring] = []
        for path in paths {
            do {
                keyrings.append(try OpenPGPKeyring(contentsOf: path))
            } catch {
                throw RepositoryError.signature(url: path, reason: "cannot read keyring: \(error)")
            }
        }
        return OpenPGPKeyring.merging(keyrings)
    }
}
