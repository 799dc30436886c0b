/// Errors from the Debian module: bad versions, malformed control files and relation fields.
public enum DebianError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A version string that dpkg would refuse; `reason` uses dpkg's wording.
    case invalidVersion(String, reason: String)
    /// A deb822 control file that does not parse; `line` is 1-based.
    case malformedControl(line: Int, reason: String)
    /// A relation field (Depends, Build-Depends, …) that does not parse; the text is the offending group.
    case invalidRelation(String, reason: String)

    public var description: String {
        switch self {
        case .invalidVersion(let text, let reason):
            "version '\(text)' has bad syntax: \(reason)"
        case .malformedControl(let line, let reason):
            "malformed control data at line \(line): \(reason)"
        case .invalidRelation(let text, let reason):
            "invalid relation '\(text)': \(reason)"
        }
    }
}
