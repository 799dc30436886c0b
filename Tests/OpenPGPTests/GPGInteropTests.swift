import Foundation
@testable import OpenPGP
import Testing
import TestSupport

/// A message with the awkward cases: lines starting with '-', "From ", trailing spaces and tabs, no final newline.
private let awkwardMessage = Array("Origin: Test\n-----BEGIN PGP SIGNATURE-----\n- dash\n-\nFrom me\ntrailing spaces   \ttab\t\n\n  indented\nlast line without newline".utf8)

/// What verifyClearsigned returns for a message: trailing blanks dropped, every line ending in "\n".
private func expectedContent(_ message: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for line in String(decoding: message, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        var s = Substring(line)
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        out += Array(s.utf8) + [0x0A]
    }
    if message.last == 0x0A { out.removeLast() }
    return out
}

@Suite("Interoperability with gpg-generated keys and signatures")
struct GPGInteropTests {
    @Test("clear-signed, detached binary and armored signatures verify", arguments: ["rsa3072", "ed25519"])
    func signAndVerify(_ algorithm: String) throws {
        let home = try GPGHome()
        let fpr = try home.generateKey("Test <t@example.org>", algorithm: algorithm)
        let binary = try home.export()
        let armored = try home.export(armor: true)
        #expect(binary.keys.map(\.fingerprint) == [fpr])
        #expect(armored.keys.map(\.fingerprint) == [fpr])
        let key = try #require(binary.keys.first)
        #expect(key.userIDs == ["Test <t@example.org>"])
        #expect(key.algorithm == (algorithm == "ed25519" ? "EdDSA" : "RSA"))
        #expect(key.bits == (algorithm == "ed25519" ? 255 : 3072))
        #expect(key.canSign && key.hasValidSelfSignature && !key.revoked)
        let expires = try #require(key.expires)
        #expect(expires - key.created >= 2 * 86400 - 60 && expires - key.created <= 2 * 86400 + 60)
        let now = currentTime()

        for digest in [nil, "SHA512", "SHA384", "SHA224"] {
            if digest == "SHA224" && algorithm == "rsa3072" { continue }
            let extra = digest.map { ["--digest-algo", $0] } ?? []
            let clear = try home.sign(awkwardMessage, extra + ["--clearsign"])
            let (content, verification) = try OpenPGP.verifyClearsigned(clear, keyring: armored, now: now)
            #expect(content == expectedContent(awkwardMessage))
            #expect(verification.primaryFingerprint == fpr)
            #expect(verification.signingKeyFingerprint == fpr)
            if let digest { #expect(verification.hashAlgorithm == digest) }
            #expect(abs(verification.created - now) < 120)

            for armorFlag in [[], ["--armor"]] {
                let sig = try home.sign(awkwardMessage, extra + ["--detach-sign"] + armorFlag)
                let v = try OpenPGP.verifyDetached(awkwardMessage, signature: sig, keyring: binary, now: now)
                #expect(v.primaryFingerprint == fpr)
                var changed = awkwardMessage
                changed[3] ^= 1
                let error = openPGPError { try OpenPGP.verifyDetached(changed, signature: sig, keyring: binary, now: now) }
                #expect(error == .badSignature(fingerprint: fpr))
            }
        }

        // Text-mode detached signatures hash canonical line endings.
        let textSig = try home.sign(awkwardMessage, ["--textmode", "--detach-sign"])
        #expect(try OpenPGP.verifyDetached(awkwardMessage, signature: textSig, keyring: binary, now: now).primaryFingerprint == fpr)

        // After the key expired.
        let later = now + 3 * 86400
        let clear = try home.sign(awkwardMessage, ["--clearsign"])
        let error = openPGPError { try OpenPGP.verifyClearsigned(clear, keyring: binary, now: later) }
        #expect(error == .keyExpired(fingerprint: fpr, at: expires))
        #expect(error?.description.contains("expired") == true)
    }

    @Test("a signing subkey signs; the primary key is reported as the signer")
    func signingSubkey() throws {
        let home = try GPGHome()
        let fpr = try home.generateKey("Sub <sub@example.org>", algorithm: "rsa3072", usage: "cert", expire: "1y")
        let sub = try home.addSubkey(to: fpr, algorithm: "rsa3072", usage: "sign", expire: "2d")
        let keyring = try home.export()
        let key = try #require(keyring.keys.first)
        #expect(!key.canSign)
        let subkey = try #require(key.subkeys.first { $0.fingerprint == sub })
        #expect(subkey.canSign && subkey.hasValidSelfSignature)
        let now = currentTime()
        let message = Array("signed by a subkey\n".utf8)
        for args in [["--clearsign"], ["--detach-sign"], ["--detach-sign", "--armor"]] {
            let out = try home.sign(message, ["-u", sub + "!"] + args)
            let v = args == ["--clearsign"]
                ? try OpenPGP.verifyClearsigned(out, keyring: keyring, now: now).verification
                : try OpenPGP.verifyDetached(message, signature: out, keyring: keyring, now: now)
            #expect(v.primaryFingerprint == fpr)
            #expect(v.signingKeyFingerprint == sub)
        }
        // The subkey expires before its primary key.
        let out = try home.sign(message, ["-u", sub + "!", "--detach-sign"])
        let error = openPGPError { try OpenPGP.verifyDetached(message, signature: out, keyring: keyring, now: now + 3 * 86400) }
        #expect(error == .keyExpired(fingerprint: sub, at: try #require(subkey.expires)))

        // Without its binding signature the subkey is not trusted.
        var unbound = keyring
        unbound.keys[0].subkeys[0].hasValidSelfSignature = false
        let unboundError = openPGPError { try OpenPGP.verifyDetached(message, signature: out, keyring: unbound, now: now) }
        guard case .keyNotValid(let f, _) = unboundError, f == sub else { Issue.record("got \(String(describing: unboundError))"); return }
    }

    @Test("a revoked key is refused")
    func revokedKey() throws {
        let home = try GPGHome()
        let fpr = try home.generateKey("Revoked <r@example.org>", algorithm: "ed25519")
        let message = Array("hello\n".utf8)
        let sig = try home.sign(message, ["--detach-sign"])
        #expect(try OpenPGP.verifyDetached(message, signature: sig, keyring: home.export(), now: currentTime()).primaryFingerprint == fpr)
        // gpg stores a revocation certificate for each new key, with a ':' to prevent accidental import.
        let certificate = try String(contentsOfFile: home.home + "/openpgp-revocs.d/\(fpr).rev", encoding: .utf8)
            .replacingOccurrences(of: ":-----BEGIN", with: "-----BEGIN")
        try home.gpg(["--import"], input: Array(certificate.utf8))
        let keyring = try home.export()
        #expect(keyring.keys.first?.revoked == true)
        let error = openPGPError { try OpenPGP.verifyDetached(message, signature: sig, keyring: keyring, now: currentTime()) }
        #expect(error == .keyRevoked(fingerprint: fpr))
    }

    @Test("SHA1 signatures are refused as weak")
    func sha1() throws {
        let home = try GPGHome()
        _ = try home.generateKey("Weak <w@example.org>", algorithm: "rsa3072")
        let keyring = try home.export()
        let message = Array("weak\n".utf8)
        let clear = try home.sign(message, ["--digest-algo", "SHA1", "--clearsign"])
        #expect(openPGPError { try OpenPGP.verifyClearsigned(clear, keyring: keyring, now: currentTime()) } == .weakHash("SHA1"))
        let detached = try home.sign(message, ["--digest-algo", "SHA1", "--detach-sign"])
        #expect(openPGPError { try OpenPGP.verifyDetached(message, signature: detached, keyring: keyring, now: currentTime()) } == .weakHash("SHA1"))
    }

    @Test("keyrings merge; a key from either verifies")
    func merging() throws {
        let a = try GPGHome(), b = try GPGHome()
        let fa = try a.generateKey("A <a@example.org>", algorithm: "ed25519")
        let fb = try b.generateKey("B <b@example.org>", algorithm: "ed25519")
        let ka = try a.export(), kb = try b.export()
        let merged = OpenPGPKeyring.merging([ka, kb, ka])
        #expect(merged.keys.map(\.fingerprint) == [fa, fb])
        // Concatenated binary keyrings parse as one.
        let concatenated = try OpenPGPKeyring(bytes: a.gpg(["--export"]) + b.gpg(["--export"]))
        #expect(concatenated.keys.map(\.fingerprint) == [fa, fb])
        let message = Array("two keys\n".utf8)
        let sig = try b.sign(message, ["--detach-sign"])
        #expect(try OpenPGP.verifyDetached(message, signature: sig, keyring: merged, now: currentTime()).primaryFingerprint == fb)
        let error = openPGPError { try OpenPGP.verifyDetached(message, signature: sig, keyring: ka, now: currentTime()) }
        #expect(error == .unknownKey(keyIDs: [String(fb.suffix(16))]))
    }
}
