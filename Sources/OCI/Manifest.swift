/// An OCI image manifest (also reads Docker v2 schema 2 manifests, which have the same shape).
public struct ImageManifest: Sendable, Hashable, Codable {
    public var schemaVersion: Int = 2
    public var mediaType: String? = MediaType.imageManifest
    public var artifactType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil,
                subject: Descriptor? = nil, artifactType: String? = nil) {
        self.config = config
        self.layers = layers
        self.annotations = annotations
        self.subject = subject
        self.artifactType = artifactType
    }
}

/// An OCI image index (also reads Docker manifest lists).
public struct ImageIndex: Sendable, Hashable, Codable {
    public var schemaVersion: Int = 2
    public var mediaType: String? = MediaType.imageIndex
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(manifests: [Descriptor] = [], annotations: [String: String]? = nil) {
        self.manifests = manifests
        self.annotations = annotations
    }
}

/// An OCI image configuration.
public struct ImageConfiguration: Sendable, Hashable, Codable {
    /// The runtime defaults of a container (the `config` object).
    public struct Container: Sendable, Hashable, Codable {
        public var User: String?
        public var ExposedPorts: [String: EmptyObject]?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var Volumes: [String: EmptyObject]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        public var StopSignal: String?

        public init(User: String? = nil, Env: [String]? = nil, Entrypoint: [String]? = nil, Cmd: [String]? = nil,
                    WorkingDir: String? = nil, Labels: [String: String]? = nil, StopSignal: String? = nil) {
            self.User = User
            self.Env = Env
            self.Entrypoint = Entrypoint
            self.Cmd = Cmd
            self.WorkingDir = WorkingDir
            self.Labels = Labels
            self.StopSignal = StopSignal
        }
    }

    /// The layers' uncompressed digests.
    public struct RootFS: Sendable, Hashable, Codable {
        public var type: String = "layers"
        public var diff_ids: [Digest]
        public init(diffIDs: [Digest]) { diff_ids = diffIDs }
    }

    /// One step of the image's history.
    public struct History: Sendable, Hashable, Codable {
        public var created: String?
        public var created_by: String?
        public var author: String?
        public var comment: String?
        public var empty_layer: Bool?
        public init(created: String? = nil, createdBy: String? = nil, comment: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created
            created_by = createdBy
            self.comment = comment
            empty_layer = emptyLayer
        }
    }

    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    public var config: Container?
    public var rootfs: RootFS
    public var history: [History]?

    public init(architecture: String, os: String = "linux", variant: String? = nil, created: String? = nil,
                config: Container? = nil, rootfs: RootFS, history: [History]? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.created = created
        self.config = config
        self.rootfs = rootfs
        self.history = history
    }

    /// The platform this configuration is for.
    public var platform: Platform { Platform(architecture: architecture, os: os, variant: variant) }
}

/// `{}`: the value type of `ExposedPorts` and `Volumes` maps.
public struct EmptyObject: Sendable, Hashable, Codable {
    public init() {}
}
