import Foundation
import Debian

/// dpkg's record of installed packages: `/var/lib/dpkg/status` with `info/<pkg>.list`, and the
/// distroless `status.d/<pkg>` with `status.d/<pkg>.md5sums`.
enum PackageDatabase {
    static func read(_ files: LayerFiles, warnings: inout [String]) -> [InventoryPackage] {
        var packages: [InventoryPackage] = []
        var seen: [String: Int] = [:]   // "name:arch" → index
        func add(_ package: InventoryPackage, from file: String) {
            let key = package.name + ":" + package.architecture
            if let existing = seen[key] {
                if packages[existing].version != package.version {
                    warnings.append("\(file): \(key) \(package.version) is also recorded as \(packages[existing].version): keeping the first")
                }
                return
            }
            seen[key] = packages.count
            packages.append(package)
        }

        let statusPath = "var/lib/dpkg/status"
        if let bytes = files.file(statusPath) {
            for (paragraph, line) in Deb822.numberedParagraphs(bytes, file: statusPath, warnings: &warnings) {
                let status = (paragraph["Status"] ?? "").split(separator: " ")
                guard status.last == "installed" else { continue }
                guard var package = package(paragraph, file: statusPath, line: line, warnings: &warnings) else { continue }
                let arch = package.architecture
                let list = files.file("var/lib/dpkg/info/\(package.name):\(arch).list")
                    ?? files.file("var/lib/dpkg/info/\(package.name).list")
                if let list {
                    package.files = lines(list).filter { $0 != "/." && $0.hasPrefix("/") }
                } else if let sums = files.file("var/lib/dpkg/info/\(package.name):\(arch).md5sums")
                            ?? files.file("var/lib/dpkg/info/\(package.name).md5sums") {
                    package.files = md5sumPaths(sums)
                }
                add(package, from: statusPath)
            }
        }

        let directory = "var/lib/dpkg/status.d"
        let entries = files.files(in: directory)
        let sums = Dictionary(entries.filter { $0.name.hasSuffix(".md5sums") }.map { (String($0.name.dropLast(".md5sums".count)), $0.bytes) },
                              uniquingKeysWith: { first, _ in first })
        for entry in entries where !entry.name.hasSuffix(".md5sums") {
            let file = "\(directory)/\(entry.name)"
            let paragraphs = Deb822.numberedParagraphs(entry.bytes, file: file, warnings: &warnings)
            if paragraphs.isEmpty && !warnings.contains(where: { $0.hasPrefix(file + ":") }) {
                warnings.append("\(file): no package paragraph: skipped")
            }
            for (paragraph, line) in paragraphs {
                guard var package = package(paragraph, file: file, line: line, warnings: &warnings) else { continue }
                if let bytes = sums[entry.name] ?? sums[package.name] ?? sums["\(package.name):\(package.architecture)"] {
                    package.files = md5sumPaths(bytes)
                }
                add(package, from: file)
            }
        }
        return packages
    }

    /// A package from its control paragraph, or nil (with a warning) when a required field is missing.
    static func package(_ paragraph: ControlParagraph, file: String, line: Int, warnings: inout [String]) -> InventoryPackage? {
        guard let name = paragraph["Package"], !name.isEmpty else {
            warnings.append("\(file): paragraph at line \(line) has no Package: skipped")
            return nil
        }
        guard let version = paragraph["Version"], !version.isEmpty else {
            warnings.append("\(file): paragraph at line \(line) has no Version: skipped package \(name)")
            return nil
        }
        guard let architecture = paragraph["Architecture"], !architecture.isEmpty else {
            warnings.append("\(file): paragraph at line \(line) has no Architecture: skipped package \(name) \(version)")
            return nil
        }
        if (try? DebianVersion(version)) == nil {
            warnings.append("\(file): paragraph at line \(line): package \(name) has an invalid version '\(version)' (kept as written)")
        }
        var sourceName = name
        var sourceVersion = version
        if let source = paragraph["Source"], !source.isEmpty {
            let parts = source.split(separator: " ", maxSplits: 1)
            sourceName = String(parts[0])
            if parts.count == 2 {
                let rest = parts[1].trimmingCharacters(in: .whitespaces)
                if rest.hasPrefix("(") && rest.hasSuffix(")") {
                    sourceVersion = String(rest.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                } else {
                    warnings.append("\(file): paragraph at line \(line): package \(name) has a malformed Source '\(source)'")
                }
            }
        }
        var installedSize: Int64?
        if let size = paragraph["Installed-Size"] {
            installedSize = Int64(size)
            if installedSize == nil {
                warnings.append("\(file): paragraph at line \(line): package \(name) has a non-numeric Installed-Size '\(size)'")
            }
        }
        var depends: Set<String> = []
        for field in ["Pre-Depends", "Depends"] {
            guard let value = paragraph[field] else { continue }
            depends.formUnion(firstAlternatives(value, field: field, context: "\(file): paragraph at line \(line)", warnings: &warnings))
        }
        var provides: Set<String> = []
        if let value = paragraph["Provides"] {
            provides.formUnion(firstAlternatives(value, field: "Provides", context: "\(file): paragraph at line \(line)", warnings: &warnings))
        }
        return InventoryPackage(
            name: name, version: version, architecture: architecture, sourceName: sourceName, sourceVersion: sourceVersion,
            maintainer: paragraph["Maintainer"], installedSize: installedSize,
            depends: depends.sorted(), provides: provides.sorted())
    }

    /// The name of the first alternative of each group of a relation field.
    static func firstAlternatives(_ value: String, field: String, context: String, warnings: inout [String]) -> [String] {
        if let groups = try? RelationParser.parse(value) {
            return groups.compactMap { $0.first?.name }
        }
        warnings.append("\(context): \(field) '\(value)' does not parse; names read leniently")
        return value.split(separator: ",").compactMap { group in
            let first = group.split(separator: "|").first ?? group
            let name = first.trimmingCharacters(in: .whitespacesAndNewlines).prefix { !" (:[<".contains($0) }
            return name.isEmpty ? nil : String(name)
        }
    }

    static func lines(_ bytes: [UInt8]) -> [String] {
        unsortedLines(bytes).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private static func unsortedLines(_ bytes: [UInt8]) -> [String] {
        bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            return trimmed.isEmpty ? nil : String(decoding: trimmed, as: UTF8.self)
        }
    }

    /// Paths of an md5sums file (`<md5>  <path>`), made absolute, in byte order.
    static func md5sumPaths(_ bytes: [UInt8]) -> [String] {
        var paths: [String] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            // Only the path is decoded: the sum and the separator are ASCII.
            guard let space = trimmed.firstIndex(of: UInt8(ascii: " ")) else { continue }
            let path = trimmed[space...].drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "*") }
            guard !path.isEmpty else { continue }
            let text = String(decoding: path, as: UTF8.self)
            paths.append(path.first == UInt8(ascii: "/") ? text : "/" + text)
        }
        return paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
