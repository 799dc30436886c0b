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

    /// Versions to keep packages at: variant (`minimal`, `dev`) → architecture → name → version.
    public typealias Holds = [String: [String: [String: DebianVersion]]]

    /// `requests` with each held package pinned at its version (requested, when it was only a dependency).
    static func requests(_ requests: [PackageRequest], holding holds: [String: DebianVersion]) -> [PackageRequest] {
        guard !holds.isEmpty else { return requests }
        let pinned = holds.keys.sorted().filter { name in !requests.contains { $0.name == name } }.map { PackageRequest(name: $0, version: holds[$0]) }
        return pinned + requests.map { request in
            guard let version = holds[request.name], !request.excluded else { return request }
            return PackageRequest(name: request.name, version: version)
        }
    }

    /// Resolves every architecture of the spec and returns the lock. `specBytes` are hashed so
    /// that a lock can tell when its spec has changed. Packages in `holds` keep the versions given
    /// (each must still be in the repositories, and the rest of the closure must agree with it).
    public func lock(_ spec: ImageSpec, specPath: String, specBytes: [UInt8], holding holds: Holds = [:],
                     progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> LockFile {
        try await lock(spec, specPath: specPath, specBytes: specBytes, progress: progress) { resolver, _, architecture in
            let minimal = try resolver.resolve(Self.requests(spec.packages, holding: holds["minimal"]?[architecture] ?? [:]))
            let dev = spec.dev.enabled ? try resolver.resolve(Self.requests(spec.devPackages, holding: holds["dev"]?[architecture] ?? [:])) : nil
            return (minimal, dev)
        }
    }

    /// The lock of a spec's conventional baseline (`Baseline`): its packages are the baseline's.
    public func lockBaseline(_ spec: ImageSpec, specPath: String, specBytes: [UInt8],
                             progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> LockFile {
        try await lock(spec, specPath: specPath, specBytes: specBytes, progress: progress) { resolver, universe, architecture in
            (try resolver.resolve(Baseline.requests(spec, required: Baseline.required(in: universe, architecture: architecture))), nil)
        }
    }

    /// The lock from `resolve`'s closures (the image's, and the dev variant's when there is one),
    /// each architecture's indexes loaded once.
    private func lock(_ spec: ImageSpec, specPath: String, specBytes: [UInt8], progress: @escaping @Sendable (String) -> Void,
                      resolve: (Resolver, PackageUniverse, String) throws -> (Resolution, Resolution?)) async throws -> LockFile {
        var packages: [String: [LockFile.Package]] = [:]
        var dropped: [String: [LockFile.Dropped]] = [:]
        var releases: [String: LockFile.Release] = [:]
        var devPackages: [String: [LockFile.Package]] = [:]
        for architecture in spec.archs {
            let (universe, verified) = try await client.universe(repositories: try spec.aptRepositories(), distribution: spec.debian,
                                                                 architecture: architecture, progress: progress)
            let (resolution, dev) = try resolve(Resolver(universe: universe, architecture: architecture), universe, architecture)
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
