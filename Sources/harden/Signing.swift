import Archive
import ArgumentParser
import Attestation
import Foundation
import ImageBuild
import OCI
import Policy

extension KeyAlgorithm: ExpressibleByArgument {}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a signing key pair: PREFIX.key (encrypted, 0600) and PREFIX.pub (PEM, as cosign's --key reads it).",
        discussion: """
        The private key is encrypted with a key derived from a passphrase (scrypt, N=32768, r=8, p=1;
        AES-256-GCM) taken from HARDEN_PASSWORD or asked for on the terminal. It is never written in
        the clear. The public key is a PEM PKIX 'PUBLIC KEY', which cosign verify --key and
        Python's cryptography read as they are.

        Examples:
          harden keygen                          # harden.key, harden.pub (ECDSA P-256)
          harden keygen --algorithm ed25519 --output-prefix release
          HARDEN_PASSWORD=... harden keygen --output-prefix ci --force
        """
    )

    @Option(help: "ecdsa-p256 (as cosign) or ed25519.")
    var algorithm: KeyAlgorithm = .ecdsaP256

    @Option(help: "Write PREFIX.key and PREFIX.pub.")
    var outputPrefix = "harden"

    @Flag(help: "Replace existing key files.")
    var force = false

    func run() throws {
        let chosen = algorithm
        let passphrase: String
        if let fromEnvironment = ProcessInfo.processInfo.environment[KeyFile.passphraseVariable] {
            passphrase = fromEnvironment
        } else {
            passphrase = try KeyFile.promptPassphrase("Passphrase for the new key \(outputPrefix).key: ", confirm: true)
        }
        if passphrase.isEmpty { note("warning: the passphrase is empty; anyone who can read \(outputPrefix).key can sign") }
        let paths = try KeyFile.generate(chosen, prefix: outputPrefix, passphrase: passphrase, overwrite: force)
        let key = try KeyFile.loadVerificationKey(paths.publicKey)
        print("\(paths.privateKey)  private key (\(chosen.rawValue), encrypted, mode 0600)")
        print("\(paths.publicKey)  public key, key id \(key.keyID)")
    }
}

struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign an image as cosign does (simple signing), in its layout.",
        discussion: """
        Signs the image's digest and, for a multi-platform index, each platform manifest too. The
        signatures are stored as cosign stores them (tag sha256-<hex>.sig, one layer per signature
        with the dev.cosignproject.cosign/signature annotation) and as OCI 1.1 referrers. Signing
        again with the same payload replaces the earlier signature.

        Examples:
          harden sign python:latest --key harden.key
          harden sign oci:out/base:latest --key harden.key --identity registry.example/team/base
        """
    )

    @Argument(help: "The image: NAME:TAG in the local store or oci:DIR[:TAG].")
    var image: String

    @Option(help: "The private key (from 'harden keygen', or a PKCS#8 PEM).")
    var key: String

    @Option(help: "The docker-reference the signature names (default: the image's name).")
    var identity: String?

    func run() throws {
        let target = try openWritableImage(image)
        let signingKey = try loadSigningKey(key)
        let subjects = [target.root] + (MediaType.isIndex(target.root.mediaType) ? try ImageGraph.manifests(under: target.root, in: target.layout) : [])
        for subject in subjects {
            let payload = try Cosign.payload(dockerReference: identity ?? target.name, manifestDigest: subject.digest)
            try target.layout.storeSignature(payload: payload, signature: try signingKey.sign(payload), of: subject)
            print("signed \(subject.digest)" + (subject.platform.map { "  \($0)" } ?? ""))
        }
        note("key \(signingKey.publicKey.keyID.prefix(16)); signatures under \(Cosign.tag(.signature, of: target.root.digest))")
    }
}

struct Attest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Attach a signed in-toto attestation (DSSE) to an image.",
        discussion: """
        Wraps the predicate (a JSON object) in an in-toto Statement v1 whose subject is each
        platform manifest of the image (or the one chosen with --platform), signs it as a DSSE
        envelope and stores it as cosign does (tag sha256-<hex>.att) and as an OCI 1.1 referrer.
        An attestation of the same type replaces the earlier one.

        Types: provenance (https://slsa.dev/provenance/v1), spdx, cyclonedx, vex, or any URI.

        Examples:
          harden attest python:latest --predicate python.vex.json --type vex --key harden.key
          harden attest oci:out/app --predicate scan.json --type https://in-toto.io/attestation/vulns/v0.1 --key harden.key
        """
    )

    @Argument(help: "The image: NAME:TAG in the local store or oci:DIR[:TAG].")
    var image: String

    @Option(help: "The predicate: a JSON file.")
    var predicate: String

    @Option(help: "The predicate type: provenance, spdx, cyclonedx, vex or a URI.")
    var type: String

    @Option(help: "The private key.")
    var key: String

    @Option(help: "Only this platform (os/arch) of a multi-platform image.")
    var platform: String?

    func run() throws {
        let predicateType = try PredicateType.resolve(type)
        let document = try FileSystem.read(predicate, limit: 256 << 20)
        let target = try openWritableImage(image)
        let signingKey = try loadSigningKey(key)
        let subjects: [Descriptor]
        if let platform {
            subjects = [try ImageGraph.manifest(for: try Platform(parsing: platform), under: target.root, in: target.layout)]
        } else {
            subjects = MediaType.isIndex(target.root.mediaType) ? try ImageGraph.manifests(under: target.root, in: target.layout) : [target.root]
        }
        for subject in subjects {
            let statement = Statement(subjects: [Statement.Subject(name: target.name, digest: subject.digest)],
                                      predicateType: predicateType, predicate: document)
            let envelope = try DSSE.sign(payload: try statement.encoded(), payloadType: DSSE.inTotoPayloadType, key: signingKey)
            try target.layout.storeAttestation(envelope, predicateType: predicateType, of: subject)
            print("attested \(PredicateType.shortName(predicateType)) for \(subject.digest)" + (subject.platform.map { "  \($0)" } ?? ""))
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an image's signatures, attestations and policy.",
        discussion: """
        Checks, and prints, each of these; any failure exits with status 1:
          integrity     every blob of the image matches its digest (one changed byte fails)
          signature     a signature over the index and over each platform manifest verifies with --key
          attestation   each DSSE envelope verifies, its subject is this image, its predicate parses;
                        provenance names the expected builder.id and buildType
          required      the attestations named by --require (or the policy) are present
          non-root, no-shell   when the policy asks for them

        Policy file (YAML):
          require: [provenance, spdx, cyclonedx]
          builder-id: https://harden.dev/builders/harden-cli/v1
          build-type: https://harden.dev/buildtypes/debian-image/v1
          non-root: true
          no-shell: true

        Examples:
          harden verify python:latest --key harden.pub --require provenance,spdx,cyclonedx
          harden verify oci:out/base:latest --key harden.pub --policy minimal.policy.yaml --format json
          harden verify registry.example.com/hardened/base@sha256:... --key harden.pub --require provenance
        """
    )

    @Argument(help: "The image: NAME:TAG in the local store, oci:DIR[:TAG], oci-archive:FILE[:TAG] or REGISTRY/REPO[:TAG|@DIGEST] (a docker-archive cannot carry signatures).")
    var image: String

    @Option(help: "The public key (PEM).")
    var key: String

    @Option(help: "Attestations that must be present: provenance,spdx,cyclonedx,vex (comma-separated).")
    var require: String?

    @Option(help: "A policy file (YAML).")
    var policy: String?

    @Flag(help: "Require a non-root user.")
    var nonRoot = false

    @Flag(help: "Require that the image holds no shell.")
    var noShell = false

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        var rules = try policy.map { try VerificationPolicy.load($0) } ?? VerificationPolicy()
        if let require {
            rules.required += try require.split(separator: ",").map { try PredicateType.resolve(String($0).trimmingCharacters(in: .whitespaces)) }
        }
        rules.nonRoot = rules.nonRoot || nonRoot
        rules.noShell = rules.noShell || noShell
        let verificationKey = try KeyFile.loadVerificationKey(key)
        let opened = try await openImage(image, registry: registry)
        let report = ImageVerifier(key: verificationKey, policy: rules).verify(opened.root, in: try opened.layout, reference: image)
        switch format {
        case .text: print(report.text())
        case .json: print(try CanonicalJSON.pretty(report))
        }
        if !report.passed { throw ExitCode(1) }
    }
}

/// The isolated build child (`harden build --key` runs it; not for people).
struct BuildStep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build-step", abstract: "Run the isolated steps of a signed build.",
                                                    shouldDisplay: false)

    @Option(help: "The request the control plane wrote.")
    var request: String

    func run() async throws {
        try await BuildWorker.run(requestPath: request, progress: note)
    }
}

/// Loads a private key, with the passphrase from HARDEN_PASSWORD or the terminal.
func loadSigningKey(_ path: String) throws -> SigningKey {
    let prompt: (() throws -> String)? = isatty(0) == 1 ? { try KeyFile.promptPassphrase("Passphrase for \(path): ", confirm: false) } : nil
    return try KeyFile.loadSigningKey(path, environment: ProcessInfo.processInfo.environment, prompt: prompt)
}

/// An image in a layout Harden may write to (the local store or an `oci:` directory).
func openWritableImage(_ text: String) throws -> (layout: ImageLayout, root: Descriptor, name: String) {
    if let store = try storeHolding(text) {
        return (store, try store.resolve(tag: text), String(text.split(separator: ":").first ?? Substring(text)))
    }
    guard case .layout(let path, let tag) = try ImageReference(parsing: text) else {
        throw CLIError("\(text): signatures are written into a layout: use NAME:TAG from the local store or oci:DIR[:TAG] (archives are read-only; copy to oci: first)")
    }
    let layout = try ImageLayout(opening: path)
    let root = try layout.resolve(tag: tag)
    let name = root.annotations?["org.opencontainers.image.title"] ?? (path as NSString).lastPathComponent
    return (layout, root, name)
}
