/// Errors of the VEX module, each with a message a user can act on.
public enum VEXError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A document that is not valid OpenVEX v0.2.0. `file` names where it came from when known;
    /// `statement` is the position of the offending statement in `statements`, counted from 0.
    case invalidDocument(file: String?, statement: Int?, reason: String)
    /// Text that is not a package URL.
    case invalidPURL(String, reason: String)
    /// A file that cannot be read.
    case unreadable(file: String, reason: String)
    /// `create` or `merge` was given no statements (a document needs at least one).
    case noStatements

    public var description: String {
        switch self {
        case .invalidDocument(let file, let statement, let reason):
            var parts: [String] = []
            if let file { parts.append(file) }
            if let statement { parts.append("statement \(statement)") }
            if parts.isEmpty { return "invalid OpenVEX document: \(reason)" }
            return (parts + [reason]).joined(separator: ": ")
        case .invalidPURL(let text, let reason):
            return "invalid package URL '\(text)': \(reason)"
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .noStatements:
            return "an OpenVEX document needs at least one statement"
        }
    }

    /// A problem inside a document, before the file and statement are known.
    static func invalid(_ reason: String) -> VEXError { .invalidDocument(file: nil, statement: nil, reason: reason) }

    /// The same error, naming `file` (kept if it already names one).
    func inFile(_ file: String) -> VEXError {
        guard case .invalidDocument(let old, let statement, let reason) = self else { return self }
        return .invalidDocument(file: old ?? file, statement: statement, reason: reason)
    }

    /// The same error, naming statement `index` (kept if it already names one).
    func inStatement(_ index: Int) -> VEXError {
        guard case .invalidDocument(let file, let old, let reason) = self else { return self }
        return .invalidDocument(file: file, statement: old ?? index, reason: reason)
    }

    /// The same error with `context` ("product 1") in front of its reason.
    func within(_ context: String) -> VEXError {
        guard case .invalidDocument(let file, let statement, let reason) = self else { return self }
        return .invalidDocument(file: file, statement: statement, reason: "\(context): \(reason)")
    }
}
