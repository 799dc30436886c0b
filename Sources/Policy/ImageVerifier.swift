import Archive
import Attestation
import Foundation
import OCI
import SBOM

/// One thing `harden verify` checked, and what it found.
public struct VerificationCheck: Sendable, Codable, Equatable {
    /// integrity, signature, attestation, provenance, required, non-root, no-shell.
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
    public static let shells = ["/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash", "/bin/ash",
                                "/bin/busybox", "/usr/bin/busybox", "/bin/zsh", "/usr/bin/zsh", "/bin/rbash", "/usr/bin/rbash"]

    public func verify(_ root: Descriptor, in layout: ImageLayout, reference: String) -> VerificationReport {
        var report = VerificationReport(image: reference, digest: root.digest, key: key.keyID, checks: [], attestations: [:])
        func add(_ check: String, _ subject: String, _ passed: Bool, _ detail: String) {
            report.checks.append(VerificationCheck(check: check, subject: subject, passed: passed, detail: detail))
        }
        // Integrity first: nothing below is worth anything if a byte changed.
        do {
            let all = try ImageGraph.reachable(from: root, in: layout)
            var bytes: Int64 = 0
            for descriptor in all { bytes += try layout.openBlob(descriptor).pump(into: HashingSink()) }
            add("integrity", "image", true, "\(all.count) blobs, \(formatBytes(bytes)), every digest matches")
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
        var unverified = 0
        for (bytes, _) in envelopes {
            let statement: Statement
            do {
                let envelope = try DSSE.Envelope.decode(bytes)
                guard envelope.payloadType == DSSE.inTotoPayloadType else {
                    add("attestation", name, false, "an envelope has payload type \(envelope.payloadType), not \(DSSE.inTotoPayloadType)")
                    continue
                }
                guard let payload = try? DSSE.verify(envelope, key: key) else {
                    unverified += 1
                    continue
                }
                statement = try Statement.decode(payload)
            } catch {
                add("attestation", name, false, "\(error)")
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
        if unverified > 0 && verified.isEmpty {
            add("attestation", name, false, "\(unverified) attestation(s) do not verify with key \(key.keyID.prefix(16))")
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

    private func checkPolicy(_ manifest: Descriptor, name: String, in layout: ImageLayout, add: (String, String, Bool, String) -> Void) {
        if policy.nonRoot {
            do {
                let image = try layout.readDocument(ImageManifest.self, manifest, kind: "image manifest")
                let config = try layout.readDocument(ImageConfiguration.self, image.config, kind: "image config")
                let user = config.config?.User ?? ""
                let account = String(user.split(separator: ":", maxSplits: 1).first ?? "")
                let root = account.isEmpty || account == "root" || account == "0"
                add("non-root", name, !root, root ? "runs as root (User '\(user)')" : "runs as \(user)")
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
