import Crypto
import Foundation

/// The public values of a key.
enum KeyMaterial: Sendable {
    case rsa(n: [UInt8], e: [UInt8])
    case ed25519([UInt8])
    case unsupported
}

/// An OpenPGP public key (primary key or subkey) as read from a keyring, with the validity its
/// self-signatures give it.
public struct OpenPGPPublicKey: Sendable {
    /// The v4 fingerprint: 40 uppercase hexadecimal digits.
    public var fingerprint: String
    /// The key ID: the last 16 hexadecimal digits of the fingerprint.
    public var keyID: String
    /// The public-key algorithm: "RSA", "EdDSA", "Ed25519", "DSA", ...
    public var algorithm: String
    /// The key size: RSA modulus bits, 255 for Ed25519, the curve size for other elliptic curves.
    public var bits: Int
    /// Creation time, seconds since the epoch.
    public var created: Int64
    /// Expiration time (seconds since the epoch) from the newest valid self-signature or binding signature; nil if none.
    public var expires: Int64?
    /// The user IDs of a primary key (empty for subkeys).
    public var userIDs: [String]
    /// The subkeys of a primary key (empty for subkeys).
    public var subkeys: [OpenPGPPublicKey]
    /// Whether the key may make signatures: from the key flags when present, else from the algorithm.
    /// A signing subkey also needs a valid primary-key binding back-signature.
    public var canSign: Bool
    /// Whether a valid revocation signature from the primary key was found.
    public var revoked: Bool
    /// Whether a valid self-signature (primary key) or binding signature (subkey) was found. Keys without one are never used.
    public var hasValidSelfSignature: Bool

    var algorithmID: Int
    var body: [UInt8]
    var material: KeyMaterial

    /// The bytes hashed for key signatures: 0x99, 2-byte length, key packet body.
    var hashFraming: [UInt8] {
        [0x99, UInt8(truncatingIfNeeded: body.count >> 8), UInt8(truncatingIfNeeded: body.count)] + body
    }

    /// Parses a v4 key packet body; nil for other versions (v3 keys are obsolete, v5/v6 not handled).
    static func parse(packetBody body: [UInt8]) throws -> OpenPGPPublicKey? {
        guard body.count <= 0xFFFF else { throw OpenPGPError.tooLarge("key packet over 65535 bytes") }
        var reader = ByteReader(body, context: "public key packet")
        let version = try reader.u8()
        guard version == 4 else { return nil }
        let created = Int64(try reader.u32())
        let algo = Int(try reader.u8())
        var material = KeyMaterial.unsupported
        var bits = 0
        var algorithm = PublicKeyAlgorithm.name(of: algo)
        // Key material that fails to parse leaves the key listed but unusable.
        var m = reader
        switch algo {
        case 1, 2, 3:
            if let n = try? m.mpi(), let e = try? m.mpi(), !n.isEmpty, !e.isEmpty {
                material = .rsa(n: n, e: e)
                bits = bitLength(n)
            }
        case 16, 17:
            bits = (try? m.mpi()).map(bitLength) ?? 0
        case 18, 19, 22:
            if let oidLength = try? m.u8(), oidLength != 0, oidLength != 0xFF, let oid = try? m.take(Int(oidLength)) {
                let curve = Curve(oid: oid)
                bits = curve.bits
                if algo == 22, curve == .ed25519, let point = try? m.mpi(), point.count == 33, point[0] == 0x40 {
                    material = .ed25519(Array(point[1...]))
                } else if algo == 22, curve == .ed448 {
                    algorithm = "EdDSA (Ed448)"
                }
            }
        case 27:
            if let point = try? m.take(32) { material = .ed25519(point) }
            bits = 255
        case 25: bits = 255
        case 26, 28: bits = 448
        default: break
        }
        var framing: [UInt8] = [0x99, UInt8(truncatingIfNeeded: body.count >> 8), UInt8(truncatingIfNeeded: body.count)]
        framing += body
        let fingerprint = hexString(Array(Insecure.SHA1.hash(data: framing)))
        return OpenPGPPublicKey(
            fingerprint: fingerprint, keyID: String(fingerprint.suffix(16)), algorithm: algorithm, bits: bits,
            created: created, expires: nil, userIDs: [], subkeys: [], canSign: PublicKeyAlgorithm.canSign(algo),
            revoked: false, hasValidSelfSignature: false, algorithmID: algo, body: body, material: material)
    }
}

/// Elliptic curves named by OID in key packets.
enum Curve: Equatable {
    case ed25519, cv25519, ed448, nistP256, nistP384, nistP521, other

    init(oid: [UInt8]) {
        switch oid {
        case [0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01]: self = .ed25519
        case [0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01]: self = .cv25519
        case [0x2B, 0x65, 0x71]: self = .ed448
        case [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]: self = .nistP256
        case [0x2B, 0x81, 0x04, 0x00, 0x22]: self = .nistP384
        case [0x2B, 0x81, 0x04, 0x00, 0x23]: self = .nistP521
        default: self = .other
        }
    }

    var bits: Int {
        switch self {
        case .ed25519, .cv25519: 255
        case .ed448: 448
        case .nistP256: 256
        case .nistP384: 384
        case .nistP521: 521
        case .other: 0
        }
    }
}

/// A set of OpenPGP public keys (transferable public keys), such as /usr/share/keyrings/debian-archive-keyring.gpg.
public struct OpenPGPKeyring: Sendable {
    /// The primary keys, each with its subkeys.
    public var keys: [OpenPGPPublicKey]

    /// Parses a binary keyring (any number of transferable public keys) or ASCII-armored public key blocks.
    /// Keys of versions or algorithms that are not supported are listed but never used. Empty input gives an empty keyring.
    public init(bytes: [UInt8]) throws {
        guard bytes.count <= Limits.maxInputSize else { throw OpenPGPError.tooLarge("keyring over \(Limits.maxInputSize) bytes") }
        if bytes.allSatisfy({ [0x20, 0x09, 0x0D, 0x0A].contains($0) }) {
            keys = []
            return
        }
        var packets: [Packet] = []
        if Armor.looksArmored(bytes) {
            let blocks = try Armor.decodeAll(bytes).filter { $0.label == "PUBLIC KEY BLOCK" }
            guard !blocks.isEmpty else { throw OpenPGPError.malformed("no '-----BEGIN PGP PUBLIC KEY BLOCK-----' in the keyring") }
            for block in blocks {
                packets += try PacketReader.parse(block.data)
                guard packets.count <= Limits.maxPackets else { throw OpenPGPError.tooLarge("more than \(Limits.maxPackets) packets") }
            }
        } else {
            packets = try PacketReader.parse(bytes)
        }
        keys = try KeyringBuilder.build(packets)
        if keys.isEmpty {
            if packets.contains(where: { $0.tag == PacketTag.publicKey }) {
                throw OpenPGPError.unsupportedAlgorithm("the keyring holds only keys of versions other than 4")
            }
            throw OpenPGPError.malformed("no public key in the keyring")
        }
    }

    /// Reads a keyring file (binary or armored).
    public init(contentsOf path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw OpenPGPError.io(path: path, message: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: Limits.maxInputSize + 1) ?? Data() } catch {
            throw OpenPGPError.io(path: path, message: "\(error)")
        }
        guard data.count <= Limits.maxInputSize else { throw OpenPGPError.tooLarge("\(path) is over \(Limits.maxInputSize) bytes") }
        try self.init(bytes: [UInt8](data))
    }

    /// Creates a keyring from keys.
    public init(keys: [OpenPGPPublicKey]) {
        self.keys = keys
    }

    /// One keyring with the keys of all `keyrings`; a key found twice keeps its first copy, plus subkeys only the later copies have.
    public static func merging(_ keyrings: [OpenPGPKeyring]) -> OpenPGPKeyring {
        var merged: [OpenPGPPublicKey] = []
        var index: [String: Int] = [:]
        for key in keyrings.flatMap(\.keys) {
            if let i = index[key.fingerprint] {
                for sub in key.subkeys where !merged[i].subkeys.contains(where: { $0.fingerprint == sub.fingerprint }) {
                    merged[i].subkeys.append(sub)
                }
            } else {
                index[key.fingerprint] = merged.count
                merged.append(key)
            }
        }
        return OpenPGPKeyring(keys: merged)
    }

    /// Keys (primary, signing key) that may have made `signature`, by issuer fingerprint, else issuer key ID, else all.
    func candidates(for signature: Signature) -> [(primary: OpenPGPPublicKey, key: OpenPGPPublicKey)] {
        var result: [(primary: OpenPGPPublicKey, key: OpenPGPPublicKey)] = []
        let fingerprints = Set(signature.issuerFingerprints), ids = Set(signature.issuerKeyIDs)
        func matches(_ key: OpenPGPPublicKey) -> Bool {
            if !fingerprints.isEmpty { return fingerprints.contains(key.fingerprint) }
            if !ids.isEmpty { return ids.contains(key.keyID) }
            return true
        }
        for primary in keys {
            if matches(primary) { result.append((primary, primary)) }
            for sub in primary.subkeys where matches(sub) { result.append((primary, sub)) }
        }
        return result
    }
}

/// Groups packets into transferable public keys and checks their self-signatures.
enum KeyringBuilder {
    /// SHA-1 self-signatures are accepted only when made before 2023-02-01.
    static let sha1SelfSignatureCutoff: Int64 = 1_675_209_600
    /// Largest user ID kept.
    static let maxUserIDSize = 64 << 10

    private struct Block {
        var primary: OpenPGPPublicKey
        var directSignatures: [Signature] = []
        var userIDs: [(bytes: [UInt8], signatures: [Signature])] = []
        var subkeys: [(key: OpenPGPPublicKey, signatures: [Signature])] = []
    }

    /// Where the next signature belongs; `ignored` drops signatures (user attributes, oversized user IDs, unknown
    /// packets, subkeys of other versions), `skipped` drops everything up to the next primary key.
    private enum Position { case none, skipped, primary, userID, subkey, ignored }

    static func build(_ packets: [Packet]) throws -> [OpenPGPPublicKey] {
        var blocks: [Block] = []
        var position = Position.none
        for (n, packet) in packets.enumerated() {
            switch packet.tag {
            case PacketTag.publicKey:
                if let key = try OpenPGPPublicKey.parse(packetBody: packet.body) {
                    blocks.append(Block(primary: key))
                    position = .primary
                } else {
                    position = .skipped
                }
            case PacketTag.userID, PacketTag.userAttribute, PacketTag.publicSubkey, PacketTag.signature:
                if position == .skipped { continue }
                guard position != .none, !blocks.isEmpty else {
                    throw OpenPGPError.malformed("packet \(n) (tag \(packet.tag)) comes before any public key")
                }
                let last = blocks.count - 1
                switch packet.tag {
                case PacketTag.userID:
                    // Oversized user IDs are dropped with their signatures (they would only cost hashing time).
                    if packet.body.count <= KeyringBuilder.maxUserIDSize {
                        blocks[last].userIDs.append((packet.body, []))
                        position = .userID
                    } else {
                        position = .ignored
                    }
                case PacketTag.userAttribute:
                    position = .ignored
                case PacketTag.publicSubkey:
                    if let key = try OpenPGPPublicKey.parse(packetBody: packet.body) {
                        blocks[last].subkeys.append((key, []))
                        position = .subkey
                    } else {
                        position = .ignored
                    }
                default:
                    // Signatures that cannot be parsed (other versions, damage) are ignored in keyrings.
                    guard let signature = try? Signature(body: packet.body) else { continue }
                    switch position {
                    case .primary: blocks[last].directSignatures.append(signature)
                    case .userID:
                        if let u = blocks[last].userIDs.indices.last { blocks[last].userIDs[u].signatures.append(signature) }
                    case .subkey:
                        if let s = blocks[last].subkeys.indices.last { blocks[last].subkeys[s].signatures.append(signature) }
                    default: break
                    }
                }
            case PacketTag.trust, PacketTag.marker:
                continue
            case PacketTag.secretKey, PacketTag.secretSubkey:
                throw OpenPGPError.malformed("the keyring holds a secret key (packet \(n)): export only the public key (gpg --export)")
            default:
                // Unknown packets (private or experimental tags) are skipped with the signatures that follow them.
                if position != .none && position != .skipped { position = .ignored }
            }
        }
        return blocks.map(validate)
    }

    private static func newest(_ signatures: [Signature]) -> Signature? {
        signatures.max { ($0.created ?? 0) < ($1.created ?? 0) }
    }

    private static func isSelfIssued(_ signature: Signature, by key: OpenPGPPublicKey) -> Bool {
        if !signature.issuerFingerprints.isEmpty { return signature.issuerFingerprints.contains(key.fingerprint) }
        if !signature.issuerKeyIDs.isEmpty { return signature.issuerKeyIDs.contains(key.keyID) }
        return true
    }

    /// Whether `signature` by `key` over `feed` (key and user ID framing) is valid as a key signature.
    static func validKeySignature(_ signature: Signature, by key: OpenPGPPublicKey, notBefore: Int64,
                                  feed: [UInt8]) -> Bool {
        guard let created = signature.created, created >= notBefore, !signature.hasUnknownCriticalSubpacket,
              let algorithm = HashAlgorithm(rawValue: signature.hashAlgorithm) else { return false }
        switch algorithm {
        case .md5, .ripemd160: return false
        case .sha1 where created >= sha1SelfSignatureCutoff: return false
        default: break
        }
        guard var hasher = MessageHasher(algorithm) else { return false }
        hasher.update(feed)
        return Verifier.check(signature, by: key, hasher: hasher) == .valid
    }

    private static func validate(_ block: Block) -> OpenPGPPublicKey {
        var primary = block.primary
        let primaryFraming = primary.hashFraming
        primary.userIDs = block.userIDs.map { String(decoding: $0.bytes, as: UTF8.self) }

        // Self-signatures: certifications of user IDs and direct-key signatures. Key expiration and flags come from
        // the newest certification of the primary user ID (else of any user ID), else from the newest direct-key signature.
        var certifications: [Signature] = []
        var directKeySignatures: [Signature] = []
        for (uid, signatures) in block.userIDs {
            let feed = primaryFraming + [0xB4] + bigEndian32(uid.count) + uid
            for s in signatures where SignatureType.certifications.contains(s.type) && isSelfIssued(s, by: primary)
                && validKeySignature(s, by: primary, notBefore: primary.created, feed: feed) {
                certifications.append(s)
            }
        }
        for s in block.directSignatures where isSelfIssued(s, by: primary) {
            switch s.type {
            case SignatureType.directKey:
                if validKeySignature(s, by: primary, notBefore: primary.created, feed: primaryFraming) { directKeySignatures.append(s) }
            case SignatureType.keyRevocation:
                if validKeySignature(s, by: primary, notBefore: primary.created, feed: primaryFraming) { primary.revoked = true }
            default: break
            }
        }
        let primaryUserID = certifications.filter(\.isPrimaryUserID)
        let certification = newest(primaryUserID.isEmpty ? certifications : primaryUserID)
        let direct = newest(directKeySignatures)
        if certification != nil || direct != nil {
            primary.hasValidSelfSignature = true
            if let after = certification?.keyExpiresAfter ?? direct?.keyExpiresAfter, after > 0 { primary.expires = primary.created + after }
            if let flags = certification?.keyFlags ?? direct?.keyFlags {
                primary.canSign = flags & 0x02 != 0 && PublicKeyAlgorithm.canSign(primary.algorithmID)
            }
        }

        for (subkey, signatures) in block.subkeys {
            var sub = subkey
            let feed = primaryFraming + sub.hashFraming
            var bindings: [Signature] = []
            for s in signatures where isSelfIssued(s, by: primary) {
                if s.type == SignatureType.subkeyBinding, validKeySignature(s, by: primary, notBefore: sub.created, feed: feed) {
                    bindings.append(s)
                } else if s.type == SignatureType.subkeyRevocation,
                          validKeySignature(s, by: primary, notBefore: primary.created, feed: feed) {
                    sub.revoked = true
                }
            }
            if let newest = newest(bindings) {
                sub.hasValidSelfSignature = true
                if let after = newest.keyExpiresAfter, after > 0 { sub.expires = sub.created + after }
                var wantsSign = PublicKeyAlgorithm.canSign(sub.algorithmID)
                if let flags = newest.keyFlags { wantsSign = wantsSign && flags & 0x02 != 0 }
                // A signing subkey must prove that it agrees to be bound: an embedded 0x19 back-signature.
                let backSigned = newest.embedded.contains { body in
                    guard let back = try? Signature(body: body), back.type == SignatureType.primaryKeyBinding else { return false }
                    return validKeySignature(back, by: sub, notBefore: sub.created, feed: feed)
                }
                sub.canSign = wantsSign && backSigned
            } else {
                sub.canSign = false
            }
            primary.subkeys.append(sub)
        }
        return primary
    }
}
