import OCI

extension PURL {
    /// The purl of an image as trivy and grype identify it in VEX products:
    /// `pkg:oci/<name>@sha256:<hex>?repository_url=<registry>/<path>`. `name` is the last path
    /// segment of `repository` (`localhost:5000/harden/python` gives `python`), lower-cased;
    /// `repository_url` is the whole repository, when given.
    public static func oci(repository: String, digest: Digest, includeRepositoryURL: Bool = true) -> PURL {
        let name = repository.split(separator: "/").last.map(String.init) ?? repository
        var qualifiers: [String: String] = [:]
        if includeRepositoryURL, repository.contains("/") { qualifiers["repository_url"] = repository }
        return PURL(type: "oci", name: name.lowercased(), version: digest.description, qualifiers: qualifiers)
    }

    /// The purl of an installed Debian package as the SBOMs, trivy and grype write it:
    /// `pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-<release>`.
    public static func deb(name: String, version: String, architecture: String, distro: String = "debian-12",
                           vendor: String = "debian") -> PURL {
        PURL(type: "deb", namespace: vendor, name: name, version: version,
             qualifiers: ["arch": architecture, "distro": distro])
    }
}
