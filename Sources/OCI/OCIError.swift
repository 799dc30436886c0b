import Archive

/// Errors from the OCI module, each with a message a user can act on.
public enum OCIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A digest string that is not `sha256:` followed by 64 lowercase hex digits.
    case invalidDigest(String)
    /// Bytes whose SHA-256 or size is not what their descriptor says.
    case digestMismatch(expected: String, actual: String)
    case sizeMismatch(digest: String, expected: Int64, actual: Int64)
    /// A blob the store does not have.
    case blobNotFound(String)
    /// JSON that does not decode as the expected document.
    case invalidDocument(kind: String, reason: String)
    /// A directory that is not an OCI image layout, or has a corrupt `index.json`/`oci-layout`.
    case invalidLayout(path: String, reason: String)
    /// An image reference that cannot be parsed.
    case invalidReference(String, reason: String)
    /// No image matches a tag, digest or platform.
    case notFound(String)
    /// A media type Harden does not handle here.
    case unsupportedMediaType(String)
    /// A lower-level archive or file error.
    case archive(ArchiveError)

    public var description: String {
        switch self {
        case .invalidDigest(let text): "invalid digest '\(text)': expected sha256: and 64 lowercase hex digits"
        case .digestMismatch(let expected, let actual): "content does not match its digest: expected \(expected), got \(actual)"
        case .sizeMismatch(let digest, let expected, let actual): "blob \(digest) has \(actual) bytes, its descriptor says \(expected)"
        case .blobNotFound(let digest): "blob \(digest) is not in the store"
        case .invalidDocument(let kind, let reason): "invalid \(kind): \(reason)"
        case .invalidLayout(let path, let reason): "'\(path)' is not a valid OCI image layout: \(reason)"
        case .invalidReference(let text, let reason): "invalid image reference '\(text)': \(reason)"
        case .notFound(let what): "not found: \(what)"
        case .unsupportedMediaType(let type): "unsupported media type '\(type)'"
        case .archive(let error): error.description
        }
    }
}

/// Runs `body`, wrapping Archive errors as `OCIError.archive`.
func wrapArchive<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as ArchiveError { throw OCIError.archive(error) }
}
