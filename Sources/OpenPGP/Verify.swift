import Crypto
import CryptoExtras
import Foundation

/// The outcome of a successful signature verification.
public struct SignatureVerification: Sendable, Equatable {
    /// Fingerprint of the primary key of the signer.
    public var primaryFingerprint: String
    /// Fingerprint of the key (primary or subkey) that made the signature.
    public var signingKeyFingerprint: String
    /// Signature creation time, seconds since the epoch.
    public var created: Int64
    /// The hash algorithm of the signature: "SHA256", "SHA512", ...
    public var hashAlgorithm: String

    /// Creates a verification result (for callers and tests that need one).
    public init(primaryFingerprint: String, signingKeyFingerprint: String, created: Int64, hashAlgorithm: String) {
        self.primaryFingerprint = primaryFingerprint
        self.signingKeyFingerprint = signingKeyFingerprint
        self.created = created
        self.hashAlgorithm = hashAlgorithm
    }
}

/// Verification of OpenPGP signatures (RFC 4880 / RFC 9580 v4 signatures; RSA and Ed25519).
public enum OpenPGP {
    /// Verifies a clear-signed message (RFC 4880 §7) such as Debian's InRelease.
    ///
    /// Returns the signed text as the signer meant it, dash-escaping removed, each line ending in "\n" and without the
    /// trailing spaces and tabs (those are not covered by the signature), and the first valid signature from a key in
    /// `keyring` valid at `now` (seconds since the epoch). Throws `OpenPGPError` otherwise; when no signature is from a
    /// known key, `unknownKey` names the issuers' key IDs.
    public static func verifyClearsigned(_ message: [UInt8], keyring: OpenPGPKeyring, now: Int64) throws
        -> (content: [UInt8], verification: SignatureVerification)
    {
        let parsed = try ClearSigned.parse(message)
        let canonical = parsed.canonicalText
        let verification = try verify(parsed.signatures, keyring: keyring, now: now, allowedHashes: parsed.declaredHashes) { _, hasher in
            hasher.update(canonical)
        }
        return (parsed.content, verification)
    }

    /// Verifies a detached binary or ASCII-armored signature (such as Debian's Release.gpg) over `data`.
    /// Binary (0x00) and canonical text (0x01) signatures are accepted.
    public static func verifyDetached(_ data: [UInt8], signature: [UInt8], keyring: OpenPGPKeyring, now: Int64) throws
        -> SignatureVerification
    {
        guard signature.count <= Limits.maxInputSize else { throw OpenPGPError.tooLarge("signature over \(Limits.maxInputSize) bytes") }
        var packets: [Packet] = []
        if Armor.looksArmored(signature) {
            let blocks = try Armor.decodeAll(signature)
            for block in blocks {
                guard block.label == "SIGNATURE" else {
                    throw OpenPGPError.malformed("expected '-----BEGIN PGP SIGNATURE-----', found '-----BEGIN PGP \(block.label)-----'")
                }
                packets += try PacketReader.parse(block.data)
            }
        } else {
            packets = try PacketReader.parse(signature)
        }
        let signatures = try signaturePackets(packets)
        var canonical: [UInt8]? = nil
        return try verify(signatures, keyring: keyring, now: now, allowedHashes: nil) { sig, hasher in
            if sig.type == SignatureType.text {
                if canonical == nil { canonical = canonicalLineEndings(data) }
                hasher.update(canonical ?? [])
            } else {
                hasher.update(data)
            }
        }
    }

    /// Signature packets of a detached signature; marker packets are ignored, anything else is an error.
    static func signaturePackets(_ packets: [Packet]) throws -> [Result<Signature, OpenPGPError>] {
        var result: [Result<Signature, OpenPGPError>] = []
        for packet in packets {
            switch packet.tag {
            case PacketTag.signature:
                do { result.append(.success(try Signature(body: packet.body))) } catch let error as OpenPGPError {
                    result.append(.failure(error))
                }
            case PacketTag.marker, PacketTag.trust: continue
            default:
                throw OpenPGPError.malformed("a detached signature holds a packet of tag \(packet.tag), not only signatures")
            }
        }
        guard !result.isEmpty else { throw OpenPGPError.noSignature }
        return result
    }

    /// Converts line endings to CR LF ("\n" not preceded by "\r" becomes "\r\n").
    static func canonicalLineEndings(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + data.count / 32)
        var previous: UInt8 = 0
        for byte in data {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    /// Tries each signature against the keyring; the first valid one wins. When none is valid, the most useful error is
    /// thrown: a problem with a known key before `unknownKey`.
    static func verify(_ signatures: [Result<Signature, OpenPGPError>], keyring: OpenPGPKeyring, now: Int64,
                       allowedHashes: Set<Int>?, feed: (Signature, inout MessageHasher) -> Void) throws -> SignatureVerification {
        var unknownIDs: [String] = []
        var errors: [OpenPGPError] = []
        // The data is hashed once per (hash algorithm, signature type); each signature continues from a copy.
        var hashed: [Int: MessageHasher] = [:]
        func contentHasher(_ signature: Signature) -> MessageHasher? {
            let cacheKey = signature.hashAlgorithm << 8 | signature.type
            if let hasher = hashed[cacheKey] { return hasher }
            guard let algorithm = HashAlgorithm(rawValue: signature.hashAlgorithm), var hasher = MessageHasher(algorithm) else { return nil }
            feed(signature, &hasher)
            hashed[cacheKey] = hasher
            return hasher
        }
        for item in signatures {
            let signature: Signature
            switch item {
            case .failure(let error): errors.append(error); continue
            case .success(let s): signature = s
            }
            guard signature.type == SignatureType.binary || signature.type == SignatureType.text else {
                errors.append(.malformed("signature of type 0x\(hexString([UInt8(truncatingIfNeeded: signature.type)])) is not a document signature"))
                continue
            }
            let candidates = keyring.candidates(for: signature)
            if candidates.isEmpty {
                for id in signature.issuerIDs where !unknownIDs.contains(id) { unknownIDs.append(id) }
                continue
            }
            for (primary, key) in candidates {
                do {
                    return try checkDocumentSignature(signature, primary: primary, key: key, now: now,
                                                      allowedHashes: allowedHashes, contentHasher: contentHasher)
                } catch let error as OpenPGPError {
                    errors.append(error)
                }
            }
        }
        // A bad signature is the most serious finding; then any other problem with a known key; then unknown keys.
        if let bad = errors.first(where: { if case .badSignature = $0 { true } else { false } }) { throw bad }
        if let error = errors.first { throw error }
        if !unknownIDs.isEmpty { throw OpenPGPError.unknownKey(keyIDs: unknownIDs) }
        throw OpenPGPError.noSignature
    }

    private static func checkDocumentSignature(_ signature: Signature, primary: OpenPGPPublicKey, key: OpenPGPPublicKey, now: Int64,
                                               allowedHashes: Set<Int>?,
                                               contentHasher: (Signature) -> MessageHasher?) throws -> SignatureVerification {
        guard let hash = HashAlgorithm(rawValue: signature.hashAlgorithm) else {
            throw OpenPGPError.unsupportedAlgorithm(HashAlgorithm.name(of: signature.hashAlgorithm))
        }
        if hash.isWeak { throw OpenPGPError.weakHash(hash.name) }
        if let allowedHashes, !allowedHashes.contains(signature.hashAlgorithm) {
            throw OpenPGPError.malformed("the signature uses \(hash.name), which the clear-signed message's 'Hash:' header does not declare")
        }
        guard !signature.hasUnknownCriticalSubpacket else {
            throw OpenPGPError.unsupportedAlgorithm("signature from \(key.fingerprint) has a critical subpacket this verifier does not understand")
        }
        guard let created = signature.created else {
            throw OpenPGPError.malformed("signature from \(key.fingerprint) has no creation time")
        }
        guard let hasher = contentHasher(signature) else { throw OpenPGPError.unsupportedAlgorithm(hash.name) }
        if created > now + Verifier.clockSkew { throw OpenPGPError.signatureFromFuture(created: created) }
        switch Verifier.check(signature, by: key, hasher: hasher) {
        case .valid: break
        case .bad: throw OpenPGPError.badSignature(fingerprint: key.fingerprint)
        case .unsupported(let what): throw OpenPGPError.unsupportedAlgorithm(what)
        }
        // The signature is genuine; now judge whether its key may be trusted for it.
        for k in key.fingerprint == primary.fingerprint ? [primary] : [primary, key] {
            guard k.hasValidSelfSignature else {
                throw OpenPGPError.keyNotValid(fingerprint: k.fingerprint, reason: k.fingerprint == primary.fingerprint
                    ? "it has no valid self-signature" : "it has no valid binding signature from its primary key")
            }
            if k.revoked { throw OpenPGPError.keyRevoked(fingerprint: k.fingerprint) }
            if let expires = k.expires, now >= expires || created >= expires {
                throw OpenPGPError.keyExpired(fingerprint: k.fingerprint, at: expires)
            }
        }
        guard key.canSign else { throw OpenPGPError.keyCannotSign(fingerprint: key.fingerprint) }
        guard created >= key.created else { throw OpenPGPError.signatureBeforeKey(fingerprint: key.fingerprint) }
        if let after = signature.expiresAfter, after > 0, now >= created + after {
            throw OpenPGPError.signatureExpired(at: created + after)
        }
        return SignatureVerification(primaryFingerprint: primary.fingerprint, signingKeyFingerprint: key.fingerprint,
                                     created: created, hashAlgorithm: hash.name)
    }
}

/// The cryptographic check of a v4 signature: hash, quick check of the left 16 bits, then RSA or Ed25519.
enum Verifier {
    enum Outcome: Equatable {
        case valid, bad
        case unsupported(String)
    }

    /// Tolerated clock difference for signatures that claim to be from the future (seconds).
    static let clockSkew: Int64 = 300

    /// Checks `signature` by `key`; `hasher` has been fed the signed data and gets the signature's trailer.
    static func check(_ signature: Signature, by key: OpenPGPPublicKey, hasher: MessageHasher) -> Outcome {
        var hasher = hasher
        hasher.update(signature.hashedPart)
        hasher.update([0x04, 0xFF] + bigEndian32(signature.hashedPart.count))
        let digest = hasher.finalize()
        let bytes = digest.bytes
        guard signature.left16.count == 2, bytes.count >= 2, bytes[0] == signature.left16[0], bytes[1] == signature.left16[1] else {
            return .bad
        }
        switch (signature.material, key.material) {
        case (.rsa(let s), .rsa(let n, let e)):
            guard [1, 3].contains(signature.publicKeyAlgorithm), [1, 3].contains(key.algorithmID) else { return .bad }
            guard let publicKey = try? _RSA.Signing.PublicKey(n: n, e: e) else {
                return .unsupported("RSA key \(key.fingerprint) of \(key.bits) bits (under 2048 bits is refused)")
            }
            guard s.count <= n.count else { return .bad }
            let padded = [UInt8](repeating: 0, count: n.count - s.count) + s
            let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: padded)
            switch digest {
            case .sha1(let d): return publicKey.isValidSignature(rsaSignature, for: d, padding: .insecurePKCS1v1_5) ? .valid : .bad
            case .sha256(let d): return publicKey.isValidSignature(rsaSignature, for: d, padding: .insecurePKCS1v1_5) ? .valid : .bad
            case .sha384(let d): return publicKey.isValidSignature(rsaSignature, for: d, padding: .insecurePKCS1v1_5) ? .valid : .bad
            case .sha512(let d): return publicKey.isValidSignature(rsaSignature, for: d, padding: .insecurePKCS1v1_5) ? .valid : .bad
            case .sha224: return .unsupported("RSA signatures with SHA224")
            }
        case (.eddsaLegacy(let r, let s), .ed25519(let point)):
            guard key.algorithmID == 22, r.count <= 32, s.count <= 32 else { return .bad }
            let raw = [UInt8](repeating: 0, count: 32 - r.count) + r + [UInt8](repeating: 0, count: 32 - s.count) + s
            return ed25519(point: point, signature: raw, message: bytes)
        case (.ed25519(let raw), .ed25519(let point)):
            guard key.algorithmID == 27 else { return .bad }
            return ed25519(point: point, signature: raw, message: bytes)
        case (.unsupported, _), (_, .unsupported):
            return .unsupported("\(PublicKeyAlgorithm.name(of: signature.publicKeyAlgorithm)) signatures")
        default:
            return .bad
        }
    }

    private static func ed25519(point: [UInt8], signature: [UInt8], message: [UInt8]) -> Outcome {
        guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: point) else { return .bad }
        return publicKey.isValidSignature(signature, for: message) ? .valid : .bad
    }
}
