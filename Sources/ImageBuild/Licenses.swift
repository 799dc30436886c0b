import Debian

/// SPDX licence identifiers derived from machine-readable (DEP-5) copyright files.
enum Licenses {
    /// Debian short names that map one-to-one to SPDX identifiers.
    static let spdx: [String: String] = [
        "GPL-1": "GPL-1.0-only", "GPL-1+": "GPL-1.0-or-later", "GPL-2": "GPL-2.0-only", "GPL-2+": "GPL-2.0-or-later",
        "GPL-3": "GPL-3.0-only", "GPL-3+": "GPL-3.0-or-later", "LGPL-2": "LGPL-2.0-only", "LGPL-2+": "LGPL-2.0-or-later",
        "LGPL-2.1": "LGPL-2.1-only", "LGPL-2.1+": "LGPL-2.1-or-later", "LGPL-3": "LGPL-3.0-only", "LGPL-3+": "LGPL-3.0-or-later",
        "Apache-2.0": "Apache-2.0", "Apache-2": "Apache-2.0", "MIT": "MIT", "Expat": "MIT", "BSD-2-clause": "BSD-2-Clause",
        "BSD-3-clause": "BSD-3-Clause", "BSD-4-clause": "BSD-4-Clause", "ISC": "ISC", "Zlib": "Zlib", "zlib": "Zlib",
        "MPL-2.0": "MPL-2.0", "PSF-2": "PSF-2.0", "public-domain": "LicenseRef-public-domain", "OpenSSL": "OpenSSL",
        "Artistic": "Artistic-1.0-Perl", "curl": "curl", "X11": "X11", "GFDL-1.3+": "GFDL-1.3-or-later",
    ]

    /// The distinct SPDX identifiers named by the `License:` fields of the installed packages'
    /// machine-readable copyright files (others are skipped: nothing is guessed).
    static func derive(_ packages: [InstalledPackage], root: RootFS) -> [String] {
        var found: Set<String> = []
        for package in packages {
            guard let bytes = try? root.contents(of: "usr/share/doc/\(package.name)/copyright") else { continue }
            guard let paragraphs = try? ControlFile.parse(bytes),
                  paragraphs.first?["Format"]?.contains("copyright-format/1.0") == true else { continue }
            for paragraph in paragraphs.dropFirst() {
                guard let license = paragraph["License"]?.split(separator: "\n").first else { continue }
                for name in license.split(whereSeparator: { $0 == " " || $0 == "," }) where name != "or" && name != "and" {
                    if let id = spdx[String(name)] { found.insert(id) }
                }
            }
        }
        return found.sorted()
    }
}
