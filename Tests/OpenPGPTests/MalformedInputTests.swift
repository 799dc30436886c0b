import Foundation
@testable import OpenPGP
import Testing
import TestSupport

@Suite("Hostile and malformed input")
struct MalformedInputTests {
    static let archiveKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

    @Test("a truncated keyring gives a typed error at every length")
    func truncatedKeyring() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.archiveKeyring)))
        for length in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 97)) {
            do { _ = try OpenPGPKeyring(bytes: Array(bytes.prefix(length))) } catch is OpenPGPError {} catch {
                Issue.record("untyped error \(error)")
            }
        }
        #expect(throws: OpenPGPError.self) { try OpenPGPKeyring(bytes: Array(bytes.prefix(bytes.count - 1))) }
    }

    @Test("flipped bytes in a keyring never crash")
    func flippedBytes() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.archiveKeyring)))
        var state: UInt64 = 0x1234_5678
        for _ in 0..<150 {
            var copy = bytes
            for _ in 0..<4 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                copy[Int(state >> 33) % copy.count] ^= UInt8(truncatingIfNeeded: state >> 13) | 1
            }
            do { _ = try OpenPGPKeyring(bytes: copy) } catch is OpenPGPError {} catch { Issue.record("untyped error \(error)") }
        }
    }

    @Test("a wrong armor CRC is rejected; a missing one is accepted")
    func armorChecksum() throws {
        let home = try GPGHome()
        _ = try home.generateKey("Armor <a@example.org>", algorithm: "ed25519")
        let armored = String(decoding: try home.gpg(["--export", "--armor"]), as: UTF8.self)
        var lines = armored.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let crcIndex = try #require(lines.firstIndex { $0.hasPrefix("=") && $0.count == 5 })
        let good = lines[crcIndex]
        lines[crcIndex] = "=" + (good.dropFirst().first == "A" ? "B" : "A") + good.dropFirst(2)
        let error = openPGPError { try OpenPGPKeyring(bytes: Array(lines.joined(separator: "\n").utf8)) }
        guard case .armorChecksumMismatch = error else { Issue.record("got \(String(describing: error))"); return }
        lines.remove(at: crcIndex)
        #expect(try OpenPGPKeyring(bytes: Array(lines.joined(separator: "\n").utf8)).keys.count == 1)
        #expect(Armor.crc24(Array("123456789".utf8)) == 0x21CF02)
    }

    @Test("garbage and huge lengths give typed errors", arguments: [
        [UInt8](repeating: 0x00, count: 10),
        [0x99, 0xFF, 0xFF],                                  // old format, 65535 bytes announced
        [0xC6, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x04],           // new format, 2 GiB announced
        [0xC6, 0xFF, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 16),  // 2 MiB, over the packet limit
        [0xC6, 0xE5, 0x04],                                  // partial length on a key packet
        [0xC2, 0x05, 0x04, 0x00, 0x01, 0x08, 0x00],           // signature before any key
        Array("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n".utf8),
        Array("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n".utf8),
        Array("hello world".utf8),
        [0x98, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01],     // RSA key with no MPIs: listed, unusable
        [0xC6, 0x03, 0x04, 0x00, 0x00],                      // truncated key packet
    ])
    func garbage(_ bytes: [UInt8]) {
        do {
            let keyring = try OpenPGPKeyring(bytes: bytes)
            #expect(keyring.keys.allSatisfy { !$0.hasValidSelfSignature })
        } catch is OpenPGPError {} catch { Issue.record("untyped error \(error)") }
    }

    @Test("too many packets are refused")
    func packetCount() {
        let many = [UInt8](repeating: 0xC0 | 10, count: 1) + [3] + Array("PGP".utf8)
        let bytes = Array([[UInt8]](repeating: many, count: Limits.maxPackets + 1).joined())
        #expect(throws: OpenPGPError.tooLarge("more than \(Limits.maxPackets) packets")) { try PacketReader.parse(bytes) }
    }

    @Test("malformed clear-signed messages and signatures give typed errors")
    func malformedMessages() throws {
        let keyring = OpenPGPKeyring(keys: [])
        let cases: [String] = [
            "",
            "hello",
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\ntext\n",
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n-not escaped\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n",
            "-----BEGIN PGP SIGNED MESSAGE-----\nBogus: x\n\ntext\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n",
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\ntext\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n",
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\ntext\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCAAQ\n-----END PGP SIGNATURE-----\n",
        ]
        for text in cases {
            let error = openPGPError { try OpenPGP.verifyClearsigned(Array(text.utf8), keyring: keyring, now: 0) }
            #expect(error != nil, "\(text)")
            if case .malformed(let m) = error, m.hasPrefix("other error") { Issue.record("untyped error for \(text)") }
        }
        for signature: [UInt8] in [[], [0xC2, 0x00], [0x02], Array("garbage".utf8), [0xCB, 0x01, 0x00]] {
            let error = openPGPError { try OpenPGP.verifyDetached([1, 2, 3], signature: signature, keyring: keyring, now: 0) }
            #expect(error != nil)
            if case .malformed(let m) = error, m.hasPrefix("other error") { Issue.record("untyped error") }
        }
    }

    @Test("unreadable keyring files give an io error")
    func missingFile() {
        let error = openPGPError { try OpenPGPKeyring(contentsOf: "/nonexistent/keyring.gpg") }
        #expect(error == .io(path: "/nonexistent/keyring.gpg", message: "no such file"))
        #expect(openPGPError { try OpenPGPKeyring(bytes: []) } == nil)
    }

    @Test("SHA-224 matches the reference")
    func sha224() throws {
        for input in ["", "abc", String(repeating: "a", count: 1000), String(repeating: "abcdefgh", count: 17)] {
            var hasher = try #require(MessageHasher(.sha224))
            hasher.update(Array(input.utf8))
            let expected = try runChecked("sha224sum", [], input: Array(input.utf8)).prefix(56)
            #expect(hexString(hasher.finalize().bytes).lowercased() == expected)
        }
    }

    @Test("error descriptions are actionable")
    func descriptions() {
        let unknown = OpenPGPError.unknownKey(keyIDs: ["6ED0E7B82643E131"]).description
        #expect(unknown.contains("6ED0E7B82643E131") && unknown.contains("not in the keyring"))
        #expect(OpenPGPError.keyExpired(fingerprint: "AB", at: 0).description.contains("1970-01-01 00:00:00 UTC"))
        #expect(formatTime(1_926_589_461) == "2031-01-19 11:44:21 UTC")
    }
}
