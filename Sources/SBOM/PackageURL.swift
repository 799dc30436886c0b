import OCI

/// Package URLs (purl spec) for Debian packages and OCI images.
public enum PackageURL {
    /// `pkg:deb/<distro>/NAME@VERSION?arch=ARCH&distro=<distro>-<version>[&upstream=SRC]`, as syft and
    /// trivy write them (the epoch's `:` encoded as `%3A`). `upstream` is added when the source name differs.
    public static func deb(_ package: InventoryPackage, distro: String, distroVersion: String) -> String {
        var qualifiers = ["arch=" + encode(package.architecture)]
        if !distroVersion.isEmpty { qualifiers.append("distro=" + encode(distro + "-" + distroVersion)) }
        if package.sourceName != package.name { qualifiers.append("upstream=" + encode(package.sourceName)) }
        return "pkg:deb/\(encode(distro.lowercased()))/\(encode(package.name))@\(encode(package.version))?" + qualifiers.joined(separator: "&")
    }

    /// `pkg:oci/NAME@sha256%3AHEX` for an image; `NAME` is the last path segment of `imageName`, lower-cased.
    /// With `repositoryURL` (`registry.example:5000/team/app`), the `repository_url` qualifier, its `/`
    /// and `:` kept as the purl spec's own examples write them.
    public static func oci(imageName: String, digest: Digest, repositoryURL: String? = nil) -> String {
        let name = imageName.split(separator: "/").last.map(String.init) ?? imageName
        let base = "pkg:oci/\(encode(name.lowercased()))@\(encode(digest.description))"
        guard let repositoryURL else { return base }
        let kept = repositoryURL.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.split(separator: ":", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: ":")
        }
        return base + "?repository_url=" + kept.joined(separator: "/")
    }

    /// Percent-encodes everything but the purl spec's unreserved characters.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}
