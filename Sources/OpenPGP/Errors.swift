import Archive

/// Errors from parsing keyrings and verifying signatures. Descriptions say what went wrong and what to do;
/// callers add the keyring path or file name.
public enum OpenPGPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input is not well-formed OpenPGP data (packets, armor, clear-signed framework).
    case malformed(String)
    /// An ASCII-armor CRC24 checksum does not match the decoded data.
    case armorChecksumMismatch(expected: UInt32, actual: UInt32)
    /// The input exceeds a safety limit (packet size, packet count, file size).
    case tooLarge(String)
    /// A public-key, hash or packet version this implementation does not handle.
    case unsupportedAlgorithm(String)
    /// None of the signatures' issuers is in the keyring; the key IDs of the issuers found (16 hex digits).
    case unknownKey(keyIDs: [String])
    /// The signing key (or its primary key) expired at `at` (seconds since the epoch).
    case keyExpired(fingerprint: String, at: Int64)
    /// The signing key (or its primary key) has been revoked.
    case keyRevoked(fingerprint: String)
    /// The key has no valid self-signature or binding signature, so it cannot be trusted for anything.
    case keyNotValid(fingerprint: String, reason: String)
    /// The key is not allowed to make signatures (key flags).
    case keyCannotSign(fingerprint: String)
    /// The signature expired at `at` (seconds since the epoch).
    case signatureExpired(at: Int64)
    /// The signature claims a creation time after `now` (beyond a few minutes of clock skew).
    case signatureFromFuture(created: Int64)
    /// The signature claims to be older than the key that made it.
    case signatureBeforeKey(fingerprint: String)
    /// The signature does not match the data: the data or the signature was changed.
    case badSignature(fingerprint: String)
    /// No OpenPGP signature was found.
    case noSignature
    /// The signature uses a hash algorithm that is refused as weak (SHA1, MD5, RIPEMD160).
    case weakHash(String)
    /// A file could not be read.
    case io(path: String, message: String)

    /// A message for users saying what went wrong and what to do.
    public var description: String {
        switch self {
        case .malformed(let what):
            return "malformed OpenPGP data: \(what)"
        case .armorChecksumMismatch(let expected, let actual):
            return "ASCII armor checksum mismatch (armor says \(hex24(expected)), data gives \(hex24(actual))): the file was damaged or changed; download it again"
        case .tooLarge(let what):
            return "OpenPGP data too large: \(what)"
        case .unsupportedAlgorithm(let what):
            return "unsupported OpenPGP algorithm or version: \(what)"
        case .unknownKey(let ids):
            let list = ids.isEmpty ? "an unnamed key" : (ids.count == 1 ? "key \(ids[0])" : "keys \(ids.joined(separator: ", "))")
            return "signed by \(list), which is not in the keyring: add the keyring that holds \(ids.count == 1 ? "this key" : "one of these keys") (for Debian, the debian-archive-keyring package)"
        case .keyExpired(let fpr, let at):
            return "signing key \(fpr) expired at \(formatTime(at)): update the keyring (for Debian, a newer debian-archive-keyring) or check the system clock"
        case .keyRevoked(let fpr):
            return "signing key \(fpr) has been revoked by its owner: do not trust data signed by it; update the keyring"
        case .keyNotValid(let fpr, let reason):
            return "key \(fpr) is not valid: \(reason)"
        case .keyCannotSign(let fpr):
            return "key \(fpr) is not allowed to make signatures (its key flags say so)"
        case .signatureExpired(let at):
            return "the signature expired at \(formatTime(at)): the repository metadata is stale; use an up-to-date mirror or check the system clock"
        case .signatureFromFuture(let created):
            return "the signature claims to be made at \(formatTime(created)), in the future: check the system clock"
        case .signatureBeforeKey(let fpr):
            return "the signature claims a time before its key \(fpr) was created: the signature or the system clock is wrong"
        case .badSignature(let fpr):
            return "BAD signature from key \(fpr): the signed data or the signature was changed (a broken mirror, a proxy or an attack); do not use it"
        case .noSignature:
            return "no OpenPGP signature found"
        case .weakHash(let name):
            return "the signature uses the weak hash \(name), which is refused: the signer must sign again with SHA256 or better"
        case .io(let path, let message):
            return "cannot read \(path): \(message)"
        }
    }
}

private func hex24(_ value: UInt32) -> String {
    let s = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 6 - s.count)) + s
}

/// Formats seconds since the epoch as "YYYY-MM-DD HH:MM:SS UTC".
func formatTime(_ t: Int64) -> String { UTCTime.readable(t) }
