import Archive
import Foundation
import OCI

/// Reads SPDX 2.x JSON and CycloneDX 1.x JSON documents written by other tools (syft, trivy) or
/// by Harden back into an inventory, for the scanner. Debian packages are recognized by their
/// `pkg:deb/` purl; everything else is counted in `warnings`, never silently dropped.
public enum SBOMReader {
    /// An SPDX supplier (`Organization: Name (mail)`, `Person: …`, NOASSERTION) as a Debian
    /// maintainer (`Name <mail>`); nil when it names nobody.
    static func maintainer(fromSupplier supplier: String) -> String? {
        var text = supplier.trimmingCharacters(in: .whitespaces)
        for prefix in ["Organization:", "Person:", "Tool:"] where text.hasPrefix(prefix) {
            text = text.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
        }
        if text.isEmpty || text == "NOASSERTION" { return nil }
        if let open = text.lastIndex(of: "("), text.hasSuffix(")") {
            let name = text[..<open].trimmingCharacters(in: .whitespaces)
            let mail = text[text.index(after: open)..<text.index(before: text.endIndex)]
            if mail.contains("@") { return "\(name) <\(mail)>" }
        }
        return text
    }

    /// Parses `bytes` (from `path`, named in errors and warnings).
    public static func read(_ bytes: [UInt8], path: String) throws -> ImageInventory {
        guard let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw SBOMError.invalidImage(path, reason: "not a JSON object")
        }
        if document["spdxVersion"] != nil { return try readSPDX(document, bytes: bytes, path: path) }
        if (document["bomFormat"] as? String) == "CycloneDX" { return try readCycloneDX(document, bytes: bytes, path: path) }
        throw SBOMError.invalidImage(path, reason: "neither SPDX (spdxVersion) nor CycloneDX (bomFormat) JSON")
    }

    private static func readSPDX(_ document: [String: Any], bytes: [UInt8], path: String) throws -> ImageInventory {
        let packages = document["packages"] as? [[String: Any]] ?? []
        var inventory: [InventoryPackage] = []
        var warnings: [String] = []
        var os: (name: String, version: String)?
        var image: (name: String, digest: Digest?)?
        for package in packages {
            let id = package["SPDXID"] as? String ?? ""
            let name = package["name"] as? String ?? ""
            let version = package["versionInfo"] as? String ?? ""
            let purpose = package["primaryPackagePurpose"] as? String
            let purl = (package["externalRefs"] as? [[String: Any]] ?? [])
                .first { ($0["referenceType"] as? String) == "purl" }?["referenceLocator"] as? String
            if purpose == "OPERATING-SYSTEM" || id.hasPrefix("SPDXRef-OperatingSystem") {
                os = (name, version)
            } else if purpose == "CONTAINER" {
                image = (name, purl.flatMap(ociDigest) ?? (try? Digest(version)))
            } else if let purl, purl.hasPrefix("pkg:deb/") {
                let license = (package["licenseDeclared"] as? String).flatMap { $0 == "NONE" ? nil : $0 } ?? "NOASSERTION"
                let maintainer = (package["supplier"] as? String).flatMap(maintainer(fromSupplier:))
                if var parsed = debPackage(purl: purl, license: license, maintainer: maintainer) {
                    // "built package from: SRC VERSION" (Harden, syft, trivy) when the purl has no upstream.
                    if let info = package["sourceInfo"] as? String, info.hasPrefix("built package from: ") {
                        let words = info.dropFirst("built package from: ".count).split(separator: " ").map(String.init)
                        if let source = words.first { parsed.sourceName = source }
                        if words.count > 1 { parsed.sourceVersion = words[1] }
                    }
                    inventory.append(parsed)
                } else {
                    warnings.append("\(path): package \(name) has an unreadable purl '\(purl)': skipped")
                }
            } else if !name.isEmpty {
                warnings.append("\(path): \(name) \(version) is not a Debian package (\(purl ?? "no purl")): not in the inventory")
            }
        }
        let created = (document["creationInfo"] as? [String: Any])?["created"] as? String
        return try finish(inventory, os: os, image: image, created: created, bytes: bytes, path: path, warnings: warnings)
    }

    private static func readCycloneDX(_ document: [String: Any], bytes: [UInt8], path: String) throws -> ImageInventory {
        var inventory: [InventoryPackage] = []
        var warnings: [String] = []
        var os: (name: String, version: String)?
        let metadata = document["metadata"] as? [String: Any]
        let top = metadata?["component"] as? [String: Any]
        let image = top.map { (name: $0["name"] as? String ?? "image", digest: ($0["purl"] as? String).flatMap(ociDigest)) }
        for component in document["components"] as? [[String: Any]] ?? [] {
            let type = component["type"] as? String ?? ""
            let name = component["name"] as? String ?? ""
            let version = component["version"] as? String ?? ""
            let purl = component["purl"] as? String
            if type == "operating-system" {
                os = (name, version)
            } else if let purl, purl.hasPrefix("pkg:deb/") {
                let licenses = (component["licenses"] as? [[String: Any]] ?? []).compactMap { entry -> String? in
                    if let expression = entry["expression"] as? String { return expression }
                    let license = entry["license"] as? [String: Any]
                    return license?["id"] as? String ?? (license?["name"] as? String).map { "LicenseRef-" + $0.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." } }
                }
                let license = licenses.isEmpty ? "NOASSERTION" : licenses.count == 1 ? licenses[0] : licenses.map { "(\($0))" }.joined(separator: " AND ")
                let supplierEntity = component["supplier"] as? [String: Any]
                let email = (supplierEntity?["contact"] as? [[String: Any]])?.first?["email"] as? String
                let supplier = (supplierEntity?["name"] as? String).map { name in email.map { "\(name) <\($0)>" } ?? name }
                if var parsed = debPackage(purl: purl, license: license, maintainer: supplier) {
                    // Source name and version as Harden (harden:package:sourceName, sourceVersion: the whole
                    // version) and trivy (aquasecurity:trivy:SrcName; SrcEpoch, SrcVersion and SrcRelease apart) record them.
                    var properties: [String: String] = [:]
                    for property in component["properties"] as? [[String: Any]] ?? [] {
                        guard let key = property["name"] as? String, let value = property["value"] as? String else { continue }
                        properties[String(key.split(separator: ":").last ?? Substring(key))] = value
                    }
                    if let source = properties["sourceName"] ?? properties["SrcName"] { parsed.sourceName = source }
                    if let version = properties["sourceVersion"] {
                        parsed.sourceVersion = version
                    } else if let upstream = properties["SrcVersion"] {
                        let epoch = properties["SrcEpoch"].flatMap(Int.init).map { $0 > 0 ? "\($0):" : "" } ?? ""
                        let release = properties["SrcRelease"].map { $0.isEmpty ? "" : "-" + $0 } ?? ""
                        parsed.sourceVersion = epoch + upstream + release
                    }
                    inventory.append(parsed)
                } else {
                    warnings.append("\(path): component \(name) has an unreadable purl '\(purl)': skipped")
                }
            } else if !name.isEmpty {
                warnings.append("\(path): \(name) \(version) is not a Debian package (\(purl ?? "no purl")): not in the inventory")
            }
        }
        return try finish(inventory, os: os, image: image, created: metadata?["timestamp"] as? String, bytes: bytes, path: path, warnings: warnings)
    }

    private static func finish(_ packages: [InventoryPackage], os: (name: String, version: String)?, image: (name: String, digest: Digest?)?,
                               created: String?, bytes: [UInt8], path: String, warnings: [String]) throws -> ImageInventory {
        guard let os else { throw SBOMError.invalidImage(path, reason: "the SBOM names no operating system: scanners cannot match Debian advisories") }
        var counts: [String: Int] = [:]
        for package in packages where package.architecture != "all" { counts[package.architecture, default: 0] += 1 }
        let architecture: String = counts.max { $0.value < $1.value }?.key ?? "all"
        // Without an image digest the document's own hash identifies what was read.
        let sorted = packages.sorted { $0.name != $1.name ? $0.name < $1.name : $0.architecture < $1.architecture }
        let digest: Digest = image?.digest ?? Digest.of(bytes)
        return ImageInventory(imageName: image?.name ?? "sbom", imageDigest: digest, architecture: architecture,
                              created: created, osName: os.name.lowercased(), osVersion: os.version,
                              packages: sorted, warnings: warnings)
    }

    /// `pkg:deb/debian/NAME@VERSION?arch=A&upstream=SRC[@SRCVERSION]` → a package.
    static func debPackage(purl: String, license: String, maintainer: String?) -> InventoryPackage? {
        let body = purl.dropFirst("pkg:deb/".count)
        let parts = body.split(separator: "?", maxSplits: 1)
        guard let path = parts.first, let at = path.lastIndex(of: "@") else { return nil }
        guard let name = path[..<at].split(separator: "/").last.map({ decode(String($0)) }), !name.isEmpty else { return nil }
        var version = decode(String(path[path.index(after: at)...]))
        var qualifiers: [String: String] = [:]
        for pair in parts.count > 1 ? parts[1].split(separator: "&") : [] {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { qualifiers[kv[0]] = decode(kv[1]) }
        }
        var sourceName: String?
        var sourceVersion: String?
        if let upstream = qualifiers["upstream"] {
            // syft writes upstream=SRC, trivy may write upstream=SRC@VERSION.
            let split = upstream.split(separator: "@", maxSplits: 1).map(String.init)
            sourceName = split.first
            sourceVersion = split.count > 1 ? split[1] : nil
        }
        guard !version.isEmpty else { return nil }
        // trivy keeps the epoch in a qualifier: pkg:deb/debian/zlib1g@1.2.13.dfsg-1?epoch=1.
        if let epoch = qualifiers["epoch"], let value = Int(epoch), value > 0, !version.contains(":") { version = "\(value):\(version)" }
        return InventoryPackage(name: name, version: version, architecture: qualifiers["arch"] ?? "all", sourceName: sourceName,
                                sourceVersion: sourceVersion, maintainer: maintainer, license: license, purl: purl)
    }

    private static func ociDigest(_ purl: String) -> Digest? {
        guard purl.hasPrefix("pkg:oci/"), let at = purl.firstIndex(of: "@") else { return nil }
        let version = decode(String(purl[purl.index(after: at)...].prefix { $0 != "?" }))
        return try? Digest(version)
    }

    private static func decode(_ text: String) -> String { text.removingPercentEncoding ?? text }
}
