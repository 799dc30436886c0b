import Archive
import OCI

/// Writes an inventory as a CycloneDX 1.6 JSON BOM: the image as `metadata.component` (type
/// `container`), an `operating-system` component, a `library` component per package (bom-ref =
/// purl) and the dependency graph.
public enum CycloneDXWriter {
    /// The BOM's bytes; identical for identical input (the serial number derives from the image digest).
    public static func write(_ inventory: ImageInventory) throws -> [UInt8] {
        try SBOMJSON.encode(bom(inventory))
    }

    struct BOM: Encodable {
        var schema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
        var bomFormat = "CycloneDX"
        var specVersion = "1.6"
        var serialNumber: String
        var version = 1
        var metadata: Metadata
        var components: [Component]
        var dependencies: [Dependency]

        enum CodingKeys: String, CodingKey {
            case schema = "$schema", bomFormat, specVersion, serialNumber, version, metadata, components, dependencies
        }
    }

    struct Metadata: Encodable {
        var timestamp: String
        var tools: Tools
        var component: Component
    }

    struct Tools: Encodable {
        var components: [Component]
    }

    struct Component: Encodable {
        var type: String
        var bomRef: String?
        var name: String
        var version: String?
        var supplier: Supplier?
        var purl: String?
        var licenses: [LicenseChoice]?
        var properties: [Property]?

        enum CodingKeys: String, CodingKey {
            case type, bomRef = "bom-ref", supplier, name, version, purl, licenses, properties
        }
    }

    /// The package's maintainer (CycloneDX organizationalEntity).
    struct Supplier: Encodable {
        struct Contact: Encodable {
            var name: String
            var email: String
        }
        var name: String
        var contact: [Contact]?

        init(maintainer: String) {
            let parts = SBOMJSON.maintainer(maintainer)
            name = parts.name
            contact = parts.email.map { [Contact(name: parts.name, email: $0)] }
        }
    }

    struct LicenseChoice: Encodable {
        var expression: String
    }

    struct Property: Encodable {
        var name: String
        var value: String
    }

    struct Dependency: Encodable {
        var ref: String
        var dependsOn: [String]
    }

    static func bom(_ inventory: ImageInventory) -> BOM {
        let imagePurl = PackageURL.oci(imageName: inventory.imageName, digest: inventory.imageDigest, repositoryURL: inventory.repositoryURL)
        let osRef = "os:\(inventory.osName)@\(inventory.osVersion)"
        var components = [Component(type: "operating-system", bomRef: osRef, name: inventory.osName, version: inventory.osVersion)]
        var refs: [String] = []
        var used: Set<String> = [imagePurl, osRef]
        for package in inventory.packages {
            var ref = package.purl
            if used.contains(ref) {
                var counter = 2
                while used.contains("\(ref)#\(counter)") { counter += 1 }
                ref = "\(ref)#\(counter)"
            }
            used.insert(ref)
            refs.append(ref)
            var properties = [
                Property(name: "harden:package:architecture", value: package.architecture),
                Property(name: "harden:package:sourceName", value: package.sourceName),
                Property(name: "harden:package:sourceVersion", value: package.sourceVersion),
            ]
            if let size = package.installedSize { properties.append(Property(name: "harden:package:installedSizeKiB", value: String(size))) }
            if let file = package.copyrightFile { properties.append(Property(name: "harden:package:copyrightFile", value: file)) }
            components.append(Component(
                type: "library", bomRef: ref, name: package.name, version: package.version,
                supplier: package.maintainer.map(Supplier.init(maintainer:)), purl: package.purl,
                licenses: package.license == "NOASSERTION" ? nil : [LicenseChoice(expression: package.license)],
                properties: properties.sorted { ($0.name, $0.value) < ($1.name, $1.value) }))
        }
        var dependencies = [Dependency(ref: imagePurl, dependsOn: ([osRef] + refs).sorted())]
        dependencies.append(Dependency(ref: osRef, dependsOn: []))
        for (index, package) in inventory.packages.enumerated() {
            dependencies.append(Dependency(ref: refs[index], dependsOn: DependencyGraph.resolve(package, in: inventory.packages).map { refs[$0] }.sorted()))
        }
        dependencies.sort { $0.ref.utf8.lexicographicallyPrecedes($1.ref.utf8) }
        return BOM(
            serialNumber: "urn:uuid:" + uuid(from: inventory.imageDigest),
            metadata: Metadata(
                timestamp: SBOMJSON.timestamp(inventory),
                tools: Tools(components: [Component(type: "application", name: "harden")]),
                component: Component(type: "container", bomRef: imagePurl, name: inventory.imageName,
                                     version: inventory.imageDigest.description, purl: imagePurl)),
            components: components,
            dependencies: dependencies)
    }

    /// An RFC 4122 UUID (version 4 layout: version and variant bits set) whose other bits are the
    /// first bits of SHA-256("harden-cyclonedx:" + digest): the same image always gets the same serial.
    static func uuid(from digest: Digest) -> String {
        let hex = Array(sha256Hex(Array("harden-cyclonedx:\(digest)".utf8)).prefix(32))
        var nibbles = hex.map { String($0) }
        nibbles[12] = "4"
        let variant = Int(nibbles[16], radix: 16).map { ($0 & 0x3) | 0x8 } ?? 8
        nibbles[16] = String(variant, radix: 16)
        let text = nibbles.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(text[text.index(text.startIndex, offsetBy: range.lowerBound)..<text.index(text.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }
}
