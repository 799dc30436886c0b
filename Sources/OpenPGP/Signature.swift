/// Public-key algorithm identifiers (RFC 4880 §9.1, RFC 9580 §9.1).
enum PublicKeyAlgorithm {
    static func name(of id: Int) -> String {
        switch id {
        case 1, 2, 3: "RSA"
        case 16: "ElGamal"
        case 17: "DSA"
        case 18: "ECDH"
        case 19: "ECDSA"
        case 22: "EdDSA"
        case 25: "X25519"
        case 26: "X448"
        case 27: "Ed25519"
        case 28: "Ed448"
        default: "algorithm \(id)"
        }
    }

    /// Algorithms that can make signatures at all.
    static func canSign(_ id: Int) -> Bool { [1, 3, 17, 19, 22, 27, 28].contains(id) }
}

/// Signature types used here (RFC 4880 §5.2.1).
enum SignatureType {
    static let binary = 0x00
    static let text = 0x01
    static let certifications = 0x10...0x13
    static let subkeyBinding = 0x18
    static let primaryKeyBinding = 0x19
    static let directKey = 0x1F
    static let keyRevocation = 0x20
    static let subkeyRevocation = 0x28
    static let certificationRevocation = 0x30
}

/// The cryptographic values of a signature.
enum SignatureMaterial: Sendable {
    case rsa(s: [UInt8])
    case eddsaLegacy(r: [UInt8], s: [UInt8])
    case ed25519([UInt8])
    case unsupported
}

/// A parsed v4 signature packet.
struct Signature: Sendable {
    var version: Int
    var type: Int
    var publicKeyAlgorithm: Int
    var hashAlgorithm: Int
    /// The hashed part of the packet: version through the hashed subpackets (the start of the hash trailer).
    var hashedPart: [UInt8]
    var left16: [UInt8]
    var material: SignatureMaterial

    var created: Int64?
    /// Seconds after creation; nil or 0 means it does not expire.
    var expiresAfter: Int64?
    /// Key expiration (seconds after key creation) when this is a self-signature.
    var keyExpiresAfter: Int64?
    var keyFlags: UInt8?
    var isPrimaryUserID = false
    var issuerKeyIDs: [String] = []
    var issuerFingerprints: [String] = []
    /// Embedded signatures (packet bodies), for primary-key binding back-signatures.
    var embedded: [[UInt8]] = []
    /// A critical subpacket this implementation does not understand makes the signature invalid.
    var hasUnknownCriticalSubpacket = false

    /// Key IDs this signature claims to be from (from fingerprints and issuer subpackets).
    var issuerIDs: [String] {
        var ids = issuerFingerprints.map { String($0.suffix(16)) }
        for id in issuerKeyIDs where !ids.contains(id) { ids.append(id) }
        return ids
    }

    /// Subpacket types understood or safe to ignore even when marked critical.
    private static let knownSubpackets: Set<Int> = [2, 3, 4, 5, 7, 9, 11, 12, 16, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 37, 39]

    init(body: [UInt8]) throws {
        var reader = ByteReader(body, context: "signature packet")
        version = Int(try reader.u8())
        guard version == 4 else { throw OpenPGPError.unsupportedAlgorithm("signature version \(version)") }
        type = Int(try reader.u8())
        publicKeyAlgorithm = Int(try reader.u8())
        hashAlgorithm = Int(try reader.u8())
        let hashedLength = try reader.u16()
        let hashed = try reader.take(hashedLength)
        hashedPart = Array(body[0..<reader.position])
        let unhashedLength = try reader.u16()
        let unhashed = try reader.take(unhashedLength)
        left16 = try reader.take(2)
        switch publicKeyAlgorithm {
        case 1, 3:
            material = .rsa(s: try reader.mpi())
        case 22:
            let r = try reader.mpi(), s = try reader.mpi()
            material = .eddsaLegacy(r: r, s: s)
        case 27:
            material = .ed25519(try reader.take(64))
        default:
            material = .unsupported
        }
        try parseSubpackets(hashed, hashed: true)
        try parseSubpackets(unhashed, hashed: false)
    }

    private mutating func parseSubpackets(_ data: [UInt8], hashed: Bool) throws {
        var reader = ByteReader(data, context: "signature subpackets")
        while !reader.isAtEnd {
            let first = Int(try reader.u8())
            let length: Int
            switch first {
            case 0..<192: length = first
            case 192..<255: length = ((first - 192) << 8) + Int(try reader.u8()) + 192
            default: length = Int(try reader.u32())
            }
            guard length >= 1 else { throw OpenPGPError.malformed("empty signature subpacket") }
            let typeByte = Int(try reader.u8())
            let critical = typeByte & 0x80 != 0
            let type = typeByte & 0x7F
            let value = try reader.take(length - 1)
            if critical && !Signature.knownSubpackets.contains(type) { hasUnknownCriticalSubpacket = true }
            if !hashed {
                // Only self-authenticating hints are taken from the unhashed area.
                switch type {
                case 16 where value.count == 8: issuerKeyIDs.append(hexString(value))
                case 33 where value.count >= 2: issuerFingerprints.append(hexString(value.dropFirst()))
                case 32: embedded.append(value)
                default: break
                }
                continue
            }
            switch type {
            case 2 where value.count == 4: created = Int64(be32(value))
            case 3 where value.count == 4: expiresAfter = Int64(be32(value))
            case 9 where value.count == 4: keyExpiresAfter = Int64(be32(value))
            case 16 where value.count == 8: issuerKeyIDs.append(hexString(value))
            case 33 where value.count >= 2: issuerFingerprints.append(hexString(value.dropFirst()))
            case 27: keyFlags = value.first ?? 0
            case 25: isPrimaryUserID = value.first.map { $0 != 0 } ?? false
            case 32: embedded.append(value)
            case 2, 3, 9, 16, 33:
                throw OpenPGPError.malformed("signature subpacket \(type) has a bad length \(value.count)")
            default: break
            }
        }
    }
}

func be32(_ b: [UInt8]) -> UInt32 {
    b.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
}
