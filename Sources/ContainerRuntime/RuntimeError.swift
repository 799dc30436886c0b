import Archive
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// Errors from the ContainerRuntime module, each with a message a user can act on.
///
/// A test whose program fails, exits with the wrong status, prints the wrong thing, runs as root
/// against policy or times out is not an error: it is an `ImageTestResult` with `passed == false`.
/// Errors are for what stops the tests from running at all.
public enum RuntimeError: Error, Sendable, CustomStringConvertible {
    /// No runc binary was found (or the given path is not executable).
    case runcNotFound(searched: [String])
    /// runc needs root here (rootless containers are not set up by Harden).
    case requiresRoot
    /// The image's `User` names a user or group that its `/etc/passwd` or `/etc/group` lacks,
    /// or is not a valid `user[:group]` value.
    case unknownUser(user: String, reason: String)
    /// The manifest, its config or a layer cannot be used to make a bundle.
    case invalidImage(String)
    /// A layer holds an entry that would be written outside the root file system.
    case hostileLayer(layer: String, path: String, reason: String)
    /// A layer's uncompressed content does not match the config's `rootfs.diff_ids`.
    case diffIDMismatch(layer: String, expected: String, actual: String)
    /// A runc command failed outside of a test's own process (e.g. `runc start`, `runc delete`).
    case runcFailed(command: String, status: Int32, message: String)
    /// Starting a program on the host failed.
    case spawnFailed(program: String, errno: Int32)
    /// A file-system operation failed while making the bundle or reading results.
    case io(path: String, operation: String, errno: Int32)
    /// A lower-level OCI error (missing blob, digest mismatch, bad JSON).
    case oci(OCIError)
    /// A lower-level archive error (corrupt or hostile tar, codec error).
    case archive(ArchiveError)

    public var description: String {
        switch self {
        case .runcNotFound(let searched):
            "runc is not installed (looked in \(searched.joined(separator: ", "))): install it with 'apt-get install runc'"
        case .requiresRoot:
            "running containers with runc needs root: run as root (e.g. with sudo)"
        case .unknownUser(let user, let reason):
            "image user '\(user)': \(reason)"
        case .invalidImage(let reason):
            "cannot make a runtime bundle: \(reason)"
        case .hostileLayer(let layer, let path, let reason):
            "refusing layer \(layer): entry '\(path)' \(reason)"
        case .diffIDMismatch(let layer, let expected, let actual):
            "layer \(layer) uncompresses to \(actual), but the image config's diff_ids say \(expected)"
        case .runcFailed(let command, let status, let message):
            "'\(command)' exited \(status)\(message.isEmpty ? "" : ": " + message)"
        case .spawnFailed(let program, let code):
            "cannot start '\(program)': \(String(cString: strerror(code)))"
        case .io(let path, let operation, let code):
            "\(operation) '\(path)' failed: \(String(cString: strerror(code)))"
        case .oci(let error):
            error.description
        case .archive(let error):
            error.description
        }
    }
}

/// Runs `body`, wrapping Archive and OCI errors as `RuntimeError`.
func wrapErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ArchiveError {
        throw RuntimeError.archive(error)
    } catch let error as OCIError {
        if case .archive(let inner) = error { throw RuntimeError.archive(inner) }
        throw RuntimeError.oci(error)
    }
}
