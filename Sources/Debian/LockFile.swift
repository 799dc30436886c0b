import Archive
import Foundation

/// A lock file (`<spec>.lock.json`): every package of an image pinned by URL, size and SHA-256,
/// per architecture, with the signed Release files they came from.
///
/// A build with a lock installs exactly what it pins and downloads no index.
public struct LockFile: Sendable, Codable, Equatable {
    public static let currentVersion = 1

    /// The spec this lock was made from.
    public struct Spec: Sendable, Codable, Equatable {
        public var path: String
        public var sha256: String
        public init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }

    /// A Release file that vouched for the pinned packages.
    public struct Release: Sendable, Codable, Equatable {
        public var url: String
        public var suite: String
        /// RFC 3339.
        public var date: String
        public var sha256: String
        /// Fingerprint of the key whose signature verified.
        public var signer: String
        public init(url: String, suite: String, date: String, sha256: String, signer: String) {
            self.url = url
            self.suite = suite
            self.date = date
            self.sha256 = sha256
            self.signer = signer
        }
    }

    /// One pinned package.
    public struct Package: Sendable, Codable, Equatable, Hashable {
        public var name: String
        public var version: String
        public var architecture: String
        public var source: String
        public var sourceVersion: String
        public var url: String
        public var sha256: String
        public var size: Int64
        /// Suite it was resolved from.
        public var suite: String
        public init(name: String, version: String, architecture: String, source: String, sourceVersion: String,
                    url: String, sha256: String, size: Int64, suite: String) {
            self.name = name
            self.version = version
            self.architecture = architecture
            self.source = source
            self.sourceVersion = sourceVersion
            self.url = url
            self.sha256 = sha256
            self.size = size
            self.suite = suite
        }
    }

    /// A dependency dropped because the spec excludes every alternative.
    public struct Dropped: Sendable, Codable, Equatable {
        public var package: String
        public var dependency: String
        /// From a requested package down to `package`.
        public var chain: [String]
        public init(package: String, dependency: String, chain: [String]) {
            self.package = package
            self.dependency = dependency
            self.chain = chain
        }
    }

    public var lockVersion: Int
    public var spec: Spec
    public var distribution: String
    public var releases: [Release]
    /// Architecture → packages sorted by name.
    public var packages: [String: [Package]]
    public var dropped: [String: [Dropped]]
    /// Packages of other variants (`dev`): variant → architecture → packages sorted by name.
    public var variants: [String: [String: [Package]]]?

    public init(spec: Spec, distribution: String, releases: [Release], packages: [String: [Package]], dropped: [String: [Dropped]]) {
        lockVersion = Self.currentVersion
        self.spec = spec
        self.distribution = distribution
        self.releases = releases
        self.packages = packages
        self.dropped = dropped
    }

    /// The lock's bytes: sorted keys, indented, no escaped slashes; the same lock gives the same bytes.
    /// What identifies the lock's contents (`sha256:` of its encoding): the same lock, however
    /// its file is formatted, has the same digest. Images record it to be reused.
    public func digest() throws -> String { "sha256:" + sha256Hex(try encoded()) }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return Array(try encoder.encode(self)) + [0x0a]
    }

    /// Reads and validates a lock file.
    public static func read(_ path: String) throws -> LockFile { try decode(try readBytes(path), path: path) }

    /// The bytes of a lock file (64 MiB at most).
    public static func readBytes(_ path: String) throws -> [UInt8] {
        do { return try FileSystem.read(path, limit: 64 << 20) } catch { throw LockError.unreadable(path: path, reason: "\(error)") }
    }

    /// Parses and validates the bytes of a lock file (`path` names it in errors).
    public static func decode(_ bytes: [UInt8], path: String) throws -> LockFile {
        let lock: LockFile
        do {
            lock = try JSONDecoder().decode(LockFile.self, from: Data(bytes))
        } catch {
            throw LockError.unreadable(path: path, reason: "not a valid lock file: \(error)")
        }
        guard lock.lockVersion == currentVersion else {
            throw LockError.unreadable(path: path, reason: "lockVersion \(lock.lockVersion) is not supported (expected \(currentVersion))")
        }
        let variantPackages = (lock.variants ?? [:]).values.flatMap { $0.map { ($0.key, $0.value) } }
        for (architecture, packages) in lock.packages.map({ ($0.key, $0.value) }) + variantPackages {
            for package in packages {
                guard isSHA256Hex(package.sha256), package.size >= 0, package.url.hasPrefix("http://") || package.url.hasPrefix("https://"),
                      (try? DebianVersion(package.version)) != nil else {
                    throw LockError.unreadable(path: path, reason: "invalid entry for \(package.name) [\(architecture)]")
                }
            }
        }
        return lock
    }

    /// Writes the lock atomically.
    public func write(to path: String) throws {
        do { try FileSystem.writeAtomically(path, bytes: try encoded()) } catch { throw LockError.unreadable(path: path, reason: "cannot write: \(error)") }
    }

    /// Throws unless this lock was made from a spec with `specSHA256`.
    public func check(specSHA256: String, specPath: String) throws {
        guard spec.sha256 == specSHA256 else { throw LockError.stale(spec: specPath, lockedSHA256: spec.sha256, actualSHA256: specSHA256) }
    }

    /// The default lock path for a spec: `python.yaml` → `python.lock.json`.
    public static func path(forSpec spec: String) -> String {
        for suffix in [".yaml", ".yml"] where spec.hasSuffix(suffix) { return String(spec.dropLast(suffix.count)) + ".lock.json" }
        return spec + ".lock.json"
    }
}

extension LockFile.Package {
    public init(_ package: BinaryPackage) {
        self.init(name: package.name, version: package.version.description, architecture: package.architecture,
                  source: package.source, sourceVersion: package.sourceVersion.description, url: package.url,
                  sha256: package.sha256, size: package.size, suite: package.suite)
    }
}

public enum LockError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case stale(spec: String, lockedSHA256: String, actualSHA256: String)
    case missingArchitecture(String, locked: [String])

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .stale(let spec, _, _): "the lock no longer matches \(spec) (the spec changed since it was locked): run 'harden lock \(spec)'"
        case .missingArchitecture(let arch, let locked):
            "the lock has no packages for \(arch) (it has \(locked.joined(separator: ", "))): run 'harden lock' again"
        }
    }
}

/// Downloads pinned packages into the cache: in parallel (bounded), retried, each checked
/// against its size and SHA-256 before it is kept.
public struct PackageFetcher: Sendable {
    public var http: HTTPFetcher
    public var cache: DownloadCache
    public var concurrency: Int

    public init(http: HTTPFetcher = HTTPFetcher(), cache: DownloadCache, concurrency: Int = 6) {
        self.http = http
        self.cache = cache
        self.concurrency = max(1, concurrency)
    }

    /// Returns the verified cache path of every package, keyed by SHA-256. `progress` gets
    /// (done, total, bytes fetched so far).
    public func fetch(_ packages: [LockFile.Package], progress: @Sendable (Int, Int, Int64) -> Void = { _, _, _ in }) async throws -> [String: String] {
        cache.removeStaleTemporaries()
        var unique: [String: LockFile.Package] = [:]
        for package in packages { unique[package.sha256] = package }
        let work = unique.values.sorted { $0.name < $1.name }
        var paths: [String: String] = [:]
        var done = 0
        var bytes: Int64 = 0
        try await withThrowingTaskGroup(of: (String, String, Int64).self) { group in
            var iterator = work.makeIterator()
            func startNext() {
                guard let package = iterator.next() else { return }
                group.addTask {
                    let path = try await http.fetchVerified(package.url, sha256: package.sha256, size: package.size, cache: cache)
                    return (package.sha256, path, package.size)
                }
            }
            for _ in 0..<concurrency { startNext() }
            while let (sha, path, size) = try await group.next() {
                paths[sha] = path
                done += 1
                bytes += size
                progress(done, work.count, bytes)
                startNext()
            }
        }
        return paths
    }
}

/// One package that differs between two locks of the same spec.
public struct LockChange: Sendable, Equatable {
    /// `minimal` or a variant's name (`dev`).
    public var variant: String
    public var architecture: String
    public var name: String
    /// nil: added in the new lock.
    public var old: LockFile.Package?
    /// nil: removed from the new lock.
    public var new: LockFile.Package?
}

extension LockFile {
    /// Every package added, removed or changed (version or digest) from `self` to `newer`, by
    /// variant, architecture and name.
    public func changes(to newer: LockFile) -> [LockChange] {
        func all(_ lock: LockFile) -> [String: [String: [Package]]] {
            var variants = lock.variants ?? [:]
            variants["minimal"] = lock.packages
            return variants
        }
        let (before, after) = (all(self), all(newer))
        var changes: [LockChange] = []
        for variant in Set(before.keys).union(after.keys).sorted() {
            let (old, new) = (before[variant] ?? [:], after[variant] ?? [:])
            for architecture in Set(old.keys).union(new.keys).sorted() {
                let oldByName = Dictionary((old[architecture] ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                let newByName = Dictionary((new[architecture] ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                for name in Set(oldByName.keys).union(newByName.keys).sorted() {
                    let (was, now) = (oldByName[name], newByName[name])
                    if was?.version == now?.version && was?.sha256 == now?.sha256 { continue }
                    changes.append(LockChange(variant: variant, architecture: architecture, name: name, old: was, new: now))
                }
            }
        }
        return changes
    }
}
