import Archive
import Foundation
import OCI
import SBOM
import Vulnerability

/// How image B differs from image A, A being the reference (a conventional baseline, or the
/// previous release): packages added, removed and changed, and each axis of the attack surface
/// with the reduction in percent. This is how "N% smaller attack surface" is measured.
public struct ImageDiff: Sendable, Codable {
    /// One side of the comparison.
    public struct Side: Sendable, Codable {
        public var image: String
        public var digest: String
        public var figures: ImageFigures
    }

    /// A package only in A (`to` nil), only in B (`from` nil), or in both at other versions.
    public struct PackageChange: Sendable, Codable, Equatable {
        public var name: String
        public var architecture: String
        public var from: String?
        public var to: String?
    }

    public var from: Side
    public var to: Side
    public var added: [PackageChange]
    public var removed: [PackageChange]
    public var changed: [PackageChange]
    public var setIDAdded: [String]
    public var setIDRemoved: [String]
    /// CVE ids (with the package) found only in B, and only in A; nil unless both were scanned.
    public var cvesAdded: [String]?
    public var cvesFixed: [String]?
    /// Per axis (packages, files, executables, setuid, bytes, compressed, cves): how much smaller
    /// B is than A, in percent (negative when it grew); absent when A has none.
    public var reduction: [String: Double]

    /// The axes, in the order they are shown.
    public static let axes = ["packages", "files", "executables", "setuid", "bytes", "compressed", "cves"]

    /// Compares two audited images (their contents, and their scans when a database was given).
    public init(from a: (image: String, contents: ImageContents, scan: ScanReport?),
                to b: (image: String, contents: ImageContents, scan: ScanReport?)) {
        let figuresA = Auditor.figures(a.contents, vulnerabilities: a.scan?.findings)
        let figuresB = Auditor.figures(b.contents, vulnerabilities: b.scan?.findings)
        from = Side(image: a.image, digest: a.contents.manifest.digest.description, figures: figuresA)
        to = Side(image: b.image, digest: b.contents.manifest.digest.description, figures: figuresB)
        func key(_ package: InventoryPackage) -> String { package.name + ":" + package.architecture }
        let before = Dictionary((a.contents.inventory?.packages ?? []).map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary((b.contents.inventory?.packages ?? []).map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        added = after.keys.filter { before[$0] == nil }.sorted().compactMap { after[$0] }
            .map { PackageChange(name: $0.name, architecture: $0.architecture, from: nil, to: $0.version) }
        removed = before.keys.filter { after[$0] == nil }.sorted().compactMap { before[$0] }
            .map { PackageChange(name: $0.name, architecture: $0.architecture, from: $0.version, to: nil) }
        changed = before.keys.sorted().compactMap { name in
            guard let old = before[name], let new = after[name], old.version != new.version else { return nil }
            return PackageChange(name: old.name, architecture: old.architecture, from: old.version, to: new.version)
        }
        let setIDA = Set(a.contents.entries.filter(\.isSetID).map(\.path))
        let setIDB = Set(b.contents.entries.filter(\.isSetID).map(\.path))
        setIDAdded = setIDB.subtracting(setIDA).sorted()
        setIDRemoved = setIDA.subtracting(setIDB).sorted()
        if let scanA = a.scan, let scanB = b.scan {
            let cvesA = Set(scanA.findings.map { "\($0.cve) (\($0.package))" })
            let cvesB = Set(scanB.findings.map { "\($0.cve) (\($0.package))" })
            cvesAdded = cvesB.subtracting(cvesA).sorted()
            cvesFixed = cvesA.subtracting(cvesB).sorted()
        }
        reduction = Self.reductions(figuresA, figuresB)
    }

    static func reductions(_ a: ImageFigures, _ b: ImageFigures) -> [String: Double] {
        var result: [String: Double] = [:]
        let pairs: [(String, Int64?, Int64?)] = [
            ("packages", Int64(a.packages), Int64(b.packages)), ("files", Int64(a.files), Int64(b.files)),
            ("executables", Int64(a.executables), Int64(b.executables)), ("setuid", Int64(a.setIDFiles), Int64(b.setIDFiles)),
            ("bytes", a.bytes, b.bytes), ("compressed", a.compressedBytes, b.compressedBytes),
            ("cves", a.cves.map(Int64.init), b.cves.map(Int64.init)),
        ]
        for (axis, before, after) in pairs {
            guard let before, let after, before > 0 else { continue }
            result[axis] = (Double(before - after) / Double(before) * 1000).rounded() / 10
        }
        return result
    }

    /// The side-by-side table, then the package changes (at most `listed` of each kind).
    public func text(listed: Int = 20) -> String {
        func value(_ axis: String, _ figures: ImageFigures) -> String {
            switch axis {
            case "packages": "\(figures.packages)"
            case "files": "\(figures.files)"
            case "executables": "\(figures.executables)"
            case "setuid": "\(figures.setIDFiles)"
            case "bytes": formatBytes(figures.bytes)
            case "compressed": formatBytes(figures.compressedBytes)
            default: figures.cves.map(String.init) ?? "-"
            }
        }
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        var lines = ["A: \(from.image) \(from.digest.prefix(19))", "B: \(to.image) \(to.digest.prefix(19))", "",
                     pad("", 13) + pad("A", 12) + pad("B", 12) + "reduction"]
        for axis in Self.axes {
            let percent = reduction[axis].map { $0 >= 0 ? String(format: "%.1f%% fewer", $0) : String(format: "%.1f%% more", -$0) } ?? "-"
            lines.append(pad(axis, 13) + pad(value(axis, from.figures), 12) + pad(value(axis, to.figures), 12) + percent)
        }
        func section(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines.append("")
            lines.append("\(title) (\(items.count)):")
            lines += items.prefix(listed).map { "  " + $0 }
            if items.count > listed { lines.append("  ... and \(items.count - listed) more (--format json lists all)") }
        }
        section("packages only in B", added.map { "\($0.name) \($0.to ?? "") \($0.architecture)" })
        section("packages only in A", removed.map { "\($0.name) \($0.from ?? "") \($0.architecture)" })
        section("packages changed", changed.map { "\($0.name) \($0.from ?? "") -> \($0.to ?? "")" })
        section("setuid/setgid files only in B", setIDAdded)
        section("setuid/setgid files only in A", setIDRemoved)
        section("CVEs only in B", cvesAdded ?? [])
        section("CVEs only in A", cvesFixed ?? [])
        return lines.joined(separator: "\n") + "\n"
    }
}
