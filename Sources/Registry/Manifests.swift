import Archive
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// The manifest or index `reference` (a tag or digest) names in `repository`, or nil when
    /// there is none. The bytes are checked against the digest asked for, and against the
    /// digest the registry says it returned.
    public func manifestIfPresent(_ reference: String, in repository: String, scope: AccessScope? = nil) async throws -> FetchedManifest? {
        let step = "fetching manifest \(repository):\(reference)"
        let response = try await send(.GET, "/v2/\(repository)/manifests/\(reference)", headers: ["Accept": manifestAccept],
                                      scope: scope ?? .pull(repository), step: step)
        if response.status == .notFound {
            let body = (try? await response.bytes(limit: 1 << 16)) ?? []
            let error = Self.statusError(registry: registry, step: step, status: 404, body: body)
            // An unknown repository is an error worth naming; an unknown tag is just absent.
            if case .status(_, let codes, _) = error.reason, codes.contains("NAME_UNKNOWN") { throw error }
            return nil
        }
        try await expect(response, [200], step: step)
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > manifestLimit {
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("manifest of \(length) bytes (limit \(manifestLimit))"))
        }
        let bytes: [UInt8]
        do { bytes = try await response.bytes(limit: manifestLimit) } catch {
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("manifest larger than \(manifestLimit) bytes or cut off: \(Self.describe(error))"))
        }
        let digest = Digest.of(bytes)
        if let asked = try? Digest(reference), asked != digest {
            throw RegistryError(registry: registry, step: step, reason: .digestMismatch(expected: asked.description, actual: digest.description))
        }
        try checkDigest(response, expected: digest, step: step)
        let mediaType = Self.mediaType(of: bytes, header: response.headers.first(name: "Content-Type"))
        guard MediaType.isManifest(mediaType) || MediaType.isIndex(mediaType) else {
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("not an image manifest or index (\(mediaType))"))
        }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
    }

    /// The manifest `reference` names, or an error naming what is missing.
    public func manifest(_ reference: String, in repository: String) async throws -> FetchedManifest {
        guard let found = try await manifestIfPresent(reference, in: repository) else {
            throw RegistryError(registry: registry, step: "fetching manifest \(repository):\(reference)",
                                reason: .status(404, codes: ["MANIFEST_UNKNOWN"], message: "no manifest \(reference) in \(repository)"))
        }
        return found
    }

    /// Whether `repository` holds the manifest `digest` (HEAD).
    public func hasManifest(_ digest: Digest, in repository: String, scope: AccessScope? = nil) async throws -> Bool {
        let step = "checking manifest \(digest) in \(repository)"
        let response = try await send(.HEAD, "/v2/\(repository)/manifests/\(digest)", headers: ["Accept": manifestAccept],
                                      scope: scope ?? .pull(repository), step: step)
        if response.status == .notFound { return false }
        try await expect(response, [200], step: step)
        return true
    }

    /// Puts a manifest's exact bytes under `reference` (a tag, or its digest). Returns whether
    /// the registry processed its `subject` (the `OCI-Subject` header: it has the referrers API).
    @discardableResult
    public func putManifest(_ bytes: [UInt8], mediaType: String, reference: String, in repository: String) async throws -> Bool {
        let digest = Digest.of(bytes)
        let step = "pushing manifest \(digest) as \(repository):\(reference)"
        let response = try await send(.PUT, "/v2/\(repository)/manifests/\(reference)", headers: ["Content-Type": mediaType],
                                      body: .bytes(bytes), scope: .push(repository), step: step)
        try await expect(response, [200, 201, 202], step: step)
        _ = try? await response.bytes(limit: 1 << 16)
        try checkDigest(response, expected: digest, step: step)
        return response.headers.first(name: "OCI-Subject") != nil
    }

    /// The referrers of `digest` from the referrers API, or nil when the registry does not offer it.
    public func referrersAPI(of digest: Digest, in repository: String) async throws -> [Descriptor]? {
        let step = "listing referrers of \(digest) in \(repository)"
        let response = try await send(.GET, "/v2/\(repository)/referrers/\(digest)", headers: ["Accept": MediaType.imageIndex],
                                      scope: .pull(repository), step: step)
        let status = Int(response.status.code)
        let body = (try? await response.bytes(limit: manifestLimit)) ?? []
        guard status == 200, (response.headers.first(name: "Content-Type") ?? "").hasPrefix(MediaType.imageIndex) else { return nil }
        guard let index = try? CanonicalJSON.decode(ImageIndex.self, from: body, kind: "referrers") else {
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("the referrers answer is not an image index"))
        }
        return index.manifests
    }

    /// The media type of a manifest: its own `mediaType` field, else the Content-Type header.
    static func mediaType(of bytes: [UInt8], header: String?) -> String {
        struct Typed: Decodable { var mediaType: String?; var manifests: [Descriptor]? }
        if let typed = try? JSONDecoder().decode(Typed.self, from: Data(bytes)) {
            if let type = typed.mediaType { return type }
            if typed.manifests != nil { return MediaType.imageIndex }
        }
        let header = header?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        return header ?? MediaType.imageManifest
    }
}
