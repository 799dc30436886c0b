import Archive
import Foundation
import OCI

/// SLSA provenance v1 (`https://slsa.dev/provenance/v1`): how an image was built, from what, by whom.
public struct Provenance: Sendable, Codable, Equatable {
    /// The build process Harden runs; documented in docs/provenance.md.
    public static let buildType = "https://harden.dev/buildtypes/debian-image/v1"
    /// The builder: the Harden CLI acting as the build platform's control plane on one machine.
    public static let builderID = "https://harden.dev/builders/harden-cli/v1"

    /// A pointer to something used in the build (SLSA ResourceDescriptor).
    public struct Resource: Sendable, Codable, Equatable {
        public var name: String?
        public var uri: String?
        public var digest: [String: String]?
        public var mediaType: String?
        public var annotations: [String: String]?
        public init(name: String? = nil, uri: String? = nil, sha256: String? = nil, mediaType: String? = nil, annotations: [String: String]? = nil) {
            self.name = name
            self.uri = uri
            self.digest = sha256.map { ["sha256": $0] }
            self.mediaType = mediaType
            self.annotations = annotations
        }
    }

    /// Everything the user controls.
    public struct ExternalParameters: Sendable, Codable, Equatable {
        /// The spec: its path as given, its content and its SHA-256.
        public struct Spec: Sendable, Codable, Equatable {
            public var path: String
            public var content: String
            public var sha256: String
            public init(path: String, content: String, sha256: String) {
                self.path = path
                self.content = content
                self.sha256 = sha256
            }
        }
        public var spec: Spec
        /// The lock the build installed from, by path and SHA-256.
        public var lock: Resource
        public var variant: String
        public var architectures: [String]
        /// Build flags (compression, SOURCE_DATE_EPOCH, ...), as text.
        public var flags: [String: String]
        public init(spec: Spec, lock: Resource, variant: String, architectures: [String], flags: [String: String]) {
            self.spec = spec
            self.lock = lock
            self.variant = variant
            self.architectures = architectures
            self.flags = flags
        }
    }

    public struct BuildDefinition: Sendable, Codable, Equatable {
        public var buildType: String
        public var externalParameters: ExternalParameters
        public var internalParameters: [String: String]?
        public var resolvedDependencies: [Resource]
    }

    public struct Builder: Sendable, Codable, Equatable {
        public var id: String
        public var version: [String: String]?
    }

    public struct Metadata: Sendable, Codable, Equatable {
        public var invocationId: String
        public var startedOn: String
        public var finishedOn: String
    }

    public struct RunDetails: Sendable, Codable, Equatable {
        public var builder: Builder
        public var metadata: Metadata
        public var byproducts: [Resource]?
    }

    public var buildDefinition: BuildDefinition
    public var runDetails: RunDetails

    public init(buildDefinition: BuildDefinition, runDetails: RunDetails) {
        self.buildDefinition = buildDefinition
        self.runDetails = runDetails
    }

    /// Provenance of one build: `dependencies` lists every input by digest (each .deb, each signed
    /// Release file, the builder binary); times are whole seconds, UTC.
    public init(external: ExternalParameters, internalParameters: [String: String]? = nil, dependencies: [Resource],
                builderVersion: String, invocationID: String, startedOn: Date, finishedOn: Date, byproducts: [Resource]? = nil) {
        buildDefinition = BuildDefinition(buildType: Self.buildType, externalParameters: external,
                                          internalParameters: internalParameters, resolvedDependencies: dependencies)
        runDetails = RunDetails(builder: Builder(id: Self.builderID, version: ["harden": builderVersion]),
                                metadata: Metadata(invocationId: invocationID,
                                                   startedOn: UTCTime.rfc3339(Int64(startedOn.timeIntervalSince1970)),
                                                   finishedOn: UTCTime.rfc3339(Int64(finishedOn.timeIntervalSince1970))),
                                byproducts: byproducts)
    }

    /// The predicate's canonical bytes.
    public func encoded() throws -> [UInt8] { try CanonicalJSON.encode(self) }

    /// Parses a provenance predicate, naming what is missing.
    public static func decode(_ bytes: [UInt8]) throws -> Provenance {
        do {
            return try CanonicalJSON.decode(Provenance.self, from: bytes, kind: "SLSA provenance")
        } catch {
            throw AttestationError(.provenance, "\(error)")
        }
    }
}
