/// Software bills of materials for Debian-based images: the package inventory of an image
/// (`ImageInventory`) and deterministic SPDX 2.3 (`SPDXWriter`) and CycloneDX 1.6
/// (`CycloneDXWriter`) JSON documents.
public enum SBOM {}

/// Errors of the SBOM module, each naming what it concerns.
public enum SBOMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The image (named) has neither `/var/lib/dpkg/status` nor `/var/lib/dpkg/status.d/`.
    case noPackageDatabase(String)
    /// The image's manifest or config could not be read or is not an image.
    case invalidImage(String, reason: String)
    /// A layer (by digest) could not be read: bad compression, truncated or hostile tar.
    case unreadableLayer(String, reason: String)
    /// A document could not be encoded.
    case encoding(String)

    public var description: String {
        switch self {
        case .noPackageDatabase(let image):
            "image '\(image)' has no Debian package database (neither /var/lib/dpkg/status nor /var/lib/dpkg/status.d/)"
        case .invalidImage(let image, let reason):
            "image '\(image)' cannot be read: \(reason)"
        case .unreadableLayer(let digest, let reason):
            "layer \(digest) cannot be read: \(reason)"
        case .encoding(let reason):
            "cannot encode SBOM: \(reason)"
        }
    }
}
