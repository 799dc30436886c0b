import Archive
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Errors from repositories and downloads.
public enum RepositoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRelease(String)
    case signature(url: String, reason: String)
    case expired(url: String, validUntil: Int64, now: Int64)
    case missingIndex(url: String, path: String)
    case hashMismatch(url: String, expected: String, actual: String)
    case sizeMismatch(url: String, expected: Int64, actual: Int64)
    case http(url: String, status: Int)
    case network(url: String, reason: String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidRelease(let reason): "invalid Release file: \(reason)"
        case .signature(let url, let reason): "\(url): signature verification failed: \(reason)"
        case .expired(let url, let validUntil, let now):
            "\(url) expired at \(UTCTime.readable(validUntil)) (now \(UTCTime.readable(now))): the mirror is stale or the clock is wrong"
        case .missingIndex(let url, let path): "\(url) does not list \(path)"
        case .hashMismatch(let url, let expected, let actual): "\(url): SHA256 mismatch: expected \(expected), got \(actual)"
        case .sizeMismatch(let url, let expected, let actual): "\(url): size mismatch: expected \(expected) bytes, got \(actual)"
        case .http(let url, let status): "\(url): HTTP \(status)"
        case .network(let url, let reason): "\(url): \(reason)"
        case .io(let reason): reason
        }
    }
}

/// Whether `text` is a SHA-256 as indexes and locks write it: 64 lowercase hex digits.
public func isSHA256Hex(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
}

/// A content-addressed cache of verified downloads: `<root>/sha256/<hex>`.
///
/// Files enter only after their size and SHA-256 match, through a temporary name and a rename, so a
/// partial file is never taken for a complete one. Reads verify the hash again; a corrupt entry is
/// removed and reported as missing.
public struct DownloadCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// `$XDG_CACHE_HOME/harden`, else `~/.cache/harden`.
    public static func defaultLocation() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/harden" }
        return (environment["HOME"] ?? "/root") + "/.cache/harden"
    }

    /// Removes the temporary files that downloads killed mid-write left in the cache.
    @discardableResult
    public func removeStaleTemporaries() -> [String] { FileSystem.removeStaleTemporaries(in: root + "/sha256") }

    /// The cache path for a SHA-256 (anything but 64 hex digits maps to a name that cannot exist).
    public func path(sha256: String) -> String {
        "\(root)/sha256/\(isSHA256Hex(sha256) ? sha256 : "invalid")"
    }

    /// The cached file for `sha256`, verified again; nil when absent or corrupt (a corrupt file is removed).
    public func verifiedPath(sha256: String, size: Int64) -> String? {
        guard isSHA256Hex(sha256) else { return nil }
        let file = path(sha256: sha256)
        guard FileSystem.exists(file), let source = try? FileSource(path: file), (try? source.size()) == size else {
            try? FileSystem.remove(file)
            return nil
        }
        let hashing = HashingSource(source)
        guard (try? hashing.pump(into: CountingSink())) != nil, hashing.hexDigest() == sha256 else {
            try? FileSystem.remove(file)
            return nil
        }
        return file
    }

    /// Copies `file` into the cache if its size and SHA-256 match; otherwise stores nothing and throws.
    @discardableResult
    public func store(file: String, sha256: String, size: Int64, url: String) throws -> String {
        guard isSHA256Hex(sha256) else { throw RepositoryError.hashMismatch(url: url, expected: sha256, actual: "(not a SHA-256: refused)") }
        let destination = path(sha256: sha256)
        do {
            try FileSystem.createDirectory(root + "/sha256")
            try FileSystem.writeAtomically(destination) { sink in
                let hashing = HashingSink(sink)
                let source = try FileSource(path: file)
                let copied = try source.pump(into: hashing)
                if copied != size { throw RepositoryError.sizeMismatch(url: url, expected: size, actual: copied) }
                try hashing.finish()
                if hashing.hexDigest != sha256 {
                    throw RepositoryError.hashMismatch(url: url, expected: sha256, actual: hashing.hexDigest ?? "")
                }
            }
        } catch let error as ArchiveError {
            throw RepositoryError.io("cannot store \(url) in the cache \(root): \(error)")
        }
        return destination
    }
}

/// The validators of a downloaded resource (`ETag`, `Last-Modified`), for a conditional request.
public struct HTTPValidators: Sendable, Hashable, Codable {
    public var etag: String?
    public var lastModified: String?

    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }

    var isEmpty: Bool { etag == nil && lastModified == nil }
}

/// What a conditional download found.
public enum ConditionalDownload: Sendable {
    /// The resource still matches the validators given.
    case notModified
    /// A new temporary file (the caller removes it) and the resource's validators.
    case downloaded(path: String, validators: HTTPValidators)
}

/// HTTP downloads with retries and backoff. Only GET; 404 and other 4xx are final, network errors,
/// 5xx and 429 are retried.
public struct HTTPFetcher: Sendable {
    public var attempts: Int
    public var initialBackoff: Double
    /// A transfer that receives nothing for this many seconds fails (and is retried).
    public var idleTimeout: Double

    public init(attempts: Int = 4, initialBackoff: Double = 0.5, idleTimeout: Double = HTTPFetcher.defaultIdleTimeout) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.idleTimeout = idleTimeout
    }

    /// Downloads `url` into a new temporary file and returns its path; the caller removes it.
    public func download(_ url: String) async throws -> String {
        guard case .downloaded(let path, _) = try await download(url, unlessMatching: HTTPValidators()) else {
            throw RepositoryError.network(url: url, reason: "answered 304 Not Modified to an unconditional request")
        }
        return path
    }

    /// Downloads `url` unless it still matches `validators` (a conditional GET with
    /// `If-None-Match` and `If-Modified-Since`; 304 gives `.notModified`). A download is kept only
    /// when it arrived whole: a body shorter than its `Content-Length` is an error.
    public func download(_ url: String, unlessMatching validators: HTTPValidators) async throws -> ConditionalDownload {
        guard let target = URL(string: url), let scheme = target.scheme, scheme == "http" || scheme == "https" else {
            throw RepositoryError.network(url: url, reason: "not an http(s) URL")
        }
        var request = URLRequest(url: target)
        request.cachePolicy = .reloadIgnoringLocalCacheData
        request.timeoutInterval = idleTimeout
        if let etag = validators.etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
        if let date = validators.lastModified { request.setValue(date, forHTTPHeaderField: "If-Modified-Since") }
        let session = validators.isEmpty ? Self.standard : Self.uncached
        var delay = initialBackoff
        var lastError: RepositoryError = .network(url: url, reason: "no attempt made")
        for attempt in 1...max(1, attempts) {
            do {
                let (file, response) = try await session.download(for: request)
                let http = response as? HTTPURLResponse
                let status = http?.statusCode ?? 0
                if status == 200 {
                    // Move out of URLSession's temporary name so it survives until the caller is done.
                    let kept = FileSystem.temporaryName(beside: NSTemporaryDirectory() + "/harden-download")
                    try FileManager.default.moveItem(atPath: file.path, toPath: kept)
                    // A short body is a broken download (retried), unless the server compressed it
                    // for the wire: then Content-Length counts the compressed bytes.
                    let size = (try? FileManager.default.attributesOfItem(atPath: kept)[.size] as? Int64) ?? nil
                    let encoded = http?.value(forHTTPHeaderField: "Content-Encoding").map { !$0.isEmpty && $0 != "identity" } ?? false
                    if !encoded, response.expectedContentLength > 0, let size, size != response.expectedContentLength {
                        try? FileSystem.remove(kept)
                        lastError = .network(url: url, reason: "the download broke off: \(size) of \(response.expectedContentLength) bytes")
                        if attempt < attempts {
                            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                            delay *= 2
                        }
                        continue
                    }
                    return .downloaded(path: kept, validators: HTTPValidators(
                        etag: http?.value(forHTTPHeaderField: "ETag"), lastModified: http?.value(forHTTPHeaderField: "Last-Modified")))
                }
                try? FileManager.default.removeItem(at: file)
                if status == 304 && !validators.isEmpty { return .notModified }
                lastError = .http(url: url, status: status)
                if status != 429 && status < 500 { throw lastError }
            } catch let error as RepositoryError {
                throw error
            } catch {
                lastError = .network(url: url, reason: error.localizedDescription)
            }
            if attempt < attempts {
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay *= 2
            }
        }
        throw lastError
    }

    public static let defaultIdleTimeout: TimeInterval = 60
    /// No single download may take longer than this (a mirror trickling bytes forever).
    public static let transferTimeout: TimeInterval = 3600

    private static func configured(_ configuration: URLSessionConfiguration) -> URLSessionConfiguration {
        configuration.timeoutIntervalForRequest = defaultIdleTimeout
        configuration.timeoutIntervalForResource = transferTimeout
        return configuration
    }

    private static let standard = URLSession(configuration: configured(.default))

    /// A session without a cache, so a 304 reaches the caller instead of a cached copy.
    private static let uncached: URLSession = {
        let configuration = configured(.ephemeral)
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        return URLSession(configuration: configuration)
    }()

    /// Downloads `url` and returns its bytes (for small files such as InRelease).
    public func fetch(_ url: String, limit: Int = 64 << 20) async throws -> [UInt8] {
        let file = try await download(url)
        defer { try? FileSystem.remove(file) }
        do {
            return try FileSystem.read(file, limit: limit)
        } catch {
            throw RepositoryError.io("\(url): \(error)")
        }
    }

    /// Returns the cached file for (sha256, size), downloading and verifying it first if needed.
    public func fetchVerified(_ url: String, sha256: String, size: Int64, cache: DownloadCache) async throws -> String {
        if let cached = cache.verifiedPath(sha256: sha256, size: size) { return cached }
        let file = try await download(url)
        defer { try? FileSystem.remove(file) }
        return try cache.store(file: file, sha256: sha256, size: size, url: url)
    }
}
