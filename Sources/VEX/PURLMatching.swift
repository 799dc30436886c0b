extension PURL {
    /// Whether this purl, taken as the VEX side (the more general one), covers `other`, the
    /// package or image of a finding. The rule is the one trivy and grype apply through go-vex:
    ///
    /// - type, namespace and name are equal;
    /// - if this purl has a version, `other` has the same one (compared decoded, so `%2B` and `+`
    ///   are the same; for `oci` the digest is compared ignoring case); without a version it
    ///   covers every version;
    /// - every qualifier this purl carries is present in `other` with the same value; `other`
    ///   may carry more (so `…?arch=amd64` covers `…?arch=amd64&distro=debian-12`);
    /// - if this purl has a subpath, `other` has the same one.
    ///
    /// One exception: an `oci` purl with a digest names the image by its content, so the name is
    /// not compared (a statement about `pkg:oci/base@sha256:…` covers that image copied into a
    /// layout or another registry under any name); its qualifiers, `repository_url` among them,
    /// still have to match.
    public func matches(_ other: PURL) -> Bool {
        let byDigest = type == "oci" && version?.lowercased().hasPrefix("sha256:") == true
        guard type == other.type, namespace == other.namespace, byDigest || name == other.name else { return false }
        if let version {
            guard let theirs = other.version else { return false }
            if type == "oci" {
                guard version.lowercased() == theirs.lowercased() else { return false }
            } else if version != theirs {
                return false
            }
        }
        for (key, value) in qualifiers where other.qualifiers[key] != value { return false }
        if let subpath, subpath != other.subpath { return false }
        return true
    }
}
