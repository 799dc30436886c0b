/// Why a tar entry is unsafe to extract.
public enum TarHazard: Sendable, Equatable, CustomStringConvertible {
    /// The path starts with `/`.
    case absolutePath
    /// The path has a `..` component.
    case parentTraversal
    /// A link's target leaves the archive's root.
    case linkEscapesRoot(target: String)
    /// The path goes through a symlink that an earlier entry created.
    case writeThroughSymlink(link: String)

    public var description: String {
        switch self {
        case .absolutePath: "absolute path"
        case .parentTraversal: "'..' component in path"
        case .linkEscapesRoot(let target): "link target '\(target)' leaves the root"
        case .writeThroughSymlink(let link): "path goes through symlink '\(link)' created earlier in the archive"
        }
    }
}

/// Errors from the Archive module: malformed, truncated or hostile input, and I/O failures.
public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ended before the format said it would.
    case truncated(String)
    /// The bytes do not follow the format.
    case malformed(String)
    /// A tar entry that would write outside the root, or through a link.
    case hostileEntry(path: String, hazard: TarHazard)
    /// An entry that cannot be represented in the output format.
    case unsupported(String)
    /// A compression library reported an error.
    case codec(String)
    /// More data than the caller allowed.
    case tooLarge(limit: Int)
    /// Input past one of the limits that bound time and memory on hostile input.
    case limitExceeded(String)
    /// A system call failed on a file.
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .truncated(let what): "truncated input: \(what)"
        case .malformed(let what): "malformed input: \(what)"
        case .hostileEntry(let path, let hazard): "refusing hostile archive entry '\(path)': \(hazard)"
        case .unsupported(let what): "unsupported: \(what)"
        case .codec(let what): "compression error: \(what)"
        case .tooLarge(let limit): "input larger than the allowed \(limit) bytes"
        case .limitExceeded(let what): "refusing input: \(what)"
        case .io(let path, let operation, let code): "\(operation) '\(path)' failed: \(String(cString: strerror(code)))"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
