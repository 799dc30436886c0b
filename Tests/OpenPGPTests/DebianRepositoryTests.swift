import Foundation
@testable import OpenPGP
import Testing
import TestSupport

private let archiveKeyringPath = "/usr/share/keyrings/debian-archive-keyring.gpg"

/// Primary and subkey records from `gpg --show-keys --with-colons`.
private struct GPGKeyRecord {
    var fingerprint: String
    var created: Int64
    var expires: Int64?
    var bits: Int
    var isPrimary: Bool
}

private func gpgShowKeys(_ path: String) throws -> [GPGKeyRecord] {
    let home = try GPGHome()
    let listing = String(decoding: try home.gpg(["--with-colons", "--show-keys", path]), as: UTF8.self)
    var records: [GPGKeyRecord] = []
    var pending: GPGKeyRecord? = nil
    for line in listing.split(separator: "\n") {
        let f = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard f.count > 9 else { continue }
        if f[0] == "pub" || f[0] == "sub" {
            pending = GPGKeyRecord(fingerprint: "", created: Int64(f[5]) ?? -1, expires: Int64(f[6]),
                                   bits: Int(f[2]) ?? -1, isPrimary: f[0] == "pub")
        } else if f[0] == "fpr", var record = pending {
            record.fingerprint = f[9]
            records.append(record)
            pending = nil
        }
    }
    return records
}

private func download(_ url: String) throws -> [UInt8] {
    let result = try TestSupport.run("curl", ["-fsS", "--retry", "3", "--max-time", "60", url])
    guard result.status == 0 else { throw TestSetupError(description: "curl \(url) failed: \(result.stderr)") }
    return result.stdout
}

private let suites = [
    "http://deb.debian.org/debian/dists/bookworm",
    "http://deb.debian.org/debian/dists/bookworm-updates",
    "http://deb.debian.org/debian-security/dists/bookworm-security",
]

@Suite("Debian archive keyring and repositories")
struct DebianRepositoryTests {
    @Test("the archive keyring parses and matches gpg's view of it")
    func archiveKeyring() throws {
        let keyring = try OpenPGPKeyring(contentsOf: archiveKeyringPath)
        let expected = try gpgShowKeys(archiveKeyringPath)
        #expect(!expected.isEmpty)
        let primaries = keyring.keys.map(\.fingerprint)
        #expect(primaries == expected.filter(\.isPrimary).map(\.fingerprint))
        let all = keyring.keys.flatMap { [$0] + $0.subkeys }
        #expect(all.map(\.fingerprint) == expected.map(\.fingerprint))
        for (key, record) in zip(all, expected) {
            #expect(key.created == record.created, "\(key.fingerprint)")
            #expect(key.expires == record.expires, "\(key.fingerprint)")
            #expect(key.bits == record.bits, "\(key.fingerprint)")
            #expect(key.hasValidSelfSignature, "\(key.fingerprint)")
            #expect(key.canSign, "\(key.fingerprint)")
            #expect(!key.revoked)
            #expect(key.keyID == String(key.fingerprint.suffix(16)))
        }
        #expect(keyring.keys.allSatisfy { !$0.userIDs.isEmpty })
        #expect(keyring.keys.contains { $0.algorithm == "EdDSA" && $0.bits == 255 })
    }

    @Test("every Debian keyring on the host parses like gpg lists it")
    func allDebianKeyrings() throws {
        let paths = try FileManager.default.contentsOfDirectory(atPath: "/usr/share/keyrings")
            .filter { $0.hasPrefix("debian-") && $0.hasSuffix(".gpg") }.sorted().map { "/usr/share/keyrings/" + $0 }
        #expect(paths.count >= 2)
        for path in paths {
            let keyring = try OpenPGPKeyring(contentsOf: path)
            let records = try gpgShowKeys(path)
            let all = keyring.keys.flatMap { [$0] + $0.subkeys }
            #expect(all.map(\.fingerprint) == records.map(\.fingerprint), "\(path)")
            #expect(all.map(\.created) == records.map(\.created), "\(path)")
            // Expiry is known where the self-signature could be checked (not for old DSA or 1024-bit RSA keys).
            for (key, record) in zip(all, records) where key.hasValidSelfSignature {
                #expect(key.expires == record.expires, "\(path): \(key.fingerprint)")
            }
        }
    }

    @Test("the bookworm signing keys are in the archive keyring")
    func bookwormKeys() throws {
        let keyring = try OpenPGPKeyring(contentsOf: archiveKeyringPath)
        let all = Set(keyring.keys.flatMap { [$0] + $0.subkeys }.map(\.fingerprint))
        for name in ["debian-archive-bookworm-stable", "debian-archive-bookworm-automatic", "debian-archive-bookworm-security-automatic"] {
            let path = "/usr/share/keyrings/\(name).gpg"
            let records = try gpgShowKeys(path)
            #expect(!records.isEmpty)
            for record in records { #expect(all.contains(record.fingerprint), "\(name): \(record.fingerprint)") }
            // The per-release keyring parses on its own, too.
            #expect(try OpenPGPKeyring(contentsOf: path).keys.map(\.fingerprint) == records.filter(\.isPrimary).map(\.fingerprint))
        }
        // The bookworm automatic signing subkey named in apt's messages.
        #expect(keyring.keys.flatMap(\.subkeys).contains { $0.keyID == "6ED0E7B82643E131" })
    }

    @Test("real InRelease files verify with the archive keyring", arguments: suites)
    func inRelease(_ suite: String) throws {
        let keyring = try OpenPGPKeyring(contentsOf: archiveKeyringPath)
        let message = try download(suite + "/InRelease")
        let (content, verification) = try OpenPGP.verifyClearsigned(message, keyring: keyring, now: currentTime())
        #expect(content.starts(with: Array("Origin: Debian".utf8)))
        #expect(content.last == 0x0A)
        #expect(verification.hashAlgorithm.hasPrefix("SHA"))
        let signer = try #require(keyring.keys.first { $0.fingerprint == verification.primaryFingerprint })
        #expect(signer.userIDs.contains { $0.contains("Debian") })
        #expect(verification.created <= currentTime() + 86400)

        // One changed byte in the signed text.
        let tampered = replacing(message, "Origin: Debian", "Origin: Debiam")
        #expect(tampered != message)
        let error = openPGPError { try OpenPGP.verifyClearsigned(tampered, keyring: keyring, now: currentTime()) }
        guard case .badSignature = error else { Issue.record("expected badSignature, got \(String(describing: error))"); return }
    }

    @Test("changed signatures in a real InRelease fail", arguments: suites.prefix(1))
    func tamperedSignature(_ suite: String) throws {
        let keyring = try OpenPGPKeyring(contentsOf: archiveKeyringPath)
        let message = try download(suite + "/InRelease")
        let text = String(decoding: message, as: UTF8.self)
        let marker = try #require(text.range(of: "-----BEGIN PGP SIGNATURE-----"))
        let head = Array(text[..<marker.lowerBound].utf8)
        let block = try #require(try Armor.decodeAll(Array(text[marker.lowerBound...].utf8)).first)
        var packets = try PacketReader.parse(block.data)
        #expect(packets.count >= 2, "Debian signs InRelease with more than one key")
        for i in packets.indices { packets[i].body[packets[i].body.count - 5] ^= 0x01 }
        let changed = head + armor(serialize(packets), label: "SIGNATURE")
        let error = openPGPError { try OpenPGP.verifyClearsigned(changed, keyring: keyring, now: currentTime()) }
        guard case .badSignature = error else { Issue.record("expected badSignature, got \(String(describing: error))"); return }

        // A changed armor character is caught by the CRC.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.firstIndex(of: "-----BEGIN PGP SIGNATURE-----")) + 3
        var chars = Array(lines[index])
        chars[10] = chars[10] == "A" ? "B" : "A"
        lines[index] = String(chars)
        let armorChanged = Array(lines.joined(separator: "\n").utf8)
        let crcError = openPGPError { try OpenPGP.verifyClearsigned(armorChanged, keyring: keyring, now: currentTime()) }
        #expect(crcError != nil)
    }

    @Test("InRelease against a keyring without its keys names the key IDs")
    func unknownKey() throws {
        let home = try GPGHome()
        _ = try home.generateKey("Other <other@example.org>", algorithm: "ed25519")
        let keyring = try home.export()
        let message = try download(suites[0] + "/InRelease")
        let error = openPGPError { try OpenPGP.verifyClearsigned(message, keyring: keyring, now: currentTime()) }
        guard case .unknownKey(let ids) = error else { Issue.record("expected unknownKey, got \(String(describing: error))"); return }
        #expect(!ids.isEmpty)
        #expect(ids.allSatisfy { $0.count == 16 })
        let debian = try OpenPGPKeyring(contentsOf: archiveKeyringPath)
        let debianIDs = Set(debian.keys.flatMap { [$0] + $0.subkeys }.map(\.keyID))
        #expect(ids.contains { debianIDs.contains($0) })
        #expect(error?.description.contains(ids[0]) == true)
        // An empty keyring behaves the same.
        let empty = openPGPError { try OpenPGP.verifyClearsigned(message, keyring: OpenPGPKeyring(keys: []), now: currentTime()) }
        #expect(empty == error)
    }

    @Test("Release with detached Release.gpg verifies")
    func detached() throws {
        let keyring = try OpenPGPKeyring(contentsOf: archiveKeyringPath)
        let release = try download(suites[0] + "/Release")
        let signature = try download(suites[0] + "/Release.gpg")
        let verification = try OpenPGP.verifyDetached(release, signature: signature, keyring: keyring, now: currentTime())
        #expect(keyring.keys.contains { $0.fingerprint == verification.primaryFingerprint })
        var changed = release
        changed[changed.count / 2] ^= 0x20
        let error = openPGPError { try OpenPGP.verifyDetached(changed, signature: signature, keyring: keyring, now: currentTime()) }
        guard case .badSignature = error else { Issue.record("expected badSignature, got \(String(describing: error))"); return }
    }
}
