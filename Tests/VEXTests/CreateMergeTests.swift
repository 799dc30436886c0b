import Foundation
import OCI
import Testing
@testable import VEX

@Suite struct CreateTests {
    @Test func createdDocumentsHaveAContentDerivedID() throws {
        let statements = [notAffected("CVE-2024-0001"), notAffected("CVE-2024-0002", [openssl])]
        let document = try VEXDocument.create(statements: statements, author: "Harden", timestamp: at().addingTimeInterval(0.5))
        #expect(document.version == 1)
        #expect(document.timestamp == at())
        #expect(document.statements == statements)
        #expect(document.id.hasPrefix("https://openvex.dev/docs/public/vex-"))
        let hex = document.id.dropFirst(VEXDocument.idPrefix.count)
        #expect(hex.count == 64 && hex.allSatisfy { "0123456789abcdef".contains($0) })
        // The same content gives the same id; other content (author, time, statements) another.
        #expect(try VEXDocument.create(statements: statements, author: "Harden", timestamp: at()).id == document.id)
        #expect(try VEXDocument.create(statements: statements, author: "Someone", timestamp: at()).id != document.id)
        #expect(try VEXDocument.create(statements: statements, author: "Harden", timestamp: at(1)).id != document.id)
        #expect(try VEXDocument.create(statements: Array(statements.prefix(1)), author: "Harden", timestamp: at()).id != document.id)
    }

    @Test func createdDocumentsValidateAgainstTheOfficialSchema() throws {
        let statements = [
            notAffected("CVE-2024-0001", [libc, openssl], timestamp: at(-60), aliases: ["DSA-5000-1"]),
            VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0002"), products: [VEXProduct(purl: imagePURL, subcomponents: [openssl])],
                         status: .affected, actionStatement: "Upgrade libssl3 to 3.0.16-1~deb12u1"),
            VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0003"), products: [VEXProduct(purl: imagePURL)], status: .fixed),
            VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0004"), products: [VEXProduct(purl: imagePURL)],
                         status: .underInvestigation, statusNotes: "looking"),
            VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0005"), products: [VEXProduct(purl: imagePURL, subcomponents: [libc])],
                         status: .notAffected, impactStatement: "the function is never called"),
        ]
        let document = try VEXDocument.create(statements: statements, author: "Harden <security@example.com>", timestamp: at(),
                                              role: "Document Creator", tooling: "harden")
        let check = try validateAgainstSchema(try document.encoded())
        #expect(check.status == 0, "\(check.output)")
        let pretty = try validateAgainstSchema(Array(try document.pretty().utf8))
        #expect(pretty.status == 0, "\(pretty.output)")
        // The validator rejects what the schema forbids, so the checks above mean something.
        var text = String(decoding: try document.encoded(), as: UTF8.self)
        text = text.replacingOccurrences(of: #""status":"fixed""#, with: #""status":"not-fixed""#)
        #expect(try validateAgainstSchema(Array(text.utf8)).status == 1)
    }

    @Test func createRemovesDuplicatesAndRefusesInvalidStatements() throws {
        let statement = notAffected("CVE-2024-0001")
        let document = try VEXDocument.create(statements: [statement, statement], author: "Harden", timestamp: at())
        #expect(document.statements == [statement])
        #expect(throws: VEXError.noStatements) { try VEXDocument.create(statements: [], author: "Harden", timestamp: at()) }
        let bad = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0002"), products: [VEXProduct(purl: imagePURL)], status: .notAffected)
        #expect(throws: VEXError.invalidDocument(file: nil, statement: 1, reason: "status not_affected needs a justification or an impact_statement")) {
            try VEXDocument.create(statements: [statement, bad], author: "Harden", timestamp: at())
        }
        let noProducts = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0002"), products: [], status: .fixed)
        #expect(throws: VEXError.invalidDocument(file: nil, statement: 0, reason: "no products")) {
            try VEXDocument.create(statements: [noProducts], author: "Harden", timestamp: at())
        }
        #expect(throws: VEXError.invalidDocument(file: nil, statement: nil, reason: "'author' is empty")) {
            try VEXDocument.create(statements: [statement], author: "", timestamp: at())
        }
    }
}

@Suite struct MergeTests {
    @Test func mergeKeepsEveryStatementOnceInOrder() throws {
        let first = try VEXDocument.create(statements: [
            notAffected("CVE-2024-0002"),
            VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"), products: [VEXProduct(purl: imagePURL, subcomponents: [libc])],
                         status: .underInvestigation),
        ], author: "Team A", timestamp: at(100))
        let second = try VEXDocument.create(statements: [
            notAffected("CVE-2024-0001", timestamp: at(200)),
            notAffected("CVE-2024-0002"),  // inherits at(300), so not a duplicate of the first document's
            notAffected("CVE-2024-0001", image: .oci(repository: "localhost:5000/harden/node", digest: otherDigest)),
        ], author: "Team B", timestamp: at(300))
        let merged = try VEXDocument.merge([first, second, first], author: "Harden", timestamp: at(400))
        #expect(merged.author == "Harden")
        #expect(merged.timestamp == at(400))
        #expect(merged.version == 1)
        #expect(merged.id.hasPrefix(VEXDocument.idPrefix))
        let summary = merged.statements.map { "\($0.vulnerability.name) \($0.products[0].purls[0].name) \($0.status.rawValue) \(Int($0.timestamp!.timeIntervalSince(at())))" }
        #expect(summary == [
            "CVE-2024-0001 node not_affected 300",
            "CVE-2024-0001 python under_investigation 100",
            "CVE-2024-0001 python not_affected 200",
            "CVE-2024-0002 python not_affected 100",
            "CVE-2024-0002 python not_affected 300",
        ])
        // Deterministic: the same inputs give the same bytes.
        #expect(try VEXDocument.merge([first, second], author: "Harden", timestamp: at(400)).encoded() == merged.encoded())
        let check = try validateAgainstSchema(try merged.encoded(), name: "merged.json")
        #expect(check.status == 0, "\(check.output)")
        #expect(throws: VEXError.noStatements) { try VEXDocument.merge([], author: "Harden", timestamp: at()) }
    }

    @Test func mergingKeepsWhatTheLatestStatementSays() throws {
        let early = try VEXDocument.create(statements: [
            VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"), products: [VEXProduct(purl: imagePURL, subcomponents: [libc])],
                         status: .underInvestigation),
        ], author: "A", timestamp: at(100))
        let late = try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "B", timestamp: at(200))
        for inputs in [[early, late], [late, early]] {
            let merged = try VEXDocument.merge(inputs, author: "Harden", timestamp: at(300))
            let statement = VEXIndex(documents: [merged]).statement(vulnerability: "CVE-2024-0001", product: [imagePURL], subcomponent: libc)
            #expect(statement?.status == .notAffected)
            #expect(statement?.timestamp == at(200))
        }
    }

    @Test func mergingKeepsWhichOfEqualTimeStatementsWins() throws {
        let fine = notAffected("CVE-2024-0001", timestamp: at(100))
        let affected = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"),
                                    products: [VEXProduct(purl: imagePURL, subcomponents: [libc])],
                                    status: .affected, actionStatement: "upgrade", timestamp: at(100))
        let a = try VEXDocument.create(statements: [fine, affected], author: "A", timestamp: at(100))
        let b = try VEXDocument.create(statements: [fine], author: "B", timestamp: at(100))
        for inputs in [[a, b], [b, a]] {
            let direct = VEXIndex(documents: inputs).statement(vulnerability: "CVE-2024-0001", product: [imagePURL], subcomponent: libc)
            let merged = try VEXDocument.merge(inputs, author: "Harden", timestamp: at(300))
            #expect(merged.statements.count == 2)
            let viaMerge = VEXIndex(documents: [merged]).statement(vulnerability: "CVE-2024-0001", product: [imagePURL], subcomponent: libc)
            #expect(direct != nil && viaMerge == direct)
        }
    }
}
