import Archive
import ArgumentParser
import Foundation
import VEX
import Vulnerability

extension VEXStatus: ExpressibleByArgument {}
extension VEXJustification: ExpressibleByArgument {}

struct VEXCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vex",
        abstract: "Write, merge and apply OpenVEX documents (statements of what is not exploitable).",
        discussion: """
        Products are images, named by purl as trivy and grype match them:
          pkg:oci/<name>@sha256:<hex>?repository_url=<registry>/<repository>
        Packages inside them are subcomponents:
          pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-12
        A subcomponent's qualifiers need only be a subset of the package's; a
        product without subcomponents covers every package. The latest
        applicable statement wins. See docs/vex.md.

        Examples:
          harden vex create --product pkg:oci/python@sha256:… \\
              --vulnerability CVE-2024-5535 --status not_affected \\
              --justification vulnerable_code_not_in_execute_path -o python.vex.json
          harden vex merge a.vex.json b.vex.json --output all.vex.json
          harden scan python:latest --format json -o report.json
          harden vex apply report.json all.vex.json
        """,
        subcommands: [VEXCreate.self, VEXMerge.self, VEXApply.self]
    )
}

/// Where a document goes: a file (written atomically) or standard output.
private func write(_ document: VEXDocument, to output: String?) throws {
    let text = try document.pretty() + "\n"
    if let output {
        try FileSystem.writeAtomically(output, bytes: Array(text.utf8))
        note("\(document.statements.count) statement\(document.statements.count == 1 ? "" : "s"), \(document.id) -> \(output)")
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

struct VEXCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Write a document with one statement.")

    @Option(help: "The product's purl (an image: pkg:oci/NAME@sha256:HEX?repository_url=REGISTRY/REPO).")
    var product: String

    @Option(help: "A package of the product the statement is about, by purl (repeatable; none: the whole product).")
    var subcomponent: [String] = []

    @Option(help: "The vulnerability (CVE-2024-5535).")
    var vulnerability: String

    @Option(help: "not_affected, affected, fixed or under_investigation.")
    var status: VEXStatus

    @Option(help: "Why it is not_affected: component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary or inline_mitigations_already_exist.")
    var justification: VEXJustification?

    @Option(help: "The explanation (for not_affected, instead of or besides a justification).")
    var impactStatement: String?

    @Option(help: "What users should do (required for affected).")
    var actionStatement: String?

    @Option(help: "Who makes the statement.")
    var author = "Harden"

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func run() async throws {
        let statement = VEXStatement(
            vulnerability: VEXVulnerability(name: vulnerability),
            products: [VEXProduct(purl: try PURL(product), subcomponents: try subcomponent.map { try PURL($0) })],
            status: status, justification: justification, impactStatement: impactStatement, actionStatement: actionStatement)
        try write(try VEXDocument.create(statements: [statement], author: author, timestamp: Date()), to: output)
    }
}

struct VEXMerge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Merge documents into one (every statement kept, with its time; duplicates dropped).")

    @Argument(help: "OpenVEX documents.")
    var documents: [String]

    @Option(help: "Who issues the merged document.")
    var author = "Harden"

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func run() async throws {
        guard !documents.isEmpty else { throw ValidationError("name at least one document") }
        let loaded = try documents.map { try VEXDocument.load(path: $0) }
        try write(try VEXDocument.merge(loaded, author: author, timestamp: Date()), to: output)
    }
}

struct VEXApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Apply documents to a saved scan report (harden scan --format json).")

    @Argument(help: "The report (JSON from harden scan).")
    var report: String

    @Argument(help: "OpenVEX documents.")
    var documents: [String]

    @Option(help: "table, json or sarif.")
    var format: Scan.Format = .table

    @Flag(help: "List the findings VEX suppressed, with their justifications.")
    var showSuppressed = false

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    func run() async throws {
        guard !documents.isEmpty else { throw ValidationError("name at least one VEX document") }
        let saved = try ScanReport(json: try FileSystem.read(report, limit: 256 << 20), file: report)
        let index = VEXIndex(documents: try documents.map { try VEXDocument.load(path: $0) })
        try emit(saved.applying(index), format: format, output: output, showSuppressed: showSuppressed)
    }
}
