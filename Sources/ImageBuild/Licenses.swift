import SBOM

/// The image's `org.opencontainers.image.licenses`: the packages' licence expressions, read from
/// their copyright files by the SBOM module, combined with AND. Unknown licences are left out.
enum Licenses {
    static func derive(_ packages: [InstalledPackage], root: RootFS) -> [String] {
        var found: Set<String> = []
        for package in packages {
            let path = "usr/share/doc/\(package.name)/copyright"
            guard let resolved = root.resolve(path), let bytes = try? root.contents(of: resolved) else { continue }
            let expression = LicenseDetection.expression(ofCopyright: bytes, path: "/" + path)
            guard expression != "NOASSERTION" else { continue }
            found.insert(expression.contains(" ") && !expression.hasPrefix("(") ? "(\(expression))" : expression)
        }
        return found.sorted()
    }
}
