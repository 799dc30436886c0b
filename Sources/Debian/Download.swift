import Archive
import Foundation

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
}
