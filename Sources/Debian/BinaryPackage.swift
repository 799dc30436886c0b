import Foundation

/// A binary package as a `Packages` index describes it.
///
/// Relation fields are kept as text and parsed when the resolver needs them: an index holds
/// tens of thousands of packages and a closure touches a few hundred.
public struct BinaryPackage: Sendable, Hashable {
    public var name: String
    public var version: DebianVersion
    public var architecture: String
    /// `same`, `foreign`, `allowed`, or nil for `no`.
    public var multiArch: String?
    public var essential: Bool
    public var priority: String?
    public var source: String
    public var sourceVersion: DebianVersion
    public var dependsText: String?
    public var preDependsText: String?
    public var conflictsText: String?
    public var breaksText: String?
    public var provides: [Relation]
    /// Path below the repository URI, e.g. `pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb`.
    public var filename: String
    public var size: Int64
    public var sha256: String
    public var installedSize: Int64?
    /// Base URI of the repository that lists it and the suite it was found in.
    public var repositoryURI: String
    public var suite: String

    /// The download URL.
    public var url: String { repositoryURI + "/" + filename }

    /// `name=version` for messages.
    public var nameAndVersion: String { "\(name)=\(version)" }

    /// Reads the fields a resolver and a lock need from a `Packages` paragraph.
    public init(paragraph: ControlParagraph, repositoryURI: String, suite: String) throws {
        func require(_ field: String) throws -> String {
            guard let value = paragraph[field], !value.isEmpty else {
                throw DebianError.malformedControl(line: paragraph.lineNumber, reason: "package paragraph has no \(field)")
            }
            return value
        }
        name = try require("Package")
        version = try DebianVersion(try require("Version"))
        architecture = try require("Architecture")
        multiArch = paragraph["Multi-Arch"].flatMap { $0 == "no" ? nil : $0 }
        essential = paragraph["Essential"] == "yes"
        priority = paragraph["Priority"]
        if let sourceField = paragraph["Source"] {
            // "glibc" or "glibc (2.36-9)" when the binary version differs from the source's.
            if let open = sourceField.firstIndex(of: "("), let close = sourceField.lastIndex(of: ")"), open < close {
                source = sourceField[..<open].trimmingCharacters(in: .whitespaces)
                sourceVersion = try DebianVersion(String(sourceField[sourceField.index(after: open)..<close]).trimmingCharacters(in: .whitespaces))
            } else {
                source = sourceField.trimmingCharacters(in: .whitespaces)
                sourceVersion = version
            }
        } else {
            source = name
            sourceVersion = version
        }
        dependsText = paragraph["Depends"]
        preDependsText = paragraph["Pre-Depends"]
        conflictsText = paragraph["Conflicts"]
        breaksText = paragraph["Breaks"]
        provides = try paragraph["Provides"].map { try RelationParser.parse($0).flatMap { $0 } } ?? []
        filename = try require("Filename")
        guard let size = Int64(try require("Size")), size >= 0 else {
            throw DebianError.malformedControl(line: paragraph.lineNumber, reason: "package \(name) has an invalid Size")
        }
        self.size = size
        sha256 = try require("SHA256")
        guard isSHA256Hex(sha256) else {
            throw DebianError.malformedControl(line: paragraph.lineNumber, reason: "package \(name) has an invalid SHA256")
        }
        installedSize = paragraph["Installed-Size"].flatMap { Int64($0) }
        self.repositoryURI = repositoryURI
        self.suite = suite
    }

    /// Pre-Depends then Depends, parsed.
    public func dependencies() throws -> [[Relation]] {
        try (preDependsText.map(RelationParser.parse) ?? []) + (dependsText.map(RelationParser.parse) ?? [])
    }

    /// Conflicts and Breaks, parsed.
    public func conflicts() throws -> [[Relation]] {
        try (conflictsText.map(RelationParser.parse) ?? []) + (breaksText.map(RelationParser.parse) ?? [])
    }
}

/// All packages available for one architecture, indexed for resolution.
public struct PackageUniverse: Sendable {
    /// Candidates by name, highest version first.
    public private(set) var byName: [String: [BinaryPackage]] = [:]
    /// Packages that provide a virtual name, with the Provides relation (which may carry a version).
    public private(set) var providers: [String: [(package: BinaryPackage, provided: Relation)]] = [:]

    public init(packages: [BinaryPackage]) {
        for package in packages {
            byName[package.name, default: []].append(package)
            for provided in package.provides { providers[provided.name, default: []].append((package, provided)) }
        }
        for (name, list) in byName {
            // Highest version first; equal versions keep the first repository listed (apt's order).
            byName[name] = list.enumerated().sorted { a, b in
                let order = DebianVersion.compare(a.element.version, b.element.version)
                return order != 0 ? order > 0 : a.offset < b.offset
            }.map(\.element)
        }
    }

    /// Number of distinct package names.
    public var count: Int { byName.count }
}
