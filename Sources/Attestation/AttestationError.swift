/// An error of the Attestation module: what went wrong, in words a user can act on.
///
/// Messages never contain private key material or passphrases.
public struct AttestationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The area an error belongs to, for callers that branch on it (exit codes, retries).
    public enum Code: String, Sendable, Equatable {
        /// A key that cannot be read, is malformed or of an unsupported type.
        case key
        /// A passphrase that is wrong, missing or cannot be asked for.
        case passphrase
        /// A DSSE envelope that is malformed.
        case envelope
        /// A signature that does not verify.
        case signature
        /// An in-toto statement that is malformed or does not match.
        case statement
        /// Provenance that is malformed or does not match.
        case provenance
        /// A signature or attestation attachment (cosign storage) that is malformed or missing.
        case attachment
        /// A file that cannot be read or written.
        case io
    }

    /// The area of the error.
    public var code: Code
    /// What went wrong and, where possible, what to do about it.
    public var message: String

    /// An error of area `code` with `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message, prefixed with the area.
    public var description: String { "\(code.rawValue): \(message)" }
}
