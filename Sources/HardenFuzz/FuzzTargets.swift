import Archive
import Debian
import Foundation
import OCI
import OpenPGP
import SBOM
import VEX
import Vulnerability

/// The parsers of untrusted bytes, one fuzz target each. A target feeds the bytes to a parser
/// and reads everything it yields; errors are the expected outcome of most inputs. What a target
/// must never do is crash, hang or use memory without bound: libFuzzer and the address
/// sanitizer catch that (scripts/fuzz).
enum FuzzTargets {
    /// Bytes read from one decompressed stream at most (a bomb is cut off here, as the real
    /// readers cut it off at their own limits).
    static let outputLimit = 64 << 20

    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "tar": { bytes in
            let reader = TarReader(MemorySource(bytes), policy: .report)
            while let entry = try? reader.next() {
                if entry.kind == .regular { _ = try? reader.readContents(limit: 1 << 20) }
            }
        },
        "ar": { bytes in
            let reader = ArReader(MemorySource(bytes))
            while (try? reader.next()) != nil { _ = try? reader.contents.readAll(limit: 1 << 20) }
        },
        "gzip": { decompress($0, .gzip) },
        "xz": { decompress($0, .xz) },
        "zstd": { decompress($0, .zstd) },
        "deb822": { bytes in
            for paragraph in (try? ControlFile.parse(bytes)) ?? [] {
                for field in ["Depends", "Pre-Depends", "Provides", "Version"] {
                    guard let value = paragraph[field] else { continue }
                    _ = try? RelationParser.parse(value)
                    _ = try? DebianVersion(value)
                }
            }
        },
        "relation": { bytes in
            guard let text = String(validating: bytes, as: UTF8.self) else { return }
            if let groups = try? RelationParser.parse(text) { _ = RelationParser.format(groups) }
        },
        "version": { bytes in
            // Two versions split at the first newline, compared both ways (dpkg's order is total).
            let parts = bytes.split(separator: 0x0A, maxSplits: 1, omittingEmptySubsequences: false)
            let versions = parts.compactMap { try? DebianVersion(String(decoding: $0, as: UTF8.self)) }
            if versions.count == 2 {
                let (a, b) = (versions[0], versions[1])
                precondition((a < b) != (b < a) || a == b, "the order of \(a) and \(b) is not total")
                _ = a.description
            }
        },
        "openpgp-keyring": { bytes in _ = try? OpenPGPKeyring(bytes: bytes) },
        "openpgp-clearsigned": { bytes in
            _ = try? OpenPGP.verifyClearsigned(bytes, keyring: debianKeyring, now: 1_800_000_000)
        },
        "openpgp-detached": { bytes in
            _ = try? OpenPGP.verifyDetached(Array("signed data\n".utf8), signature: bytes, keyring: debianKeyring, now: 1_800_000_000)
        },
        "oci-manifest": { bytes in _ = try? CanonicalJSON.decode(ImageManifest.self, from: bytes, kind: "manifest") },
        "oci-index": { bytes in _ = try? CanonicalJSON.decode(ImageIndex.self, from: bytes, kind: "index") },
        "oci-config": { bytes in _ = try? CanonicalJSON.decode(ImageConfiguration.self, from: bytes, kind: "config") },
        "image-reference": { bytes in
            guard let text = String(validating: bytes, as: UTF8.self) else { return }
            if let reference = try? ImageReference(parsing: text) { _ = try? ImageReference(parsing: reference.description) }
        },
        "sbom": { bytes in _ = try? SBOMReader.read(bytes, path: "fuzz.json") },
        "openvex": { bytes in _ = try? VEXDocument.decode(bytes, file: "fuzz.json") },
        "tracker": { bytes in _ = try? DebianTracker.entries(from: bytes, release: nil, file: "fuzz.json") },
        "osv": { bytes in _ = try? OSV.advisories(from: bytes, file: "fuzz.json") },
    ]

    static func decompress(_ bytes: [UInt8], _ compression: Compression) {
        guard let stream = try? compression.decompressing(MemorySource(bytes)) else { return }
        _ = try? stream.readAll(limit: outputLimit)
    }

    /// Debian's archive keyring, what real InRelease files are checked against.
    static let debianKeyring: OpenPGPKeyring =
        (try? OpenPGPKeyring(contentsOf: "/usr/share/keyrings/debian-archive-keyring.gpg")) ?? OpenPGPKeyring(keys: [])

    /// The target `HARDEN_FUZZ_TARGET` names (libFuzzer runs one per process).
    static let selected: @Sendable ([UInt8]) -> Void = {
        let name = ProcessInfo.processInfo.environment["HARDEN_FUZZ_TARGET"] ?? ""
        guard let target = all[name] else {
            FileHandle.standardError.write(Data("HARDEN_FUZZ_TARGET must be one of: \(all.keys.sorted().joined(separator: " "))\n".utf8))
            exit(2)
        }
        return target
    }()
}
