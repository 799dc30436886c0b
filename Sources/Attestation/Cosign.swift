import Archive
import Foundation
import OCI

/// cosign's storage of signatures and attestations, in an OCI layout (and, with the registry
/// client, in a registry): tags `sha256-<hex>.sig` and `sha256-<hex>.att` whose manifests carry
/// one layer per signature or DSSE envelope; also OCI 1.1 referrers with `subject` set.
public enum Cosign {
    public static let simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    public static let dsseMediaType = "application/vnd.dsse.envelope.v1+json"
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"
    public static let predicateTypeAnnotation = "predicateType"

    /// The simple-signing payload cosign signs for an image, with Go's key order.
    public static func payload(dockerReference: String, manifestDigest: Digest) throws -> [UInt8] {
        let reference = String(decoding: try CanonicalJSON.encode(dockerReference), as: UTF8.self)
        let digest = String(decoding: try CanonicalJSON.encode(manifestDigest.description), as: UTF8.self)
        return Array(("{\"critical\":{\"identity\":{\"docker-reference\":\(reference)},\"image\":{\"docker-manifest-digest\":\(digest)},"
            + "\"type\":\"cosign container image signature\"},\"optional\":null}").utf8)
    }

    /// The fields of a simple-signing payload a verifier checks.
    public struct SignedImage: Sendable, Equatable {
        public var dockerReference: String
        public var manifestDigest: Digest
    }

    /// Parses a simple-signing payload.
    public static func parsePayload(_ bytes: [UInt8]) throws -> SignedImage {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let critical = object["critical"] as? [String: Any] else {
            throw AttestationError(.signature, "the signed payload is not a cosign simple-signing document")
        }
        guard critical["type"] as? String == "cosign container image signature" else {
            throw AttestationError(.signature, "the signed payload has type \(critical["type"].map { "\($0)" } ?? "none"), not 'cosign container image signature'")
        }
        guard let image = critical["image"] as? [String: Any], let text = image["docker-manifest-digest"] as? String,
              let digest = try? Digest(text) else {
            throw AttestationError(.signature, "the signed payload names no valid docker-manifest-digest")
        }
        let identity = (critical["identity"] as? [String: Any])?["docker-reference"] as? String ?? ""
        return SignedImage(dockerReference: identity, manifestDigest: digest)
    }

    /// Where cosign keeps the signatures (`.sig`) or attestations (`.att`) of `subject`.
    public static func tag(_ kind: Kind, of subject: Digest) -> String { "sha256-\(subject.hex).\(kind.rawValue)" }

    public enum Kind: String, Sendable { case signature = "sig", attestation = "att" }

    /// One stored signature or attestation: its layer descriptor (with annotations) and bytes.
    public struct Entry: Sendable {
        public var layer: Descriptor
        public var bytes: [UInt8]
    }
}

extension ImageLayout {
    /// Stores a signature of `subject` as cosign does (a layer of the `.sig` manifest) and as an
    /// OCI 1.1 referrer. A signature over the same payload replaces the one before it.
    public func storeSignature(payload: [UInt8], signature: [UInt8], of subject: Descriptor) throws {
        let annotations = [Cosign.signatureAnnotation: Base64.encode(signature)]
        var layer = try writeBlob(payload, mediaType: Cosign.simpleSigningMediaType)
        layer.annotations = annotations
        try appendCosignLayer(layer, kind: .signature, of: subject.digest) { $0.digest == layer.digest }
        try attach(layer, artifactType: Cosign.simpleSigningMediaType, to: subject, annotations: annotations, replacing: { referrer in
            referrer.artifactType == Cosign.simpleSigningMediaType
                && (try? readDocument(ImageManifest.self, referrer, kind: "signature referrer"))?.layers.first?.digest == layer.digest
        })
    }

    /// Stores a DSSE envelope about `subject` as cosign does (a layer of the `.att` manifest) and as
    /// an OCI 1.1 referrer. An attestation of the same predicate type replaces the one before it.
    public func storeAttestation(_ envelope: DSSE.Envelope, predicateType: String, of subject: Descriptor) throws {
        let annotations = [Cosign.predicateTypeAnnotation: predicateType, Cosign.signatureAnnotation: ""]
        var layer = try writeBlob(try envelope.encoded(), mediaType: Cosign.dsseMediaType)
        layer.annotations = annotations
        try appendCosignLayer(layer, kind: .attestation, of: subject.digest) {
            $0.annotations?[Cosign.predicateTypeAnnotation] == predicateType
        }
        try attach(layer, artifactType: Cosign.dsseMediaType, to: subject, annotations: [Cosign.predicateTypeAnnotation: predicateType],
                   replacing: { $0.artifactType == Cosign.dsseMediaType && $0.annotations?[Cosign.predicateTypeAnnotation] == predicateType })
    }

    /// The layers (with their verified bytes) of the cosign `.sig` or `.att` manifest of `subject`.
    public func cosignEntries(_ kind: Cosign.Kind, of subject: Digest) throws -> [Cosign.Entry] {
        guard let manifest = try cosignManifest(kind, of: subject) else { return [] }
        return try readAttached(manifest.layers)
    }

    /// The most attached entries read for one subject, and the most bytes: hostile layouts that
    /// list one blob a thousand times, or huge ones, are refused instead of filling memory.
    static var attachedLimits: (entries: Int, bytes: Int) { (256, 256 << 20) }

    static var tooMuchAttached: AttestationError {
        AttestationError(.attachment, "more than \(attachedLimits.entries) signatures or attestations, or more than \(attachedLimits.bytes >> 20) MiB, attached to one image")
    }

    /// Reads each distinct layer once, verified, within ``attachedLimits``.
    func readAttached(_ layers: [Descriptor]) throws -> [Cosign.Entry] {
        var seen: Set<Digest> = []
        var total = 0
        var entries: [Cosign.Entry] = []
        for layer in layers where seen.insert(layer.digest).inserted {
            guard entries.count < Self.attachedLimits.entries, layer.size >= 0, layer.size <= Int64(Self.attachedLimits.bytes - total) else {
                throw Self.tooMuchAttached
            }
            let bytes = try readBlob(layer, limit: Self.attachedLimits.bytes - total)
            total += bytes.count
            entries.append(Cosign.Entry(layer: layer, bytes: bytes))
        }
        return entries
    }

    private func cosignManifest(_ kind: Cosign.Kind, of subject: Digest) throws -> ImageManifest? {
        let name = Cosign.tag(kind, of: subject)
        guard let entry = try tags().last(where: { $0.name == name })?.descriptor else { return nil }
        return try readDocument(ImageManifest.self, entry, kind: "cosign \(kind.rawValue) manifest")
    }

    /// Rewrites the `.sig`/`.att` manifest of `subject` with `layer` added, dropping layers that
    /// `replaces` matches. The config is the one cosign writes (empty platform, the layers' diff IDs).
    private func appendCosignLayer(_ layer: Descriptor, kind: Cosign.Kind, of subject: Digest,
                                   replaces: (Descriptor) -> Bool) throws {
        var layers = try cosignManifest(kind, of: subject)?.layers ?? []
        layers.removeAll(where: replaces)
        layers.append(layer)
        let config = ImageConfiguration(architecture: "", os: "", created: "0001-01-01T00:00:00Z", config: .init(),
                                        rootfs: .init(diffIDs: layers.map(\.digest)),
                                        history: layers.map { _ in .init(created: "0001-01-01T00:00:00Z") })
        let configDescriptor = try writeDocument(config, mediaType: MediaType.imageConfig)
        let manifest = ImageManifest(config: configDescriptor, layers: layers)
        let descriptor = try writeDocument(manifest, mediaType: MediaType.imageManifest)
        try tag(descriptor, as: Cosign.tag(kind, of: subject))
    }
}

/// A signature found attached to an image: the signed payload and the signature bytes.
public struct AttachedSignature: Sendable, Equatable {
    public var payload: [UInt8]
    public var signature: [UInt8]?
    /// Where it was found: the cosign tag or the referrer manifest.
    public var source: String
}

extension ImageLayout {
    /// Every signature of `subject`: the layers of its cosign `.sig` manifest and its
    /// simple-signing referrers (each read through its digest check), without duplicates.
    public func signatures(of subject: Digest) throws -> [AttachedSignature] {
        var found: [AttachedSignature] = []
        for entry in try cosignEntries(.signature, of: subject) {
            found.append(AttachedSignature(payload: entry.bytes, signature: entry.layer.annotations?[Cosign.signatureAnnotation].flatMap(Base64.decode),
                                           source: Cosign.tag(.signature, of: subject)))
        }
        for entry in try referrerLayers(of: subject, artifactType: Cosign.simpleSigningMediaType)
        where !found.contains(where: { $0.payload == entry.bytes && $0.signature == entry.layer.annotations?[Cosign.signatureAnnotation].flatMap(Base64.decode) }) {
            found.append(AttachedSignature(payload: entry.bytes, signature: entry.layer.annotations?[Cosign.signatureAnnotation].flatMap(Base64.decode),
                                           source: "referrer"))
        }
        return found
    }

    /// Every DSSE envelope attached to `subject` (cosign `.att` layers and DSSE referrers), as
    /// bytes read through their digest checks, without duplicates.
    public func attestationEnvelopes(of subject: Digest) throws -> [(bytes: [UInt8], source: String)] {
        var found: [(bytes: [UInt8], source: String)] = try cosignEntries(.attestation, of: subject).map { ($0.bytes, Cosign.tag(.attestation, of: subject)) }
        for entry in try referrerLayers(of: subject, artifactType: Cosign.dsseMediaType) where !found.contains(where: { $0.bytes == entry.bytes }) {
            found.append((entry.bytes, "referrer"))
        }
        return found
    }

    /// The in-toto statements attached to `subject` that `key` signed and that are about it, of
    /// `predicateType` (all types when nil). Envelopes not signed by the key, or about another
    /// image, are left out: anyone who can write to the image can attach them.
    public func verifiedStatements(of subject: Digest, key: VerificationKey, predicateType: String? = nil) throws -> [Statement] {
        try attestationEnvelopes(of: subject).compactMap { bytes, _ in
            guard let envelope = try? DSSE.Envelope.decode(bytes), envelope.payloadType == DSSE.inTotoPayloadType,
                  let payload = try? DSSE.verify(envelope, key: key), let statement = try? Statement.decode(payload),
                  statement.isAbout(subject), predicateType == nil || statement.predicateType == predicateType else { return nil }
            return statement
        }
    }

    /// The first layer of each referrer of `subject` with `artifactType`.
    private func referrerLayers(of subject: Digest, artifactType: String) throws -> [Cosign.Entry] {
        let matching = try referrers(of: subject).filter { $0.artifactType == artifactType }
        guard matching.count <= Self.attachedLimits.entries else { throw Self.tooMuchAttached }
        let layers = try matching.compactMap { referrer -> Descriptor? in
            let manifest = try readDocument(ImageManifest.self, referrer, kind: "referrer manifest")
            return manifest.subject?.digest == subject ? manifest.layers.first : nil
        }
        return try readAttached(layers)
    }
}
