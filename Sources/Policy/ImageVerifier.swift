import Archive
import Attestation
import Foundation
import OCI
import SBOM

/// One thing `harden verify` checked, and what it found.
public struct VerificationCheck: Sendable, Codable, Equatable {
    /// integrity, signature, attestation, required, non-root, no-shell.
    public var check: String
    /// The image or platform it is about (`index`, `linux/amd64`, ...).
    public var subject: String
    public var passed: Bool
    public var detail: String
}

/// Everything `harden verify` found about one image.
public struct VerificationReport: Sendable, Codable {
    public var image: String
    public var digest: Digest
    public var key: String
    public var checks: [VerificationCheck]
    /// Verified attestations per platform: predicate type short names.
    public var attestations: [String: [String]]
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }

    public func text() -> String {
        var lines = ["\(image) \(digest) (key \(key.prefix(16)))"]
        for check in checks {
            lines.append("  \(check.passed ? "PASS" : "FAIL")  \(check.check.padding(toLength: 12, withPad: " ", startingAt: 0)) \(check.subject): \(check.detail)")
        }
        let failed = checks.filter { !$0.passed }.count
        lines.append(failed == 0 ? "verified: \(checks.count) checks passed" : "NOT verified: \(failed) of \(checks.count) checks failed")
        return lines.joined(separator: "\n")
    }
}

/// Verifies a signed image in an OCI layout: every blob against its digest, the signatures over
/// the index and each platform manifest, every attestation's signature, subject and predicate,
/// and the policy. Findings are collected, never thrown: the report says what failed and why.
public struct ImageVerifier: Sendable {
    public var key: VerificationKey
    public var policy: VerificationPolicy

    public init(key: VerificationKey, policy: VerificationPolicy) {
        self.key = key
        self.policy = policy
    }

    /// Paths whose presence means the image holds a shell.
    public static let shells: [String] = ["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"].flatMap { directory in
        ["sh", "bash", "dash", "ash", "rbash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"].map { directory + "/" + $0 }
    }

    public func verify(_ root: Descriptor, in layout: ImageLayout, reference: String) -> VerificationReport {
        var report = VerificationReport(image: reference, digest: root.digest, key: key.keyID, checks: [], attestations: [:])
        func add(_ check: String, _ subject: String, _ passed: Bool, _ detail: String) {
            report.checks.append(VerificationCheck(check: check, subject: subject, passed: passed, detail: detail))
        }
        // Integrity first: nothing below is worth anything if a byte changed.
        do {
            let verified = try layout.verifyBlobs(from: root)
            add("integrity", "image", true, "\(verified.blobs) blobs, \(formatBytes(verified.bytes)), every digest matches")
        } catch {
            add("integrity", "image", false, "\(error)")
            return report
        }
        let platforms: [Descriptor]
        do {
            platforms = MediaType.isIndex(root.mediaType) ? try ImageGraph.manifests(under: root, in: layout) : [root]
        } catch {
            add("integrity", "image", false, "\(error)")
            return report
        }
        guard !platforms.isEmpty else {
            add("integrity", "image", false, "the index lists no image manifest: nothing to verify")
            return report
        }
        if MediaType.isIndex(root.mediaType) { checkSignature(of: root, name: "index", in: layout, add: add) }
        for manifest in platforms {
            let name = manifest.platform?.description ?? manifest.digest.short
            checkSignature(of: manifest, name: name, in: layout, add: add)
            let verified = checkAttestations(of: manifest, name: name, in: layout, add: add)
            report.attestations[name] = verified.map(PredicateType.shortName).sorted()
            for required in policy.required {
                add("required", name, verified.contains(required),
                    verified.contains(required) ? "\(PredicateType.shortName(required)) attestation present and verified"
                        : "required \(PredicateType.shortName(required)) attestation is missing (or not signed by this key)")
            }
            checkPolicy(manifest, name: name, in: layout, add: add)
        }
        return report
    }

    private func checkSignature(of subject: Descriptor, name: String, in layout: ImageLayout,
                                add: (String, String, Bool, String) -> Void) {
        let signatures: [AttachedSignature]
        do { signatures = try layout.signatures(of: subject.digest) } catch {
            add("signature", name, false, "cannot read the signatures: \(error)")
            return
        }
        guard !signatures.isEmpty else {
            add("signature", name, false, "not signed (no \(Cosign.tag(.signature, of: subject.digest)) and no signature referrer)")
            return
        }
        var problems: [String] = []
        for signature in signatures {
            guard let bytes = signature.signature, key.isValidSignature(bytes, for: signature.payload) else {
                problems.append("a signature does not verify with key \(key.keyID.prefix(16))")
                continue
            }
            do {
                let signed = try Cosign.parsePayload(signature.payload)
                guard signed.manifestDigest == subject.digest else {
                    problems.append("a valid signature is for \(signed.manifestDigest), not this image")
                    continue
                }
                add("signature", name, true, "signed \(subject.digest.short) (\(signature.source), identity '\(signed.dockerReference)')")
                return
            } catch {
                problems.append("\(error)")
            }
        }
        add("signature", name, false, "\(signatures.count) signature(s), none valid: " + Array(Set(problems)).sorted().joined(separator: "; "))
    }

    /// Checks every attestation of `manifest`; returns the predicate types that verified.
    private func checkAttestations(of manifest: Descriptor, name: String, in layout: ImageLayout,
                                   add: (String, String, Bool, String) -> Void) -> [String] {
        let envelopes: [(bytes: [UInt8], source: String)]
        do { envelopes = try layout.attestationEnvelopes(of: manifest.digest) } catch {
            add("attestation", name, false, "cannot read the attestations: \(error)")
            return []
        }
        var verified: [String] = []
        // Envelopes that are malformed or not signed by this key prove nothing either way (anyone
        // who can write to the image can add them): they are ignored, and reported.
        var ignored: [String] = []
        for (bytes, _) in envelopes {
            let statement: Statement
            do {
                let envelope = try DSSE.Envelope.decode(bytes)
                guard envelope.payloadType == DSSE.inTotoPayloadType else {
                    ignored.append("payload type \(envelope.payloadType)")
                    continue
                }
                guard let payload = try? DSSE.verify(envelope, key: key) else {
                    ignored.append("not signed by key \(key.keyID.prefix(16))")
                    continue
                }
                // Signed by the key from here on: whatever is wrong with it is a failure.
                do { statement = try Statement.decode(payload) } catch {
                    add("attestation", name, false, "a signed attestation is not a valid statement: \(error)")
                    continue
                }
            } catch {
                ignored.append("\(error)")
                continue
            }
            let type = PredicateType.shortName(statement.predicateType)
            guard statement.isAbout(manifest.digest) else {
                let others = statement.subjects.compactMap { $0.digest["sha256"].map { "sha256:\($0.prefix(12))" } }.joined(separator: ", ")
                add("attestation", name, false, "the \(type) attestation is about \(others), not \(manifest.digest.short): it was moved from another image")
                continue
            }
            do {
                try checkPredicate(statement)
                verified.append(statement.predicateType)
                add("attestation", name, true, "\(type): signed, subject \(manifest.digest.short), predicate valid")
            } catch {
                add("attestation", name, false, "\(type): \(error)")
            }
        }
        if !ignored.isEmpty {
            let reasons = Array(Set(ignored)).sorted().joined(separator: "; ")
            add("attestation", name, !verified.isEmpty,
                "ignored \(ignored.count) envelope(s) this key does not vouch for (\(reasons))" + (verified.isEmpty ? " and none that it does" : ""))
        }
        return verified
    }

    /// The predicate parses, and provenance names the expected builder and build type.
    private func checkPredicate(_ statement: Statement) throws {
        let object = try? JSONSerialization.jsonObject(with: Data(statement.predicate)) as? [String: Any]
        switch statement.predicateType {
        case PredicateType.slsaProvenance:
            let provenance = try Provenance.decode(statement.predicate)
            guard provenance.runDetails.builder.id == policy.builderID else {
                throw PolicyError("builder.id is \(provenance.runDetails.builder.id), the policy expects \(policy.builderID)")
            }
            guard provenance.buildDefinition.buildType == policy.buildType else {
                throw PolicyError("buildType is \(provenance.buildDefinition.buildType), the policy expects \(policy.buildType)")
            }
        case PredicateType.spdx:
            guard let version = object?["spdxVersion"] as? String, version.hasPrefix("SPDX-2.") else { throw PolicyError("not an SPDX 2 document") }
        case PredicateType.cycloneDX:
            guard object?["bomFormat"] as? String == "CycloneDX" else { throw PolicyError("not a CycloneDX document") }
        case PredicateType.openVEX:
            guard (object?["@context"] as? String)?.hasPrefix("https://openvex.dev/ns") == true else { throw PolicyError("not an OpenVEX document") }
        default:
            break
        }
    }

    /// The uid a config's `User` runs as: a number as it is, empty as root, a name as `passwd`
    /// (read only when needed) says; nil for a name it does not have.
    static func uid(ofUser user: String, passwd: () throws -> String) rethrows -> Int? {
        let account = String(user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if let number = Int(account) { return number }
        if account.isEmpty { return 0 }
        return uid(of: account, passwd: try passwd())
    }

    /// The uid of `name` in an /etc/passwd file, if it is there.
    static func uid(of name: String, passwd: String) -> Int? {
        for line in passwd.split(separator: "\n") {
            let fields: [Substring] = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2 && fields[0] == name { return Int(fields[2]) }
        }
        return nil
    }

    private func checkPolicy(_ manifest: Descriptor, name: String, in layout: ImageLayout, add: (String, String, Bool, String) -> Void) {
        if policy.nonRoot {
            do {
                let image = try layout.readDocument(ImageManifest.self, manifest, kind: "image manifest")
                let config = try layout.readDocument(ImageConfiguration.self, image.config, kind: "image config")
                let user = config.config?.User ?? ""
                let account = String(user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                let uid = try Self.uid(ofUser: user) {
                    String(decoding: try ImageFiles.contents(of: "/etc/passwd", manifest: manifest, in: layout) ?? [], as: UTF8.self)
                }
                switch uid {
                case nil: add("non-root", name, false, "user '\(account)' is not in the image's /etc/passwd")
                case 0?: add("non-root", name, false, "runs as root (User '\(user)')")
                case let id?: add("non-root", name, true, "runs as \(user)" + (Int(account) == nil ? " (uid \(id))" : ""))
                }
            } catch {
                add("non-root", name, false, "\(error)")
            }
        }
        if policy.noShell {
            do {
                let found = try ImageFiles.existing(Self.shells, manifest: manifest, in: layout)
                add("no-shell", name, found.isEmpty, found.isEmpty ? "no shell (\(Self.shells.count) paths checked)" : "holds \(found.joined(separator: ", "))")
            } catch {
                add("no-shell", name, false, "\(error)")
            }
        }
    }
}
