import Foundation
@testable import OpenPGP
import TestSupport

/// A throwaway gpg home directory for generating keys and signatures with the real gpg.
final class GPGHome: Sendable {
    let directory: TemporaryDirectory
    var home: String { directory.path + "/gnupg" }

    init() throws {
        directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path + "/gnupg", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    deinit {
        _ = try? TestSupport.run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"])
    }

    /// Runs gpg in this home, with an empty passphrase; returns stdout.
    @discardableResult
    func gpg(_ arguments: [String], input: [UInt8]? = nil) throws -> [UInt8] {
        let result = try TestSupport.run("gpg", ["--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback",
                                                 "--passphrase", ""] + arguments, input: input)
        guard result.status == 0 else {
            throw TestSetupError(description: "gpg \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Generates a primary key; returns its fingerprint.
    func generateKey(_ userID: String, algorithm: String, usage: String = "sign", expire: String = "2d") throws -> String {
        try gpg(["--quick-gen-key", userID, algorithm, usage, expire])
        return try fingerprints(of: userID).primary
    }

    /// Adds a subkey to `fingerprint`; returns the new subkey's fingerprint.
    func addSubkey(to fingerprint: String, algorithm: String, usage: String = "sign", expire: String = "2d") throws -> String {
        let before = try fingerprints(of: fingerprint).subkeys
        try gpg(["--quick-add-key", fingerprint, algorithm, usage, expire])
        let after = try fingerprints(of: fingerprint).subkeys
        guard let new = after.first(where: { !before.contains($0) }) else { throw TestSetupError(description: "no new subkey") }
        return new
    }

    /// Primary and subkey fingerprints of the key matching `query`, from gpg's colon listing.
    func fingerprints(of query: String) throws -> (primary: String, subkeys: [String]) {
        let listing = String(decoding: try gpg(["--with-colons", "--fingerprint", "--fingerprint", "--list-keys", query]), as: UTF8.self)
        var primary: String? = nil
        var subkeys: [String] = []
        var last = ""
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard let type = fields.first else { continue }
            if type == "pub" || type == "sub" { last = type }
            if type == "fpr", fields.count > 9 {
                if last == "pub", primary == nil { primary = fields[9] } else if last == "sub" { subkeys.append(fields[9]) }
                last = ""
            }
        }
        guard let primary else { throw TestSetupError(description: "no key for \(query)") }
        return (primary, subkeys)
    }

    /// The public keyring, binary or armored.
    func export(armor: Bool = false) throws -> OpenPGPKeyring {
        try OpenPGPKeyring(bytes: try gpg(["--export"] + (armor ? ["--armor"] : [])))
    }

    /// Writes `message` to a file and runs gpg with `arguments` + the file; returns gpg's output.
    func sign(_ message: [UInt8], _ arguments: [String]) throws -> [UInt8] {
        let path = try directory.write("message-\(UUID().uuidString)", message)
        return try gpg(arguments + ["-o", "-", path])
    }
}

/// The current time in seconds since the epoch.
func currentTime() -> Int64 { Int64(Date().timeIntervalSince1970) }

/// Serializes packets with new-format headers (for tampering tests).
func serialize(_ packets: [Packet]) -> [UInt8] {
    var out: [UInt8] = []
    for p in packets {
        out.append(0xC0 | UInt8(p.tag))
        out.append(0xFF)
        out += bigEndian32(p.body.count)
        out += p.body
    }
    return out
}

/// ASCII armor without a checksum line.
func armor(_ data: [UInt8], label: String) -> [UInt8] {
    let base64 = Data(data).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
    return Array("-----BEGIN PGP \(label)-----\n\n\(base64)\n-----END PGP \(label)-----\n".utf8)
}

/// Replaces the first occurrence of `old` by `new`.
func replacing(_ bytes: [UInt8], _ old: String, _ new: String) -> [UInt8] {
    Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: old, with: new).utf8)
}

/// The error thrown by `body`, as an `OpenPGPError`, or nil.
func openPGPError<T>(_ body: () throws -> T) -> OpenPGPError? {
    do { _ = try body(); return nil } catch let error as OpenPGPError { return error } catch { return .malformed("other error: \(error)") }
}
