import Foundation
import OCI
import Policy

/// What a catalog build made, image by image: digests, sizes, packages, findings after VEX, the
/// evidence attached, audit grades and the reduction against each image's conventional baseline.
/// Written as JSON, Markdown and a static HTML page (`CatalogPage`).
public struct CatalogReport: Sendable, Codable {
    /// When the report was made (RFC 3339).
    public var generated: String
    public var builder: String
    /// The key the images were signed with (its id), when they were.
    public var signedBy: String?
    /// What the CVE figures come from, or why there are none.
    public var vulnerabilityData: String
    public var images: [Image]

    /// One spec of the catalog.
    public struct Image: Sendable, Codable {
        public var name: String
        public var description: String?
        /// built (first time), rebuilt (its lock changed), unchanged (reused by digest), failed.
        public var status: String
        public var lockDigest: String?
        public var variants: [Variant]
        public var baseline: Baseline?
        /// Minimal against its baseline, on `comparedArchitecture`: percent fewer per axis.
        public var reduction: [String: Double]?
        public var comparedArchitecture: String?
        /// What changed since the image the tag named before this build.
        public var previous: Release?
        /// What went wrong (a build, a baseline, an unreadable image), in words.
        public var problems: [String]

        /// The minimal image on the architecture compared with the baseline (the figures shown).
        public var comparedPlatform: Platform? {
            let minimal = variants.first { $0.variant == "minimal" }
            return minimal?.platforms.first { $0.architecture == comparedArchitecture } ?? minimal?.platforms.first
        }
    }

    /// One variant (minimal or dev) over all its platforms.
    public struct Variant: Sendable, Codable {
        public var variant: String
        public var tag: String
        public var digest: String
        public var platforms: [Platform]
    }

    public struct Platform: Sendable, Codable {
        public var architecture: String
        public var manifest: String
        public var grade: String
        public var hardened: Bool
        public var figures: ImageFigures
        /// Checks that did not pass: name → warn or fail, with the detail.
        public var findings: [String: String]
        /// signature, sbom, provenance → pass, warn or fail.
        public var evidence: [String: String]
        /// Documents written beside the report: kind (spdx, cyclonedx, provenance, vex) → relative path.
        public var documents: [String: String]
    }

    public struct Baseline: Sendable, Codable {
        public var tag: String
        public var digest: String
        public var architecture: String
        public var grade: String
        public var figures: ImageFigures
        /// Checks the baseline fails, by name.
        public var failed: [String]
    }

    /// The previous image under the same tag, and what this build changed against it.
    public struct Release: Sendable, Codable {
        public var digest: String
        public var packagesChanged: [ImageDiff.PackageChange]
        public var cvesFixed: [String]?
        public var cvesAdded: [String]?
    }

    public func json() throws -> [UInt8] { Array(try CanonicalJSON.pretty(self).utf8) + [0x0A] }

    /// The same facts as a Markdown document: one table row per image, then each image's changes.
    public func markdown() -> String {
        var lines = ["# Harden catalog", "", "Generated \(generated) by \(builder). \(signedBy.map { "Signed with key \($0.prefix(16))." } ?? "Not signed.") \(vulnerabilityData)", "",
                     "| image | status | digest | packages | size | CVEs | grade | baseline packages | fewer packages | fewer executables | fewer CVEs |",
                     "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
        for image in images {
            let minimal = image.variants.first { $0.variant == "minimal" }
            let platform = image.comparedPlatform
            func percent(_ axis: String) -> String { image.reduction?[axis].map { String(format: "%.1f%%", $0) } ?? "-" }
            lines.append("| \(image.name) | \(image.status) | `\(minimal.map { String($0.digest.prefix(19)) } ?? "-")` | \(platform.map { "\($0.figures.packages)" } ?? "-") | "
                         + "\(platform.map { formatBytes($0.figures.compressedBytes) } ?? "-") | \(platform?.figures.cves.map(String.init) ?? "-") | \(platform?.grade ?? "-") | "
                         + "\(image.baseline.map { "\($0.figures.packages)" } ?? "-") | \(percent("packages")) | \(percent("executables")) | \(percent("cves")) |")
        }
        for image in images {
            lines += ["", "## \(image.name)", ""]
            if let description = image.description { lines += [description, ""] }
            for variant in image.variants {
                lines.append("- `\(variant.tag)` \(variant.digest)")
                for platform in variant.platforms {
                    let evidence = platform.evidence.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    lines.append("  - \(platform.architecture): grade \(platform.grade), \(platform.figures.packages) packages, \(platform.figures.executables) executables, "
                                 + "\(formatBytes(platform.figures.compressedBytes)) compressed, CVEs \(platform.figures.cves.map(String.init) ?? "not scanned"); \(evidence)")
                    for (kind, path) in platform.documents.sorted(by: { $0.key < $1.key }) { lines.append("    - [\(kind)](\(path))") }
                }
            }
            if let baseline = image.baseline {
                lines.append("- baseline `\(baseline.tag)` (\(baseline.architecture)): \(baseline.figures.packages) packages, \(baseline.figures.executables) executables, "
                             + "\(baseline.figures.setIDFiles) setuid files, grade \(baseline.grade) (fails \(baseline.failed.joined(separator: ", ")))")
            }
            if let previous = image.previous {
                lines.append("- since \(previous.digest.prefix(19)): \(previous.packagesChanged.count) package(s) changed"
                             + (previous.cvesFixed.map { ", \($0.count) CVE(s) fixed" } ?? ""))
                for change in previous.packagesChanged { lines.append("  - \(change.name): \(change.from ?? "(new)") → \(change.to ?? "(removed)")") }
            }
            for problem in image.problems { lines.append("- problem: \(problem)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
