import Archive
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Key pairs on disk: `<prefix>.key` (encrypted private key) and `<prefix>.pub` (PKIX public key).
public enum KeyFile {
    /// The largest key file read (a key is a few hundred bytes).
    static let sizeLimit = 64 * 1024

    /// The environment variable holding the passphrase for non-interactive use.
    public static let passphraseVariable = "HARDEN_PASSWORD"

    /// Writes a new key pair: `<prefix>.key` (encrypted PEM, mode 0600, written atomically; refuse to overwrite an existing file unless `overwrite`) and `<prefix>.pub` (0644). Returns the two paths.
    public static func generate(_ algorithm: KeyAlgorithm, prefix: String, passphrase: String, overwrite: Bool) throws -> (privateKey: String, publicKey: String) {
        let privatePath = prefix + ".key", publicPath = prefix + ".pub"
        if !overwrite {
            for path in [privatePath, publicPath] where FileSystem.exists(path) {
                throw AttestationError(.io, "\(path) already exists: refusing to overwrite it (choose another prefix, or allow overwriting)")
            }
        }
        let key = SigningKey.generate(algorithm)
        let encrypted = Array(try key.encryptedPEM(passphrase: passphrase).utf8)
        try write(privatePath, encrypted, mode: 0o600, overwrite: overwrite)
        try write(publicPath, Array(key.publicKey.pem.utf8), mode: 0o644, overwrite: overwrite)
        return (privatePath, publicPath)
    }

    /// Loads a private key file; the passphrase comes from `HARDEN_PASSWORD` in `environment`, else from `prompt` (nil prompt and no variable: clear error). Refuses a file larger than 64 KiB.
    public static func loadSigningKey(_ path: String, environment: [String: String], prompt: (() throws -> String)?) throws -> SigningKey {
        let text = try readKeyFile(path)
        do {
            return try SigningKey.read(pem: text) {
                if let passphrase = environment[passphraseVariable] { return passphrase }
                guard let prompt else {
                    throw AttestationError(.passphrase, "\(path) is encrypted: set \(passphraseVariable) to its passphrase (no terminal to ask on)")
                }
                return try prompt()
            }
        } catch let error as AttestationError {
            throw AttestationError(error.code, "\(path): \(error.message)")
        }
    }

    /// Loads a public key file (PEM "PUBLIC KEY"). Refuses a file larger than 64 KiB.
    public static func loadVerificationKey(_ path: String) throws -> VerificationKey {
        let text = try readKeyFile(path)
        do {
            return try VerificationKey(pem: text)
        } catch let error as AttestationError {
            throw AttestationError(error.code, "\(path): \(error.message)")
        }
    }

    /// Reads a passphrase from the terminal without echo (termios on /dev/tty), for the CLI; errors clearly when there is no terminal.
    public static func promptPassphrase(_ message: String, confirm: Bool) throws -> String {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw AttestationError(.passphrase, "no terminal to ask for the passphrase on: set \(passphraseVariable)")
        }
        defer { close(fd) }
        let first = try readHidden(fd: fd, prompt: message)
        if confirm {
            let second = try readHidden(fd: fd, prompt: "Enter the passphrase again: ")
            guard first == second else { throw AttestationError(.passphrase, "the passphrases do not match") }
        }
        return first
    }

    // MARK: Internals

    static func readKeyFile(_ path: String) throws -> String {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path, limit: sizeLimit)
        } catch ArchiveError.tooLarge {
            throw AttestationError(.key, "\(path) is larger than 64 KiB: not a key file")
        } catch {
            throw AttestationError(.io, "cannot read key file \(path) (\(error))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw AttestationError(.key, "\(path) is not a PEM text file")
        }
        return text
    }

    /// Writes `bytes` through a temporary file; without `overwrite` the final step is link(2), which never replaces a file.
    static func write(_ path: String, _ bytes: [UInt8], mode: mode_t, overwrite: Bool) throws {
        do {
            if overwrite {
                try FileSystem.writeAtomically(path, bytes: bytes, mode: mode)
                chmod(path, mode)  // an existing file keeps no wider mode than asked
                return
            }
            let temp = FileSystem.temporaryName(beside: path)
            let sink = try FileSink(path: temp, mode: mode, exclusive: true)
            defer { unlink(temp) }
            chmod(temp, mode)  // exactly `mode`, whatever the umask
            try sink.write(bytes)
            try sink.finish()
            if link(temp, path) != 0 {
                let code = errno
                if code == EEXIST {
                    throw AttestationError(.io, "\(path) already exists: refusing to overwrite it")
                }
                guard code == EPERM || code == ENOTSUP || code == EOPNOTSUPP || code == EMLINK else {
                    throw AttestationError(.io, "cannot create \(path): \(String(cString: strerror(code)))")
                }
                // A file system without hard links: create the file exclusively in place (still never replaces one).
                let direct = try FileSink(path: path, mode: mode, exclusive: true)
                chmod(path, mode)
                try direct.write(bytes)
                try direct.finish()
            }
            FileSystem.syncDirectory(FileSystem.parentPath(path))
        } catch let error as AttestationError {
            throw error
        } catch {
            throw AttestationError(.io, "cannot write \(path) (\(error))")
        }
    }

    /// Prints `prompt` on the terminal and reads one line with echo off, restoring the terminal afterwards.
    static func readHidden(fd: Int32, prompt: String) throws -> String {
        writeAll(fd, Array(prompt.utf8))
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else {
            throw AttestationError(.passphrase, "cannot configure the terminal to read a passphrase: set \(passphraseVariable)")
        }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ICANON)
        guard tcsetattr(fd, TCSAFLUSH, &silent) == 0 else {
            throw AttestationError(.passphrase, "cannot turn off echo on the terminal: set \(passphraseVariable)")
        }
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            writeAll(fd, Array("\n".utf8))
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if line.isEmpty { throw AttestationError(.passphrase, "no passphrase entered (end of input)") }
                break
            }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
            guard line.count <= 4096 else { throw AttestationError(.passphrase, "the passphrase is longer than 4096 bytes") }
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
