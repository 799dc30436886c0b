import Archive
import Foundation
import OCI

/// Writes an inventory as an SPDX 2.3 JSON document: a CONTAINER package for the image, an
/// OPERATING-SYSTEM package (`SPDXRef-OperatingSystem…`, which trivy needs to recognise the OS),
/// and one package per Debian package, with DESCRIBES, CONTAINS and DEPENDS_ON relationships.
public enum SPDXWriter {
    /// The document's bytes; identical for identical input. `sha256ByPackage` ("name:arch" or
    /// "name" → hex SHA-256 of the .deb) adds SHA256 checksums where known.
    public static func write(_ inventory: ImageInventory, sha256ByPackage: [String: String] = [:]) throws -> [UInt8] {
        try SBOMJSON.encode(document(inventory, sha256ByPackage: sha256ByPackage))
    }

    struct Document: Encodable {
        var spdxVersion = "SPDX-2.3"
        var dataLicense = "CC0-1.0"
        var SPDXID = "SPDXRef-DOCUMENT"
        var name: String
        var documentNamespace: String
        var creationInfo: CreationInfo
        var packages: [Package]
        var files: [File]?
        var relationships: [Relationship]
        var hasExtractedLicensingInfos: [ExtractedLicense]?
    }

    /// A file of the image (`--files`): SPDX requires its SHA-1, and gets its SHA-256 too.
    struct File: Encodable {
        var SPDXID: String
        var fileName: String
        var checksums: [Checksum]
        var licenseConcluded = "NOASSERTION"
        var copyrightText = "NOASSERTION"
    }

    struct CreationInfo: Encodable {
        var created: String
        var creators: [String]
    }

    struct Package: Encodable {
        var SPDXID: String
        var name: String
        var versionInfo: String?
        var supplier: String?
        var sourceInfo: String?
        var downloadLocation = "NOASSERTION"
        var filesAnalyzed = false
        var licenseConcluded = "NOASSERTION"
        var licenseDeclared = "NOASSERTION"
        var copyrightText = "NOASSERTION"
        var primaryPackagePurpose: String?
        var externalRefs: [ExternalRef]?
        var checksums: [Checksum]?
        var packageVerificationCode: VerificationCode?
    }

    /// SPDX 2.3 section 7.9: SHA-1 over the sorted SHA-1s of the package's files.
    struct VerificationCode: Encodable {
        var packageVerificationCodeValue: String

        init(fileSHA1s: [String]) {
            packageVerificationCodeValue = sha1Hex(Array(fileSHA1s.sorted().joined().utf8))
        }
    }

    struct ExternalRef: Encodable {
        var referenceCategory = "PACKAGE-MANAGER"
        var referenceType = "purl"
        var referenceLocator: String
    }

    struct Checksum: Encodable {
        var algorithm = "SHA256"
        var checksumValue: String
    }

    struct Relationship: Encodable {
        var spdxElementId: String
        var relationshipType: String
        var relatedSpdxElement: String
    }

    struct ExtractedLicense: Encodable {
        var licenseId: String
        var name: String
        var extractedText: String
    }

    static func document(_ inventory: ImageInventory, sha256ByPackage: [String: String]) -> Document {
        let containerID = "SPDXRef-Container-" + sanitize(inventory.imageName)
        let osID = "SPDXRef-OperatingSystem-" + sanitize(inventory.osName)
        var packages: [Package] = [
            Package(SPDXID: containerID, name: inventory.imageName, versionInfo: inventory.imageDigest.description,
                    primaryPackagePurpose: "CONTAINER",
                    externalRefs: [ExternalRef(referenceLocator: PackageURL.oci(imageName: inventory.imageName, digest: inventory.imageDigest, repositoryURL: inventory.repositoryURL))]),
            Package(SPDXID: osID, name: inventory.osName, versionInfo: inventory.osVersion, primaryPackagePurpose: "OPERATING-SYSTEM"),
        ]
        var relationships = [
            Relationship(spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: containerID),
            Relationship(spdxElementId: containerID, relationshipType: "CONTAINS", relatedSpdxElement: osID),
        ]
        var used: Set<String> = [containerID, osID, "SPDXRef-DOCUMENT"]
        var ids: [String] = []
        var extracted: [String: ExtractedLicense] = [:]
        for package in inventory.packages {
            var id = "SPDXRef-Package-deb-" + sanitize(package.name) + "-" + sanitize(package.architecture)
            if used.contains(id) {
                var counter = 2
                while used.contains("\(id)-\(counter)") { counter += 1 }
                id = "\(id)-\(counter)"
            }
            used.insert(id)
            ids.append(id)
            let checksum = sha256ByPackage[package.name + ":" + package.architecture] ?? sha256ByPackage[package.name]
            packages.append(Package(
                SPDXID: id, name: package.name, versionInfo: package.version,
                supplier: package.maintainer.map { "Organization: " + supplierName($0) } ?? "NOASSERTION",
                sourceInfo: "built package from: \(package.sourceName) \(package.sourceVersion)",
                licenseDeclared: package.license,
                externalRefs: [ExternalRef(referenceLocator: package.purl)],
                checksums: checksum.map { [Checksum(checksumValue: $0.lowercased())] }))
            relationships.append(Relationship(spdxElementId: containerID, relationshipType: "CONTAINS", relatedSpdxElement: id))
            for (licenseID, text) in package.licenseTexts.sorted(by: { $0.key < $1.key }) where extracted[licenseID] == nil {
                let name = String(licenseID.dropFirst("LicenseRef-".count))
                let body = text.isEmpty ? "License \(name) as named in \(package.copyrightFile ?? "the package's copyright file")." : text
                extracted[licenseID] = ExtractedLicense(licenseId: licenseID, name: name, extractedText: body)
            }
        }
        for (index, package) in inventory.packages.enumerated() {
            for dependency in DependencyGraph.resolve(package, in: inventory.packages) {
                relationships.append(Relationship(spdxElementId: ids[index], relationshipType: "DEPENDS_ON", relatedSpdxElement: ids[dependency]))
            }
        }
        // Files, when listed: each contained by the package that owns it, else by the image; a
        // package that contains files is "files analyzed", with its verification code.
        var files: [File]?
        if let listed = inventory.files {
            let packageIDs = Dictionary(zip(inventory.packages.map { "\($0.name):\($0.architecture)" }, ids), uniquingKeysWith: { first, _ in first })
            var sha1s: [String: [String]] = [:]
            files = listed.enumerated().map { index, file in
                let id = "SPDXRef-File-\(index + 1)-\(file.sha256.prefix(8))"
                let owner = file.package.flatMap { packageIDs["\($0):\(file.packageArchitecture ?? "")"] } ?? containerID
                relationships.append(Relationship(spdxElementId: owner, relationshipType: "CONTAINS", relatedSpdxElement: id))
                sha1s[owner, default: []].append(file.sha1)
                return File(SPDXID: id, fileName: "./" + file.path,
                            checksums: [Checksum(algorithm: "SHA1", checksumValue: file.sha1), Checksum(checksumValue: file.sha256)])
            }
            for index in packages.indices {
                guard let owned = sha1s[packages[index].SPDXID] else { continue }
                packages[index].filesAnalyzed = true
                packages[index].packageVerificationCode = VerificationCode(fileSHA1s: owned)
            }
        }
        let namespaceName = PackageURL.encode(inventory.imageName).replacingOccurrences(of: "%2F", with: "/")
        return Document(
            name: "\(inventory.imageName)@\(inventory.imageDigest)",
            documentNamespace: "https://harden.dev/spdx/\(namespaceName)/\(inventory.imageDigest.hex)",
            creationInfo: CreationInfo(created: SBOMJSON.timestamp(inventory), creators: ["Tool: harden"]),
            packages: packages,
            files: files,
            relationships: relationships,
            hasExtractedLicensingInfos: extracted.isEmpty ? nil : extracted.values.sorted { $0.licenseId < $1.licenseId })
    }

    /// An SPDX id part: letters, digits, `.` and `-`.
    static func sanitize(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let ok = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "-")
            out.unicodeScalars.append(ok ? scalar : "-")
        }
        return out.isEmpty ? "unnamed" : out
    }

    /// `Name <mail>` → `Name (mail)`, the SPDX supplier form.
    static func supplierName(_ maintainer: String) -> String {
        let parts = SBOMJSON.maintainer(maintainer)
        return parts.email.map { "\(parts.name) (\($0))" } ?? parts.name
    }
}

/// Which packages of an inventory satisfy a package's dependencies (by name, then by Provides;
/// the same architecture preferred, `all` packages match any).
enum DependencyGraph {
    static func resolve(_ package: InventoryPackage, in packages: [InventoryPackage]) -> [Int] {
        var result: Set<Int> = []
        for name in package.depends {
            var candidates = packages.indices.filter { packages[$0].name == name }
            if candidates.isEmpty { candidates = packages.indices.filter { packages[$0].provides.contains(name) } }
            let sameArch = candidates.filter {
                packages[$0].architecture == package.architecture || packages[$0].architecture == "all" || package.architecture == "all"
            }
            for index in (sameArch.isEmpty ? candidates : sameArch) where packages[index] != package {
                result.insert(index)
            }
        }
        return result.sorted()
    }
}
