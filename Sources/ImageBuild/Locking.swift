import Archive
import Debian

/// Resolves a spec's packages against signed repositories and pins them in a lock.
public struct PackageLocker: Sendable {
    public var client: RepositoryClient

    public init(client: RepositoryClient = RepositoryClient()) { self.client = client }

    /// The closure for one architecture, with the Release files it was resolved against.
    public func resolve(_ spec: ImageSpec, architecture: String, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> (Resolution, [VerifiedRelease]) {
        let (universe, releases) = try await client.universe(repositories: try spec.aptRepositories(), distribution: spec.debian,
                                                            architecture: architecture, progress: progress)
        let resolution = try Resolver(universe: universe, architecture: architecture).resolve(spec.packages)
        return (resolution, releases)
    }

    /// The minimal and (when enabled) dev closures for one architecture from one index load.
    func resolveVariants(_ spec: ImageSpec, architecture: String, progress: @escaping @Sendable (String) -> Void) async throws
        -> (minimal: Resolution, dev: Resolution?, releases: [VerifiedRelease]) {
        let (universe, releases) = try await client.universe(repositories: try spec.aptRepositories(), distribution: spec.debian,
                                                            architecture: architecture, progress: progress)
        let resolver = Resolver(universe: universe, architecture: architecture)
        let minimal = try resolver.resolve(spec.packages)
        let dev = spec.dev.enabled ? try resolver.resolve(spec.devPackages) : nil
        return (minimal, dev, releases)
    }

    /// Resolves every architecture of the spec and returns the lock. `specBytes` are hashed so
    /// that a lock can tell when its spec has changed.
    public func lock(_ spec: ImageSpec, specPath: String, specBytes: [UInt8], progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> LockFile {
        var packages: [String: [LockFile.Package]] = [:]
        var dropped: [String: [LockFile.Dropped]] = [:]
        var releases: [String: LockFile.Release] = [:]
        var devPackages: [String: [LockFile.Package]] = [:]
        for architecture in spec.archs {
            let (resolution, dev, verified) = try await resolveVariants(spec, architecture: architecture, progress: progress)
            packages[architecture] = resolution.packages.map(LockFile.Package.init)
            if let dev { devPackages[architecture] = dev.packages.map(LockFile.Package.init) }
            dropped[architecture] = resolution.dropped.map { LockFile.Dropped(package: $0.package, dependency: $0.relation, chain: $0.chain) }
            for release in verified {
                releases[release.url] = LockFile.Release(url: release.url, suite: release.suite, date: UTCTime.rfc3339(release.release.date),
                                                         sha256: release.sha256, signer: release.signer)
            }
            progress("resolved \(resolution.packages.count) packages for \(architecture)")
        }
        let name = specPath.split(separator: "/").last.map(String.init) ?? specPath
        var lock = LockFile(spec: .init(path: name, sha256: sha256Hex(specBytes)), distribution: spec.debian,
                            releases: releases.values.sorted { $0.url < $1.url }, packages: packages, dropped: dropped)
        if !devPackages.isEmpty { lock.variants = ["dev": devPackages] }
        return lock
    }
}
