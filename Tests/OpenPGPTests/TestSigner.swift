import Crypto
@testable import OpenPGP

/// Builds v4 Ed25519 keys and signatures by hand (native algorithm 27 or legacy EdDSA 22), for cases gpg cannot make.
struct TestSigner {
    let privateKey = Curve25519.Signing.PrivateKey()
    let created: Int64
    let legacy: Bool

    init(created: Int64, legacy: Bool = false) {
        self.created = created
        self.legacy = legacy
    }

    var algorithm: UInt8 { legacy ? 22 : 27 }

    /// The key packet body.
    var keyBody: [UInt8] {
        var body: [UInt8] = [4] + bigEndian32(Int(created)) + [algorithm]
        let point = Array(privateKey.publicKey.rawRepresentation)
        if legacy {
            let oid: [UInt8] = [0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01]
            body += [UInt8(oid.count)] + oid + [0x01, 0x07, 0x40] + point
        } else {
            body += point
        }
        return body
    }

    var key: OpenPGPPublicKey {
        // The body is well formed by construction.
        (try? OpenPGPPublicKey.parse(packetBody: keyBody)).flatMap { $0 } ?? OpenPGPPublicKey.placeholder
    }

    var framing: [UInt8] { [0x99, UInt8(keyBody.count >> 8), UInt8(keyBody.count & 0xFF)] + keyBody }

    /// A subpacket; `critical` sets the high bit of its type.
    static func subpacket(_ type: UInt8, _ value: [UInt8], critical: Bool = false) -> [UInt8] {
        [UInt8(value.count + 1), critical ? type | 0x80 : type] + value
    }

    func issuer() -> [UInt8] {
        Self.subpacket(33, [4] + hexBytes(key.fingerprint))
    }

    /// A signature packet body of `type` over `data` (already framed for key signatures).
    func sign(type: UInt8, data: [UInt8], created: Int64, hashed extra: [[UInt8]] = [], unhashed: [[UInt8]] = []) -> [UInt8] {
        let hashed: [UInt8] = Self.subpacket(2, bigEndian32(Int(created))) + issuer() + Array(extra.joined())
        let unhashedBytes = Array(unhashed.joined())
        var body: [UInt8] = [4, type, algorithm, 8, UInt8(hashed.count >> 8), UInt8(hashed.count & 0xFF)] + hashed
        let trailer = body + [4, 0xFF] + bigEndian32(body.count)
        body += [UInt8(unhashedBytes.count >> 8), UInt8(unhashedBytes.count & 0xFF)] + unhashedBytes
        let digest = Array(SHA256.hash(data: data + trailer))
        body += digest.prefix(2)
        let signature = (try? privateKey.signature(for: digest)).map { Array($0) } ?? []
        if legacy {
            body += mpi(Array(signature.prefix(32))) + mpi(Array(signature.suffix(32)))
        } else {
            body += signature
        }
        return body
    }

    /// A self-signed transferable public key, with optional extra subpackets on the user ID certification.
    func transferableKey(userID: String = "Hand <hand@example.org>", certification extra: [[UInt8]] = []) -> [Packet] {
        let uid = Array(userID.utf8)
        let cert = sign(type: 0x13, data: framing + [0xB4] + bigEndian32(uid.count) + uid, created: created, hashed: extra)
        return [Packet(tag: 6, body: keyBody), Packet(tag: 13, body: uid), Packet(tag: 2, body: cert)]
    }

    /// A subkey with a binding signature from `self`; `flags` key flags; `backSign` embeds a 0x19 back-signature.
    func subkeyPackets(_ subkey: TestSigner, flags: UInt8, backSign: Bool) -> [Packet] {
        let data = framing + subkey.framing
        var hashed = [Self.subpacket(27, [flags])]
        if backSign {
            hashed.append(Self.subpacket(32, subkey.sign(type: 0x19, data: data, created: subkey.created)))
        }
        let binding = sign(type: 0x18, data: data, created: subkey.created, hashed: hashed)
        return [Packet(tag: 14, body: subkey.keyBody), Packet(tag: 2, body: binding)]
    }
}

private func mpi(_ bytes: [UInt8]) -> [UInt8] {
    let trimmed = Array(bytes.drop { $0 == 0 })
    let bits = bitLength(trimmed)
    return [UInt8(bits >> 8), UInt8(bits & 0xFF)] + trimmed
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8)[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
        chars = chars.dropFirst(2)
    }
    return out
}

extension OpenPGPPublicKey {
    static let placeholder = OpenPGPPublicKey(
        fingerprint: "", keyID: "", algorithm: "", bits: 0, created: 0, expires: nil, userIDs: [], subkeys: [], canSign: false,
        revoked: false, hasValidSelfSignature: false, algorithmID: 0, body: [], material: .unsupported)
}
