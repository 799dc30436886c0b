import Foundation
@testable import OpenPGP
import Testing
import TestSupport

/// Rules that gpg cannot easily be made to break, checked with hand-built Ed25519 keys and signatures.
@Suite("Signature and key rules")
struct SignatureRulesTests {
    let now = currentTime()
    let message = Array("Origin: Hand\nLabel: made\n".utf8)

    func keyring(_ packets: [Packet]) throws -> OpenPGPKeyring {
        try OpenPGPKeyring(bytes: serialize(packets))
    }

    func detached(_ signer: TestSigner, created: Int64? = nil, hashed: [[UInt8]] = [], unhashed: [[UInt8]] = []) -> [UInt8] {
        serialize([Packet(tag: 2, body: signer.sign(type: 0, data: message, created: created ?? now - 10, hashed: hashed, unhashed: unhashed))])
    }

    @Test("native Ed25519 (algorithm 27) and legacy EdDSA keys verify", arguments: [false, true])
    func ed25519(_ legacy: Bool) throws {
        let signer = TestSigner(created: now - 1000, legacy: legacy)
        let ring = try keyring(signer.transferableKey())
        let key = try #require(ring.keys.first)
        #expect(key.algorithm == (legacy ? "EdDSA" : "Ed25519"))
        #expect(key.bits == 255 && key.hasValidSelfSignature && key.canSign && key.expires == nil)
        #expect(key.userIDs == ["Hand <hand@example.org>"])
        let v = try OpenPGP.verifyDetached(message, signature: detached(signer), keyring: ring, now: now)
        #expect(v == SignatureVerification(primaryFingerprint: key.fingerprint, signingKeyFingerprint: key.fingerprint,
                                           created: now - 10, hashAlgorithm: "SHA256"))
        // Armored, with a checksum, too.
        let armored = armor(detached(signer), label: "SIGNATURE")
        #expect(try OpenPGP.verifyDetached(message, signature: armored, keyring: ring, now: now).primaryFingerprint == key.fingerprint)
    }

    @Test("critical subpackets: unknown ones invalidate the signature, non-critical ones are ignored")
    func criticalSubpackets() throws {
        let signer = TestSigner(created: now - 1000)
        let ring = try keyring(signer.transferableKey())
        let ignored = detached(signer, hashed: [TestSigner.subpacket(100, [1, 2, 3])])
        #expect(throws: Never.self) { try OpenPGP.verifyDetached(message, signature: ignored, keyring: ring, now: now) }
        let critical = detached(signer, hashed: [TestSigner.subpacket(100, [1, 2, 3], critical: true)])
        let error = openPGPError { try OpenPGP.verifyDetached(message, signature: critical, keyring: ring, now: now) }
        guard case .unsupportedAlgorithm(let what) = error, what.contains("critical") else {
            Issue.record("got \(String(describing: error))"); return
        }
        // A critical unknown subpacket in a self-signature makes the key unusable.
        let badKey = try keyring(signer.transferableKey(certification: [TestSigner.subpacket(101, [0], critical: true)]))
        #expect(badKey.keys.first?.hasValidSelfSignature == false)
        let keyError = openPGPError { try OpenPGP.verifyDetached(message, signature: ignored, keyring: badKey, now: now) }
        guard case .keyNotValid = keyError else { Issue.record("got \(String(describing: keyError))"); return }
    }

    @Test("signature times: expired, from the future, before the key")
    func signatureTimes() throws {
        let signer = TestSigner(created: now - 1000)
        let ring = try keyring(signer.transferableKey())
        let expiring = detached(signer, created: now - 100, hashed: [TestSigner.subpacket(3, bigEndian32(60))])
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: expiring, keyring: ring, now: now) }
            == .signatureExpired(at: now - 40))
        #expect(throws: Never.self) { try OpenPGP.verifyDetached(message, signature: expiring, keyring: ring, now: now - 50) }
        let future = detached(signer, created: now + 3600)
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: future, keyring: ring, now: now) }
            == .signatureFromFuture(created: now + 3600))
        let early = detached(signer, created: now - 5000)
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: early, keyring: ring, now: now) }
            == .signatureBeforeKey(fingerprint: signer.key.fingerprint))
        // Issuer only in the unhashed area still finds the key; a changed creation time breaks the signature.
        var tampered = signer.sign(type: 0, data: message, created: now - 10)
        tampered[8] ^= 1   // inside the creation-time subpacket
        let error = openPGPError {
            try OpenPGP.verifyDetached(message, signature: serialize([Packet(tag: 2, body: tampered)]), keyring: ring, now: now)
        }
        #expect(error == .badSignature(fingerprint: signer.key.fingerprint))
    }

    @Test("key flags, subkey back-signatures, subkey revocation, missing self-signatures")
    func keyRules() throws {
        let primary = TestSigner(created: now - 1000)
        let sub = TestSigner(created: now - 900)
        let certOnly = [TestSigner.subpacket(27, [0x01])]

        // A primary key whose flags do not allow signing.
        let ring1 = try keyring(primary.transferableKey(certification: certOnly))
        #expect(ring1.keys.first?.canSign == false)
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: detached(primary), keyring: ring1, now: now) }
            == .keyCannotSign(fingerprint: primary.key.fingerprint))

        // A signing subkey with its back-signature.
        let ring2 = try keyring(primary.transferableKey(certification: certOnly) + primary.subkeyPackets(sub, flags: 0x02, backSign: true))
        #expect(ring2.keys.first?.subkeys.first?.canSign == true)
        let v = try OpenPGP.verifyDetached(message, signature: detached(sub), keyring: ring2, now: now)
        #expect(v.primaryFingerprint == primary.key.fingerprint && v.signingKeyFingerprint == sub.key.fingerprint)

        // Without the back-signature, anyone could claim the subkey: refused.
        let ring3 = try keyring(primary.transferableKey(certification: certOnly) + primary.subkeyPackets(sub, flags: 0x02, backSign: false))
        #expect(ring3.keys.first?.subkeys.first?.canSign == false)
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: detached(sub), keyring: ring3, now: now) }
            == .keyCannotSign(fingerprint: sub.key.fingerprint))

        // A binding signature made by some other key does not bind.
        let stranger = TestSigner(created: now - 1000)
        let forged = stranger.subkeyPackets(sub, flags: 0x02, backSign: true)
        let ring4 = try keyring(primary.transferableKey() + [forged[0], Packet(tag: 2, body: forged[1].body)])
        #expect(ring4.keys.first?.subkeys.first?.hasValidSelfSignature == false)

        // A revoked subkey.
        let revocation = primary.sign(type: 0x28, data: primary.framing + sub.framing, created: now - 100)
        let ring5 = try keyring(primary.transferableKey() + primary.subkeyPackets(sub, flags: 0x02, backSign: true)
            + [Packet(tag: 2, body: revocation)])
        #expect(ring5.keys.first?.subkeys.first?.revoked == true)
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: detached(sub), keyring: ring5, now: now) }
            == .keyRevoked(fingerprint: sub.key.fingerprint))

        // A key with no self-signature at all.
        let bare = try keyring([Packet(tag: 6, body: primary.keyBody), Packet(tag: 13, body: Array("x".utf8))])
        let error = openPGPError { try OpenPGP.verifyDetached(message, signature: detached(primary), keyring: bare, now: now) }
        guard case .keyNotValid = error else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test("the key expiration of the newest self-signature rules")
    func newestSelfSignature() throws {
        let signer = TestSigner(created: now - 1000)
        let uid = Array("Hand <hand@example.org>".utf8)
        let data = signer.framing + [0xB4] + bigEndian32(uid.count) + uid
        let old = signer.sign(type: 0x13, data: data, created: now - 900, hashed: [TestSigner.subpacket(9, bigEndian32(950))])
        let new = signer.sign(type: 0x13, data: data, created: now - 800, hashed: [TestSigner.subpacket(9, bigEndian32(5000))])
        for order in [[old, new], [new, old]] {
            let ring = try keyring([Packet(tag: 6, body: signer.keyBody), Packet(tag: 13, body: uid)] + order.map { Packet(tag: 2, body: $0) })
            #expect(ring.keys.first?.expires == now - 1000 + 5000)
        }
        let ring = try keyring([Packet(tag: 6, body: signer.keyBody), Packet(tag: 13, body: uid), Packet(tag: 2, body: old)])
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: detached(signer), keyring: ring, now: now) }
            == .keyExpired(fingerprint: signer.key.fingerprint, at: now - 50))
    }

    @Test("one valid signature among several is enough; unknown issuers are skipped")
    func severalSignatures() throws {
        let known = TestSigner(created: now - 1000), unknown = TestSigner(created: now - 1000)
        let ring = try keyring(known.transferableKey())
        let both = detached(unknown) + detached(known)
        let v = try OpenPGP.verifyDetached(message, signature: both, keyring: ring, now: now)
        #expect(v.primaryFingerprint == known.key.fingerprint)
        let error = openPGPError { try OpenPGP.verifyDetached(message, signature: detached(unknown), keyring: ring, now: now) }
        #expect(error == .unknownKey(keyIDs: [unknown.key.keyID]))
        // Marker packets are ignored; other packets are not signatures.
        let marker = serialize([Packet(tag: 10, body: Array("PGP".utf8))])
        #expect(throws: Never.self) { try OpenPGP.verifyDetached(message, signature: marker + both, keyring: ring, now: now) }
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: marker, keyring: ring, now: now) } == .noSignature)
    }

    @Test("partial body lengths are read where legal")
    func partialLengths() throws {
        // A literal packet in two partial chunks (512 bytes, then 3 bytes), then a marker.
        let data = [UInt8](repeating: 0x41, count: 515)
        let bytes: [UInt8] = [0xCB, 0xE9] + data.prefix(512) + [0x03] + data.suffix(3) + [0xCA, 0x03] + Array("PGP".utf8)
        let packets = try PacketReader.parse(bytes)
        #expect(packets.map(\.tag) == [11, 10])
        #expect(packets.first?.body == data)
        #expect(throws: OpenPGPError.self) { try PacketReader.parse([0xCB, 0xE9] + data.prefix(100)) }
    }
}

@Suite("Clear-signed framework details")
struct ClearSignedTests {
    @Test("CRLF input, Hash header checks, empty text, multiple signatures")
    func framework() throws {
        let home = try GPGHome()
        let fpr = try home.generateKey("Clear <c@example.org>", algorithm: "ed25519")
        let keyring = try home.export()
        let now = currentTime()
        let message = Array("line one\n- dashed\n\nline four  \n".utf8)
        let clear = try home.sign(message, ["--clearsign"])

        let crlf = Array(String(decoding: clear, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
        let (content, v) = try OpenPGP.verifyClearsigned(crlf, keyring: keyring, now: now)
        #expect(content == Array("line one\n- dashed\n\nline four\n".utf8))
        #expect(v.primaryFingerprint == fpr)

        let wrongHeader = replacing(clear, "Hash: SHA256", "Hash: SHA512")
        let error = openPGPError { try OpenPGP.verifyClearsigned(wrongHeader, keyring: keyring, now: now) }
        guard case .malformed(let m) = error, m.contains("Hash:") else { Issue.record("got \(String(describing: error))"); return }

        let trailing = clear + Array("\nsmuggled text\n".utf8)
        #expect(throws: OpenPGPError.self) { try OpenPGP.verifyClearsigned(trailing, keyring: keyring, now: now) }

        let empty = try home.sign([], ["--clearsign"])
        // gpg writes one empty line for an empty message; it hashes the same as no line at all.
        #expect(try OpenPGP.verifyClearsigned(empty, keyring: keyring, now: now).content == [0x0A])

        // Two signers in one block, as in Debian's InRelease; the keyring knows only the second.
        let other = try GPGHome()
        let otherFpr = try other.generateKey("Other <o@example.org>", algorithm: "rsa3072")
        try other.gpg(["--import"], input: try home.gpg(["--export-secret-keys"]))
        let twice = try other.sign(message, ["--clearsign", "-u", otherFpr, "-u", fpr])
        let text = String(decoding: twice, as: UTF8.self)
        #expect(text.components(separatedBy: "-----BEGIN PGP SIGNATURE-----").count == 2)
        #expect(try OpenPGP.verifyClearsigned(twice, keyring: keyring, now: now).verification.primaryFingerprint == fpr)
        #expect(try OpenPGP.verifyClearsigned(twice, keyring: other.export(), now: now).verification.primaryFingerprint == otherFpr)
    }
}
