import Archive

/// Media types of OCI and Docker image documents and layers.
public enum MediaType {
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    public static let imageConfig = "application/vnd.oci.image.config.v1+json"
    public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let empty = "application/vnd.oci.empty.v1+json"
    public static let spdxJSON = "application/spdx+json"
    public static let cycloneDXJSON = "application/vnd.cyclonedx+json"

    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"

    /// Whether `type` is an image manifest (OCI or Docker v2).
    public static func isManifest(_ type: String?) -> Bool { type == imageManifest || type == dockerManifest }
    /// Whether `type` is an index (OCI or Docker manifest list).
    public static func isIndex(_ type: String?) -> Bool { type == imageIndex || type == dockerManifestList }

    /// The OCI layer media type for a compression (xz layers are not part of the OCI spec).
    public static func layer(compression: Compression) throws -> String {
        switch compression {
        case .none: layerTar
        case .gzip: layerGzip
        case .zstd: layerZstd
        case .xz: throw OCIError.unsupportedMediaType("xz-compressed layers (use gzip, zstd or none)")
        }
    }

    /// The compression a layer media type implies, or nil when it is not a layer type Harden knows.
    public static func layerCompression(_ type: String) -> String? {
        switch type {
        case layerTar, dockerLayer, "application/vnd.oci.image.layer.nondistributable.v1.tar": "none"
        case layerGzip, dockerLayerGzip, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip"
        case layerZstd, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd"
        default: nil
        }
    }
}
