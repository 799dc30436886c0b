import Archive
import Attestation
import Debian
import Foundation
import OCI
import Testing
import TestSupport

/// One signed build of catalog/base through the CLI (key made by `harden keygen`), shared by the
/// signing tests, which only read it or copy it before changing anything.
actor SignedCatalog {
    static let shared = SignedCatalog()
    static let passphrase = "correct horse battery staple"
    let dir: TemporaryDirectory

    init() { dir = try! TemporaryDirectory() }

    /// The environment of a CLI run: the passphrase, and the tests' shared download cache.
    nonisolated func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["HARDEN_PASSWORD"] = Self.passphrase
        environment["XDG_CACHE_HOME"] = dir.path + "/xdg"
        environment["HARDEN_STORE"] = dir.path + "/store"
        return environment.merging(extra) { $1 }
    }

    typealias Made = (layout: String, spec: String, key: String, pub: String, output: String)
    private var making: Task<Made, Error>?

    /// The layout (tags latest, latest-dev), spec, key pair, and what the build printed; made
    /// once, however many tests ask at the same time.
    func signed() async throws -> Made {
        if let making { return try await making.value }
        let task = Task { try await make() }
        making = task
        return try await task.value
    }

    private func make() async throws -> Made {
        try CatalogBuilds.linkSharedCache(into: dir.path + "/xdg")
        let spec = try await CatalogBuilds.shared.lockedSpec("base")
        let harden = try hardenBinary()
        let keys = try run(harden, ["keygen", "--output-prefix", dir.path + "/signer"], environment: environment())
        guard keys.status == 0 else { throw TestSetupError(description: "keygen failed: \(keys.stderr)") }
        let build = try run(harden, ["build", spec, "--key", dir.path + "/signer.key", "--output", "oci:\(dir.path)/signed"], environment: environment())
        guard build.status == 0 else { throw TestSetupError(description: "signed build failed: \(build.stderr)") }
        return (dir.path + "/signed", spec, dir.path + "/signer.key", dir.path + "/signer.pub", build.output + build.stderr)
    }
}

/// `harden verify` on a copy of the signed layout (the shared one is never changed).
func verifyCopy(_ layout: String, tag: String, key: String, extra: [String] = [], change: (ImageLayout) throws -> Void = { _ in }) throws -> ProcessResult {
    let dir = try TemporaryDirectory()
    try runChecked("/bin/cp", ["-a", layout, dir.path + "/copy"])
    try change(try ImageLayout(opening: dir.path + "/copy"))
    let result = try run(try hardenBinary(), ["verify", "oci:\(dir.path)/copy:\(tag)", "--key", key] + extra,
                         environment: SignedCatalog.shared.environment())
    _ = dir
    return result
}

/// The platform manifests under a tag.
func platformManifests(_ layout: ImageLayout, tag: String) throws -> [Descriptor] {
    try ImageGraph.manifests(under: try layout.resolve(tag: tag), in: layout)
}

/// The verified statement of `predicateType` attached to `manifest`.
func attestedStatement(_ layout: ImageLayout, _ manifest: Descriptor, _ predicateType: String, key: VerificationKey) throws -> Statement {
    for (bytes, _) in try layout.attestationEnvelopes(of: manifest.digest) {
        let statement = try Statement.decode(try DSSE.verify(try DSSE.Envelope.decode(bytes), key: key))
        if statement.predicateType == predicateType { return statement }
    }
    throw TestSetupError(description: "no \(predicateType) attestation on \(manifest.digest)")
}

@Suite(.serialized) struct SigningTests {
    @Test func signedBuildVerifiesWithPolicy() async throws {
        let signed = try await SignedCatalog.shared.signed()
        #expect(signed.output.contains("isolated:"), "\(signed.output)")
        #expect(!signed.output.contains(SignedCatalog.passphrase))
        let harden = try hardenBinary()
        let minimal = try run(harden, ["verify", "oci:\(signed.layout):latest", "--key", signed.pub, "--require", "provenance,spdx,cyclonedx",
                                       "--non-root", "--no-shell"], environment: SignedCatalog.shared.environment())
        #expect(minimal.status == 0, "\(minimal.output)\(minimal.stderr)")
        #expect(minimal.output.contains("verified:"))
        // Two platforms: index signature, and per platform a signature, 3 attestations, 3 required, non-root, no-shell.
        let json = try run(harden, ["verify", "oci:\(signed.layout):latest", "--key", signed.pub, "--require", "provenance,spdx,cyclonedx",
                                    "--non-root", "--no-shell", "--format", "json"], environment: SignedCatalog.shared.environment())
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true })
        #expect(checks.filter { $0["check"] as? String == "signature" }.count == 3)
        #expect(checks.filter { $0["check"] as? String == "attestation" }.count == 6)
        #expect((report["attestations"] as? [String: [String]])?["linux/amd64"] == ["cyclonedx", "provenance", "spdx"])

        // The dev variant is signed too, but runs as root and holds a shell.
        let policyDirectory = try TemporaryDirectory()
        let policy = try policyDirectory.write("policy.yaml", Array("require: [provenance]\nnon-root: true\nno-shell: true\n".utf8))
        let dev = try run(harden, ["verify", "oci:\(signed.layout):latest-dev", "--key", signed.pub, "--policy", policy],
                          environment: SignedCatalog.shared.environment())
        #expect(dev.status == 1)
        #expect(dev.output.contains("FAIL  non-root") && dev.output.contains("runs as root"), "\(dev.output)")
        #expect(dev.output.contains("FAIL  no-shell") && dev.output.contains("/bin/sh"), "\(dev.output)")
        #expect(dev.output.contains("PASS  signature"))
    }

    @Test func signaturesAndAttestationsTravelWithCopies() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        try runChecked(harden, ["copy", "oci:\(signed.layout):latest", "oci-archive:\(dir.path)/base.tar:latest"])
        try runChecked(harden, ["copy", "oci-archive:\(dir.path)/base.tar:latest", "oci:\(dir.path)/again:v1"])
        for reference in ["oci-archive:\(dir.path)/base.tar:latest", "oci:\(dir.path)/again:v1"] {
            let result = try run(harden, ["verify", reference, "--key", signed.pub, "--require", "provenance,spdx,cyclonedx"],
                                 environment: SignedCatalog.shared.environment())
            #expect(result.status == 0, "\(reference): \(result.output)\(result.stderr)")
        }
    }

    @Test func tamperingWrongKeysAndMissingAttestationsFail() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let other = try TemporaryDirectory()
        try runChecked(try hardenBinary(), ["keygen", "--output-prefix", other.path + "/other"], environment: SignedCatalog.shared.environment())

        let wrongKey = try verifyCopy(signed.layout, tag: "latest", key: other.path + "/other.pub")
        #expect(wrongKey.status == 1)
        #expect(wrongKey.output.contains("does not verify with key"), "\(wrongKey.output)")

        let missing = try verifyCopy(signed.layout, tag: "latest", key: signed.pub, extra: ["--require", "vex"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("required vex attestation is missing"), "\(missing.output)")

        // One byte of a layer, then of the config.
        for part in ["layer", "config"] {
            let changed = try verifyCopy(signed.layout, tag: "latest", key: signed.pub) { layout in
                let manifest = try layout.readDocument(ImageManifest.self, try platformManifests(layout, tag: "latest")[0], kind: "manifest")
                let blob = layout.blobPath(part == "layer" ? manifest.layers[0].digest : manifest.config.digest)
                var bytes = try FileSystem.read(blob, limit: 256 << 20)
                bytes[bytes.count / 2] ^= 0x01
                chmod(blob, 0o644)
                try FileSystem.writeAtomically(blob, bytes: bytes)
            }
            #expect(changed.status == 1, "\(part)")
            #expect(changed.output.contains("FAIL  integrity") && changed.output.contains("digest"), "\(part): \(changed.output)")
        }

        // The minimal image's attestations put on the dev image.
        let moved = try verifyCopy(signed.layout, tag: "latest-dev", key: signed.pub) { layout in
            let minimal = try platformManifests(layout, tag: "latest")[0]
            let dev = try platformManifests(layout, tag: "latest-dev")[0]
            let attestations = try layout.resolve(tag: Cosign.tag(.attestation, of: minimal.digest))
            try layout.tag(attestations, as: Cosign.tag(.attestation, of: dev.digest))
        }
        #expect(moved.status == 1)
        #expect(moved.output.contains("it was moved from another image"), "\(moved.output)")

        // A signature cut short, in both places it is kept.
        let truncated = try verifyCopy(signed.layout, tag: "latest", key: signed.pub) { layout in
            let index = try layout.resolve(tag: "latest")
            let tag = Cosign.tag(.signature, of: index.digest)
            var manifest = try layout.readDocument(ImageManifest.self, try layout.resolve(tag: tag), kind: "sig")
            let full = try #require(manifest.layers[0].annotations?[Cosign.signatureAnnotation])
            manifest.layers[0].annotations?[Cosign.signatureAnnotation] = String(full.prefix(full.count - 8))
            try layout.tag(try layout.writeDocument(manifest, mediaType: MediaType.imageManifest), as: tag)
            try layout.untag(ImageLayout.referrersTag(for: index.digest))
        }
        #expect(truncated.status == 1)
        #expect(truncated.output.contains("FAIL  signature") && truncated.output.contains("none valid"), "\(truncated.output)")

        // A malformed envelope anyone could have added is reported and ignored, not trusted and not a crash.
        let malformed = try verifyCopy(signed.layout, tag: "latest", key: signed.pub, extra: ["--require", "provenance"]) { layout in
            let manifest = try platformManifests(layout, tag: "latest")[0]
            try layout.storeAttestation(DSSE.Envelope(payloadType: DSSE.inTotoPayloadType, payload: "!!!", signatures: [.init(keyid: "", sig: "AA==")]),
                                        predicateType: "https://example.com/broken", of: manifest)
        }
        #expect(malformed.status == 0, "\(malformed.output)")
        #expect(malformed.output.contains("ignored 1 envelope(s) this key does not vouch for"), "\(malformed.output)")
    }

    @Test func provenanceNamesEveryInputAndIsReproducible() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let layout = try ImageLayout(opening: signed.layout)
        let key = try KeyFile.loadVerificationKey(signed.pub)
        let lock = try LockFile.read(LockFile.path(forSpec: signed.spec))
        let manifest = try platformManifests(layout, tag: "latest").first { $0.platform?.architecture == "amd64" }!
        let statement = try attestedStatement(layout, manifest, PredicateType.slsaProvenance, key: key)
        #expect(statement.subjects.map { $0.digest["sha256"] } == [manifest.digest.hex])
        let provenance = try Provenance.decode(statement.predicate)
        #expect(provenance.buildDefinition.buildType == Provenance.buildType)
        #expect(provenance.runDetails.builder.id == Provenance.builderID)
        #expect(provenance.buildDefinition.externalParameters.spec.sha256 == lock.spec.sha256)
        #expect(provenance.buildDefinition.externalParameters.variant == "minimal")
        #expect(provenance.buildDefinition.externalParameters.architectures == ["amd64", "arm64"])
        let dependencies = provenance.buildDefinition.resolvedDependencies
        for package in lock.packages["amd64"] ?? [] {
            #expect(dependencies.contains { $0.uri == package.url && $0.digest?["sha256"] == package.sha256 }, "\(package.name)")
        }
        for release in lock.releases {
            #expect(dependencies.contains { $0.uri == release.url && $0.digest?["sha256"] == release.sha256 })
        }
        let harden = try #require(dependencies.first { $0.name == "harden" })
        #expect(harden.digest?["sha256"] == sha256Hex(try FileSystem.read(try hardenBinary(), limit: 1 << 30)))
        #expect(dependencies.count == (lock.packages["amd64"]?.count ?? 0) + lock.releases.count + 1)

        // A second signed build from the same lock: the same image digests, and provenance that
        // differs only in the invocation id and the times.
        let again = try TemporaryDirectory()
        let second = try run(try hardenBinary(), ["build", signed.spec, "--key", signed.key, "--variant", "minimal", "--output", "oci:\(again.path)/out"],
                             environment: SignedCatalog.shared.environment())
        #expect(second.status == 0, "\(second.stderr)")
        let secondLayout = try ImageLayout(opening: again.path + "/out")
        #expect(try secondLayout.resolve(tag: "latest").digest == layout.resolve(tag: "latest").digest)
        let other = try Provenance.decode(try attestedStatement(secondLayout, manifest, PredicateType.slsaProvenance, key: key).predicate)
        #expect(other.runDetails.metadata.invocationId != provenance.runDetails.metadata.invocationId)
        var normalized = other
        normalized.runDetails.metadata = provenance.runDetails.metadata
        #expect(normalized == provenance)
    }

    @Test func cosignLayoutAndPeersAcceptOurSignatures() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let layout = try ImageLayout(opening: signed.layout)
        let manifest = try platformManifests(layout, tag: "latest")[0]
        let dir = try TemporaryDirectory()

        // The .sig and .att manifests: media types and annotations as cosign writes them.
        let sig = try layout.readDocument(ImageManifest.self, try layout.resolve(tag: Cosign.tag(.signature, of: manifest.digest)), kind: "sig")
        #expect(sig.layers.count == 1)
        #expect(sig.layers[0].mediaType == "application/vnd.dev.cosign.simplesigning.v1+json")
        let signature = try #require(sig.layers[0].annotations?["dev.cosignproject.cosign/signature"])
        let payload = try layout.readBlob(sig.layers[0])
        #expect(String(decoding: payload, as: UTF8.self) == "{\"critical\":{\"identity\":{\"docker-reference\":\"base\"},\"image\":{\"docker-manifest-digest\":\"\(manifest.digest)\"},\"type\":\"cosign container image signature\"},\"optional\":null}")
        let att = try layout.readDocument(ImageManifest.self, try layout.resolve(tag: Cosign.tag(.attestation, of: manifest.digest)), kind: "att")
        #expect(att.layers.map(\.mediaType) == Array(repeating: "application/vnd.dsse.envelope.v1+json", count: 3))
        #expect(Set(att.layers.compactMap { $0.annotations?["predicateType"] }) == [PredicateType.slsaProvenance, PredicateType.spdx, PredicateType.cycloneDX])
        // Both validate against the OCI schema, and skopeo reads them as images.
        let sigFile = try dir.write("sig.json", try layout.readBlob(try layout.resolve(tag: Cosign.tag(.signature, of: manifest.digest))))
        let attFile = try dir.write("att.json", try layout.readBlob(try layout.resolve(tag: Cosign.tag(.attestation, of: manifest.digest))))
        try runChecked("python3", [validator, schemaDirectory + "/image-manifest-schema.json", sigFile, attFile])
        let skopeo = try run(try requireTool("skopeo"), ["inspect", "--raw", "oci:\(signed.layout):\(Cosign.tag(.signature, of: manifest.digest))"])
        #expect(skopeo.status == 0, "\(skopeo.stderr)")
        // The referrers index lists the signature and the three attestations beside the SBOMs.
        let referrers = try layout.referrers(of: manifest.digest)
        #expect(referrers.filter { $0.artifactType == Cosign.dsseMediaType }.count == 3)
        #expect(referrers.filter { $0.artifactType == Cosign.simpleSigningMediaType }.count == 1)

        // Python's cryptography verifies the simple-signing signature with the PEM public key.
        let payloadFile = try dir.write("payload.json", payload)
        let sigBytes = try dir.write("payload.sig", Base64.decode(signature) ?? [])
        try runChecked("python3", ["-c", """
            import sys
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            key = serialization.load_pem_public_key(open(sys.argv[1], 'rb').read())
            key.verify(open(sys.argv[3], 'rb').read(), open(sys.argv[2], 'rb').read(), ec.ECDSA(hashes.SHA256()))
            """, signed.pub, payloadFile, sigBytes])
        // securesystemslib verifies each DSSE envelope with the same public key.
        for (index, layer) in att.layers.enumerated() {
            let envelope = try dir.write("envelope\(index).json", try layout.readBlob(layer))
            let verified = try runChecked("python3", ["-c", """
                import json, sys
                from securesystemslib.dsse import Envelope
                from securesystemslib.signer import SSlibKey
                from cryptography.hazmat.primitives import serialization
                pem = open(sys.argv[1], 'rb').read()
                key = SSlibKey.from_crypto(serialization.load_pem_public_key(pem))
                data = json.load(open(sys.argv[2]))
                for s in data["signatures"]: s["keyid"] = key.keyid
                envelope = Envelope.from_dict(data)
                envelope.verify([key], 1)
                statement = json.loads(envelope.payload)
                print(statement["predicateType"], statement["subject"][0]["digest"]["sha256"])
                """, signed.pub, envelope])
            #expect(verified.contains(manifest.digest.hex), "\(verified)")
        }
    }

    @Test func buildChildCannotReachTheKey() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let probe = try run(try hardenBinary(), ["build", signed.spec, "--key", signed.key, "--probe-isolation"],
                            environment: SignedCatalog.shared.environment())
        #expect(probe.status == 0, "\(probe.output)\(probe.stderr)")
        let lines = probe.output.split(separator: "\n")
        #expect(lines.count >= 4, "\(probe.output)")
        #expect(lines.allSatisfy { $0.hasPrefix("denied") }, "\(probe.output)")
        #expect(probe.output.contains(signed.key))
        #expect(probe.output.contains("HARDEN_PASSWORD"))
        #expect(!probe.output.contains(SignedCatalog.passphrase) && !probe.stderr.contains(SignedCatalog.passphrase))
        let keyText = String(decoding: try FileSystem.read(signed.key), as: UTF8.self)
        let body = keyText.split(separator: "\n").dropFirst().first.map(String.init) ?? keyText
        #expect(!probe.output.contains(body))
    }

    @Test func signAndAttestAnyImageInALayoutWithEd25519() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let environment = SignedCatalog.shared.environment()
        try dir.write("root/usr/bin/tool", pseudoRandomBytes(count: 1000), mode: 0o755)
        try runChecked(harden, ["pack", dir.path + "/root", "--output", "oci:\(dir.path)/out:v1", "--user", "65532", "--epoch", "1000"])
        try runChecked(harden, ["keygen", "--algorithm", "ed25519", "--output-prefix", dir.path + "/ed"], environment: environment)
        let vex = try dir.write("tool.vex.json", Array(#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"test","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[]}"#.utf8))
        let unsigned = try run(harden, ["verify", "oci:\(dir.path)/out:v1", "--key", dir.path + "/ed.pub"], environment: environment)
        #expect(unsigned.status == 1 && unsigned.output.contains("not signed"), "\(unsigned.output)")
        try runChecked(harden, ["sign", "oci:\(dir.path)/out:v1", "--key", dir.path + "/ed.key"], environment: environment)
        try runChecked(harden, ["attest", "oci:\(dir.path)/out:v1", "--predicate", vex, "--type", "vex", "--key", dir.path + "/ed.key"], environment: environment)
        // Attesting again replaces the statement of the same type instead of piling up.
        try runChecked(harden, ["attest", "oci:\(dir.path)/out:v1", "--predicate", vex, "--type", "vex", "--key", dir.path + "/ed.key"], environment: environment)
        let layout = try ImageLayout(opening: dir.path + "/out")
        let root = try layout.resolve(tag: "v1")
        #expect(try layout.attestationEnvelopes(of: root.digest).count == 1)
        let verified = try run(harden, ["verify", "oci:\(dir.path)/out:v1", "--key", dir.path + "/ed.pub", "--require", "vex", "--non-root"],
                               environment: environment)
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("vex: signed"))
    }

    @Test func policyChecksSeeThroughNamesNumbersHostileLayersAndEmptyIndexes() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let environment = SignedCatalog.shared.environment()
        try dir.write("root/etc/passwd", Array("root:x:0:0::/root:/sbin/nologin\nadmin:x:0:0::/:/sbin/nologin\napp:x:1000:1000::/:/sbin/nologin\n".utf8))
        try dir.write("root/usr/bin/tool", pseudoRandomBytes(count: 100), mode: 0o755)
        try runChecked(harden, ["keygen", "--output-prefix", dir.path + "/k"], environment: environment)
        for (user, passes, detail) in [("00", false, "runs as root"), ("admin", false, "runs as root"), ("app", true, "(uid 1000)"),
                                       ("ghost", false, "not in the image's /etc/passwd"), ("1000:0", true, "runs as 1000:0")] {
            try runChecked(harden, ["pack", dir.path + "/root", "--output", "oci:\(dir.path)/users:\(user.replacingOccurrences(of: ":", with: "-"))",
                                    "--user", user, "--epoch", "1000"])
            let result = try run(harden, ["verify", "oci:\(dir.path)/users:\(user.replacingOccurrences(of: ":", with: "-"))", "--key", dir.path + "/k.pub",
                                          "--non-root"], environment: environment)
            #expect(result.output.contains("\(passes ? "PASS" : "FAIL")  non-root") && result.output.contains(detail), "\(user): \(result.output)")
        }

        // A layer whose /bin/sh has an absolute name: a runtime may still extract it, so no-shell fails.
        let layout = try ImageLayout.create(at: dir.path + "/hostile")
        let tar = try pythonTar([("/bin/sh", "file", "")])
        let blob = try layout.writeBlob(tar, mediaType: MediaType.layerTar)
        let image = try layout.writeImage(config: ImageConfiguration(architecture: "amd64", config: .init(User: "65532"), rootfs: .init(diffIDs: [])),
                                          layers: [StoredLayer(descriptor: blob, diffID: blob.digest)])
        try layout.tag(image, as: "v1")
        let hostile = try run(harden, ["verify", "oci:\(dir.path)/hostile:v1", "--key", dir.path + "/k.pub", "--no-shell"], environment: environment)
        #expect(hostile.status == 1)
        #expect(hostile.output.contains("FAIL  no-shell") && hostile.output.contains("hostile entry"), "\(hostile.output)")

        // An index with no image in it proves nothing, signed or not.
        let empty = try layout.writeIndex(of: [])
        try layout.tag(empty, as: "empty")
        let payload = try Cosign.payload(dockerReference: "empty", manifestDigest: empty.digest)
        let key = try KeyFile.loadSigningKey(dir.path + "/k.key", environment: environment, prompt: nil)
        try layout.storeSignature(payload: payload, signature: try key.sign(payload), of: empty)
        let nothing = try run(harden, ["verify", "oci:\(dir.path)/hostile:empty", "--key", dir.path + "/k.pub", "--require", "provenance"], environment: environment)
        #expect(nothing.status == 1)
        #expect(nothing.output.contains("lists no image manifest"), "\(nothing.output)")
    }

    @Test func aSpecWithoutALockIsLockedByTheChildAndCheckedByTheControlPlane() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let dir = try TemporaryDirectory()
        let spec = try dir.write("base.yaml", try FileSystem.read(signed.spec))
        let result = try run(try hardenBinary(), ["build", spec, "--key", signed.key, "--variant", "minimal", "--output", "oci:\(dir.path)/out"],
                             environment: SignedCatalog.shared.environment())
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote \(dir.path)/base.lock.json"), "\(result.stderr)")
        let lock = try LockFile.read(dir.path + "/base.lock.json")
        #expect(lock.spec.sha256 == sha256Hex(try FileSystem.read(spec)))
        let verified = try run(try hardenBinary(), ["verify", "oci:\(dir.path)/out:latest", "--key", signed.pub, "--require", "provenance"],
                               environment: SignedCatalog.shared.environment())
        #expect(verified.status == 0, "\(verified.output)")
    }

    @Test func badKeysAndPassphrasesGiveClearErrors() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let corrupt = try dir.write("corrupt.pub", Array("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n".utf8))
        let p384 = try dir.write("p384.pem", Array(try runChecked("python3", ["-c", """
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            k = ec.generate_private_key(ec.SECP384R1())
            print(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(), end="")
            """]).utf8))
        let cases: [([String], [String: String], String)] = [
            (["verify", "oci:\(signed.layout):latest", "--key", corrupt], [:], "malformed key"),
            (["sign", "oci:\(signed.layout):latest", "--key", p384], [:], "unsupported"),
            (["sign", "oci:\(signed.layout):latest", "--key", signed.key], ["HARDEN_PASSWORD": "wrong"], "wrong passphrase"),
            (["verify", "oci:\(signed.layout):latest", "--key", signed.key], [:], "public key"),
            (["sign", "docker-archive:\(dir.path)/x.tar", "--key", signed.key], [:], "layout"),
        ]
        for (arguments, extra, message) in cases {
            let result = try run(harden, arguments, environment: SignedCatalog.shared.environment(extra))
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains(SignedCatalog.passphrase))
        }
    }
}
