import Archive
import Debian
import OCI

/// One installed Debian package as an image records it.
public struct InventoryPackage: Sendable, Equatable {
    /// The binary package name (`Package:`).
    public var name: String
    /// The installed version, epoch included (`1:1.2.13.dfsg-1`).
    public var version: String
    /// The Debian architecture (`amd64`, `all`, …).
    public var architecture: String
    /// The source package: `Source: name (version)`, or the package itself.
    public var sourceName: String
    /// The source version: from `Source:` when given there, else the package version.
    public var sourceVersion: String
    /// `Maintainer:` as written.
    public var maintainer: String?
    /// `Installed-Size:` in KiB, as dpkg records it.
    public var installedSize: Int64?
    /// Names from `Depends` and `Pre-Depends` (the first alternative of each group), sorted.
    public var depends: [String]
    /// Virtual package names from `Provides`, sorted.
    public var provides: [String]
    /// Absolute paths the package installed (from `status.d/<pkg>.md5sums` or `info/<pkg>.list`), sorted.
    public var files: [String]
    /// An SPDX licence expression from the copyright file, or `NOASSERTION`.
    public var license: String
    /// Texts of the `LicenseRef-` identifiers in `license`, by identifier.
    public var licenseTexts: [String: String]
    /// The copyright file the licence came from (absolute path, symlinks followed).
    public var copyrightFile: String?
    /// `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12[&upstream=SRC]`.
    public var purl: String

    /// Creates a package record; `purl` is computed by `ImageInventory` when empty.
    public init(name: String, version: String, architecture: String, sourceName: String? = nil, sourceVersion: String? = nil,
                maintainer: String? = nil, installedSize: Int64? = nil, depends: [String] = [], provides: [String] = [],
                files: [String] = [], license: String = "NOASSERTION", licenseTexts: [String: String] = [:],
                copyrightFile: String? = nil, purl: String = "") {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.sourceName = sourceName ?? name
        self.sourceVersion = sourceVersion ?? version
        self.maintainer = maintainer
        self.installedSize = installedSize
        self.depends = depends
        self.provides = provides
        self.files = files
        self.license = license
        self.licenseTexts = licenseTexts
        self.copyrightFile = copyrightFile
        self.purl = purl
    }
}

/// A regular file of an image, for SBOMs that list files (`harden sbom --files`).
public struct InventoryFile: Sendable, Equatable {
    /// Relative to the image root, no leading `/` (`usr/bin/python3.11`).
    public var path: String
    public var size: Int64
    public var sha1: String
    public var sha256: String
    /// The package whose file list names it (through symlinks such as `/bin` -> `usr/bin`), if any.
    public var package: String?
    /// That package's architecture.
    public var packageArchitecture: String?
}

/// The package inventory of one Debian-based image: what its dpkg database says is installed,
/// with licences from the packages' copyright files.
public struct ImageInventory: Sendable {
    /// The image's name, e.g. `python` (used in document names and the `pkg:oci` purl).
    public var imageName: String
    /// The manifest (or index) digest the SBOM describes.
    public var imageDigest: Digest
    /// The image's architecture (from its config).
    public var architecture: String
    /// The config's `created` time (RFC 3339), if any.
    public var created: String?
    /// The operating system's `ID` from os-release (`debian`).
    public var osName: String
    /// `/etc/debian_version` (e.g. `12.15`) when it refines os-release's `VERSION_ID` (`12`), else `VERSION_ID`.
    public var osVersion: String
    /// os-release `VERSION_ID` (e.g. `12`), used in purls' `distro` qualifier.
    public var osVersionID: String
    /// Installed packages, sorted by name, then architecture.
    public var packages: [InventoryPackage]
    /// What was wrong but not fatal, each naming the file (and line) concerned.
    public var warnings: [String]
    /// Every regular file with its digests, sorted by path (only when asked for: nil otherwise).
    public var files: [InventoryFile]?
    /// Where the image lives (`registry.example/team/app`) when it was read from a registry: the
    /// `repository_url` of its `pkg:oci` purl.
    public var repositoryURL: String?

    /// Creates an inventory from its parts (packages are sorted and given purls if they lack one).
    public init(imageName: String, imageDigest: Digest, architecture: String, created: String? = nil,
                osName: String = "debian", osVersion: String, osVersionID: String? = nil,
                packages: [InventoryPackage], warnings: [String] = []) {
        self.imageName = imageName
        self.imageDigest = imageDigest
        self.architecture = architecture
        self.created = created
        self.osName = osName
        self.osVersion = osVersion
        let versionID = osVersionID ?? osVersion.split(separator: ".").first.map(String.init) ?? osVersion
        self.osVersionID = versionID
        self.warnings = warnings
        self.packages = packages.map { package in
            var package = package
            if package.purl.isEmpty {
                package.purl = PackageURL.deb(package, distro: osName, distroVersion: versionID)
            }
            return package
        }.sorted(by: ImageInventory.order)
    }

    static func order(_ a: InventoryPackage, _ b: InventoryPackage) -> Bool {
        if a.name != b.name { return a.name.utf8.lexicographicallyPrecedes(b.name.utf8) }
        if a.architecture != b.architecture { return a.architecture.utf8.lexicographicallyPrecedes(b.architecture.utf8) }
        return a.version.utf8.lexicographicallyPrecedes(b.version.utf8)
    }

    /// Reads one platform manifest's layers in order (whiteouts `.wh.x` and opaque dirs `.wh..wh..opq` honoured), keeping only
    /// what an inventory needs: /etc/os-release, /etc/debian_version, /usr/lib/os-release, /var/lib/dpkg/status, status.d/*,
    /// info/*.list, info/*.md5sums, /usr/share/doc/*/copyright (follow /usr/share/doc/<pkg> symlinks to a sibling's doc dir).
    ///
    /// An index with a single image manifest is accepted too (its digest is the one described).
    /// Throws `SBOMError.noPackageDatabase` when the image has no dpkg database.
    /// With `includingFiles`, every regular file is hashed (SHA-1 and SHA-256, streaming) and listed
    /// in `files` with the package that owns it.
    public static func read(manifest: Descriptor, from reader: BlobReader, imageName: String, includingFiles: Bool = false) throws -> ImageInventory {
        let imageManifest: ImageManifest
        let config: ImageConfiguration
        do {
            let platformManifest = try ImageGraph.manifest(for: nil, under: manifest, in: reader)
            imageManifest = try reader.readDocument(ImageManifest.self, platformManifest, kind: "image manifest")
            config = try reader.readDocument(ImageConfiguration.self, imageManifest.config, kind: "image config")
        } catch {
            throw SBOMError.invalidImage(imageName, reason: "\(error)")
        }
        var files = LayerFiles()
        if includingFiles {
            files.wanted = { path, kind in LayerFiles.isWanted(path, kind: kind) || kind == .regular || kind == .symlink || kind == .hardlink }
            files.keepsContents = { LayerFiles.isWanted($0, kind: .regular) }
            files.hashesContents = true
        }
        for layer in imageManifest.layers {
            try files.apply(layer: layer, from: reader)
        }
        var inventory = try inventory(of: files, imageName: imageName, digest: manifest.digest, architecture: config.architecture)
        inventory.created = config.created
        if includingFiles { inventory.files = fileList(files, packages: inventory.packages) }
        return inventory
    }

    /// The inventory of a root filesystem directory (an unpacked image, a chroot). It has no
    /// image digest, so `imageDigest` is the SHA-256 of the package database files read, in path
    /// order: the same packages give the same digest. The architecture is the packages' own.
    public static func read(rootDirectory: String, imageName: String) throws -> ImageInventory {
        guard FileSystem.isDirectory(rootDirectory) else { throw SBOMError.invalidImage(rootDirectory, reason: "not a directory") }
        var files = LayerFiles()
        try files.add(directory: rootDirectory)
        let hasher = HashingSink()
        for (path, node) in files.nodes.sorted(by: { $0.key < $1.key }) {
            try hasher.write(Array(path.utf8) + [0])
            if case .file(let bytes) = node { try hasher.write(bytes) }
        }
        try hasher.finish()
        let digest = try Digest(hex: hasher.hexDigest ?? "")
        var inventory = try inventory(of: files, imageName: imageName, digest: digest, architecture: "")
        inventory.architecture = inventory.packages.map(\.architecture).first { $0 != "all" } ?? "all"
        return inventory
    }

    /// Every regular file with its owner: a package owns what its file list names, the
    /// directories on the way resolved through the image's symlinks (dpkg lists `/bin/sh` where
    /// merged-/usr keeps `usr/bin/sh`). A listed symlink owns nothing (its target has its own package).
    static func fileList(_ files: LayerFiles, packages: [InventoryPackage]) -> [InventoryFile] {
        var owner: [String: InventoryPackage] = [:]
        for package in packages {
            for listed in package.files {
                if let real = files.location(listed.hasPrefix("/") ? String(listed.dropFirst()) : listed), owner[real] == nil {
                    owner[real] = package
                }
            }
        }
        return files.regularFiles().map { file in
            InventoryFile(path: file.path, size: file.digest.size, sha1: file.digest.sha1, sha256: file.digest.sha256,
                          package: owner[file.path]?.name, packageArchitecture: owner[file.path]?.architecture)
        }
    }

    /// The inventory of the kept files of an image's merged layers.
    static func inventory(of files: LayerFiles, imageName: String, digest: Digest, architecture: String) throws -> ImageInventory {
        var warnings: [String] = []
        let hasStatus = files.file("var/lib/dpkg/status") != nil
        let statusD = files.files(in: "var/lib/dpkg/status.d")
        guard hasStatus || !statusD.isEmpty || files.hasAnything(under: "var/lib/dpkg/status.d") else {
            throw SBOMError.noPackageDatabase(imageName)
        }
        let os = OSRelease.read(files, warnings: &warnings)
        var packages = PackageDatabase.read(files, warnings: &warnings)
        // Copyright files are parsed on every core; warnings keep the packages' order.
        let licenses = concurrentMap(packages.count) { index -> (real: String, license: CopyrightLicense, warnings: [String])? in
            guard let real = files.resolve("usr/share/doc/\(packages[index].name)/copyright"), let bytes = files.file(real) else { return nil }
            var found: [String] = []
            let license = CopyrightParser.parse(bytes, path: real, warnings: &found)
            return (real, license, found)
        }
        for (index, parsed) in licenses.enumerated() {
            guard let parsed else { continue }
            packages[index].license = parsed.license.expression
            packages[index].licenseTexts = parsed.license.extractedTexts
            packages[index].copyrightFile = "/" + parsed.real
            warnings += parsed.warnings
        }
        return ImageInventory(imageName: imageName, imageDigest: digest, architecture: architecture,
                              osName: os.id, osVersion: os.version, osVersionID: os.versionID,
                              packages: packages, warnings: warnings)
    }
}

/// `/etc/os-release` (or `/usr/lib/os-release`) and `/etc/debian_version`.
enum OSRelease {
    static func read(_ files: LayerFiles, warnings: inout [String]) -> (id: String, versionID: String, version: String) {
        var fields: [String: String] = [:]
        if let bytes = files.file("etc/os-release") ?? files.file("usr/lib/os-release") {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
                var value = trimmed[trimmed.index(after: equals)...]
                while value.hasSuffix(" ") || value.hasSuffix("\r") { value = value.dropLast() }
                if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                    value = value.dropFirst().dropLast()
                }
                fields[String(trimmed[..<equals])] = String(value)
            }
        } else {
            warnings.append("etc/os-release: missing (also usr/lib/os-release): scanners will not recognise the OS")
        }
        let id = fields["ID"].flatMap { $0.isEmpty ? nil : $0 } ?? "debian"
        var versionID = fields["VERSION_ID"] ?? ""
        var version = versionID
        if let bytes = files.file("etc/debian_version") {
            let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            let isNumeric = !text.isEmpty && text.allSatisfy { $0.isNumber || $0 == "." }
            if isNumeric && (versionID.isEmpty || text == versionID || text.hasPrefix(versionID + ".")) {
                version = text
                if versionID.isEmpty { versionID = text.split(separator: ".").first.map(String.init) ?? text }
            }
        }
        if versionID.isEmpty {
            warnings.append("etc/os-release: no VERSION_ID (and no numeric etc/debian_version): the OS version is unknown")
        }
        return (id, versionID, version)
    }
}
