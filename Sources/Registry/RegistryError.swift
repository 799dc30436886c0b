import OCI

/// What went wrong talking to a registry. Every error names the registry and the step (what
/// was being done: "pushing blob sha256:… to team/app", "fetching a token from …").
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    /// Why the step failed.
    public enum Reason: Sendable, Equatable {
        /// The registry answered with an HTTP error; `codes` are the distribution-spec error codes.
        case status(Int, codes: [String], message: String)
        /// No credentials for a registry that requires them.
        case credentialsRequired(scheme: String)
        /// The credentials (or the token bought with them) were refused.
        case credentialsRefused(String)
        /// The connection failed (after retries).
        case connection(String)
        /// The registry returned bytes that do not match their digest.
        case digestMismatch(expected: String, actual: String)
        /// Plain HTTP to a host that is neither loopback nor named with --insecure-registry.
        case insecureRefused
        /// The registry broke the protocol (a missing header, an unparsable answer, a body too big).
        case protocolViolation(String)
        /// Docker's config or a credential helper failed.
        case credentialStore(String)
    }

    public var registry: String
    public var step: String
    public var reason: Reason

    public init(registry: String, step: String, reason: Reason) {
        self.registry = registry
        self.step = step
        self.reason = reason
    }

    public var description: String {
        let detail: String
        switch reason {
        case .status(let status, let codes, let message):
            let codeText = codes.isEmpty ? "" : " " + codes.joined(separator: ", ")
            detail = "HTTP \(status)\(codeText)\(message.isEmpty ? "" : ": \(message)")" + Self.hint(status: status, codes: codes)
        case .credentialsRequired(let scheme):
            detail = "the registry requires credentials (\(scheme)); run 'harden login \(registry)' or add them to the Docker config"
        case .credentialsRefused(let why):
            detail = "credentials refused: \(why)"
        case .connection(let why):
            detail = "connection failed: \(why)"
        case .digestMismatch(let expected, let actual):
            detail = "digest mismatch: expected \(expected), the registry gave \(actual)"
        case .insecureRefused:
            detail = "the registry does not speak TLS; plain HTTP is allowed only for loopback or with --insecure-registry \(registry)"
        case .protocolViolation(let why):
            detail = "unexpected answer: \(why)"
        case .credentialStore(let why):
            detail = why
        }
        return "registry \(registry): \(step): \(detail)"
    }

    private static func hint(status: Int, codes: [String]) -> String {
        if codes.contains("NAME_UNKNOWN") { return " (no such repository)" }
        if codes.contains("MANIFEST_UNKNOWN") { return " (no such tag or manifest)" }
        if codes.contains("DENIED") || status == 403 { return " (the account may lack access to this repository)" }
        return ""
    }
}
