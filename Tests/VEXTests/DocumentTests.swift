import Foundation
import OCI
import Testing
@testable import VEX

@Suite struct DocumentReadingTests {
    @Test func aValidDocumentDecodes() throws {
        let object = documentObject([
            statementObject(["timestamp": "2024-05-02T07:30:00.123-05:00", "status_notes": "checked by hand"]),
            statementObject(["vulnerability": ["name": "CVE-2024-0002", "aliases": ["GHSA-xxxx-yyyy-zzzz"]],
                             "status": "affected", "justification": NSNull(), "action_statement": "upgrade libc6"]),
            statementObject(["vulnerability": ["name": "CVE-2024-0003", "@id": "https://nvd.nist.gov/vuln/detail/CVE-2024-0003"],
                             "status": "fixed", "justification": NSNull(),
                             "products": [["identifiers": ["purl": imagePURL.description], "hashes": ["sha-256": imageDigest.hex]]]]),
            statementObject(["vulnerability": ["name": "CVE-2024-0004"], "status": "under_investigation", "justification": NSNull()]),
            statementObject(["vulnerability": ["name": "CVE-2024-0005"], "justification": NSNull(), "impact_statement": "never called"]),
        ])
        let document = try VEXDocument.decode(try json(object), file: "good.json")
        #expect(document.id == "https://example.com/vex/1")
        #expect(document.author == "Security Team")
        #expect(document.timestamp == at())
        #expect(document.version == 1)
        #expect(document.statements.map(\.status) == [.notAffected, .affected, .fixed, .underInvestigation, .notAffected])
        let first = document.statements[0]
        #expect(first.justification == .componentNotPresent)
        #expect(first.timestamp == at(86_400 + 1_800))  // 07:30 at -05:00 is 12:30Z the next day
        #expect(first.statusNotes == "checked by hand")
        #expect(first.products[0].purls == [imagePURL])
        #expect(first.products[0].subcomponents?[0].purls == [libc])
        #expect(document.statements[1].vulnerability.aliases == ["GHSA-xxxx-yyyy-zzzz"])
        #expect(document.statements[2].products[0].hashes == ["sha-256": imageDigest.hex])
        #expect(document.statements[4].impactStatement == "never called")
    }

    @Test func aDocumentAsVexctlWritesItDecodes() throws {
        let text = """
        {
          "@context": "https://openvex.dev/ns/v0.2.0",
          "@id": "https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f",
          "author": "Example Builds <builds@example.com>",
          "role": "Project Release Bot",
          "timestamp": "2023-01-16T19:07:16.853479631-06:00",
          "version": 1,
          "statements": [
            {
              "vulnerability": {
                "@id": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
                "name": "CVE-2021-44228",
                "description": "Remote code injection in Log4j",
                "aliases": ["GHSA-jfh8-c2jp-5v3q"]
              },
              "products": [
                {
                  "@id": "pkg:maven/org.example/app@2.6.0-M3",
                  "hashes": { "sha-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" }
                }
              ],
              "status": "not_affected",
              "justification": "vulnerable_code_not_in_execute_path",
              "impact_statement": "Only applications using log4j-core are vulnerable."
            }
          ]
        }
        """
        let document = try VEXDocument.decode(Array(text.utf8), file: "vexctl.json")
        #expect(VEXTimestamp.format(document.timestamp) == "2023-01-17T01:07:16Z")
        #expect(document.statements[0].timestamp == nil)
        let statement = VEXIndex(documents: [document]).statement(
            vulnerability: "GHSA-jfh8-c2jp-5v3q", product: [try PURL("pkg:maven/org.example/app@2.6.0-M3?type=jar")], subcomponent: nil)
        #expect(statement?.timestamp == document.timestamp)
        let check = try validateAgainstSchema(try document.encoded())
        #expect(check.status == 0, "\(check.output)")
    }

    /// Each broken document and the error that names the file and the statement.
    @Test(arguments: [BadDocument]([
        BadDocument([statementObject(), statementObject(["vulnerability": ["name": "B"]]), statementObject(["status": "not-affected"])],
         2, "status 'not-affected' is not one of not_affected, affected, fixed, under_investigation"),
        BadDocument([statementObject(["justification": "it is fine"])],
         0, "justification 'it is fine' is not one of component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist"),
        BadDocument([statementObject(), statementObject(["vulnerability": ["name": "B"], "justification": NSNull()])],
         1, "status not_affected needs a justification or an impact_statement"),
        BadDocument([statementObject(["status": "affected", "justification": NSNull()])], 0, "status affected needs an action_statement"),
        BadDocument([statementObject(["products": NSNull()])], 0, "no products"),
        BadDocument([statementObject(["products": []])], 0, "no products"),
        BadDocument([statementObject(["status": NSNull()])], 0, "missing 'status'"),
        BadDocument([statementObject(["vulnerability": NSNull()])], 0, "missing 'vulnerability'"),
        BadDocument([statementObject(["vulnerability": ["id": "x"]])], 0, "vulnerability: unknown field 'id' in the vulnerability"),
        BadDocument([statementObject(["vulnerability": ["name": ""]])], 0, "vulnerability: the vulnerability has an empty name"),
        BadDocument([statementObject(["vulnerability": ["name": "A", "aliases": ["B", "B"]]])], 0, "vulnerability: alias 'B' is listed twice"),
        BadDocument([statementObject(["timestamp": "yesterday"])], 0, "timestamp 'yesterday' is not an RFC 3339 date-time (like 2024-05-01T12:00:00Z)"),
        BadDocument([statementObject(["timestamp": "2024-02-30T00:00:00Z"])], 0, "timestamp '2024-02-30T00:00:00Z' is not an RFC 3339 date-time (like 2024-05-01T12:00:00Z)"),
        BadDocument([statementObject(["justifcation": "component_not_present"])], 0, "unknown field 'justifcation' in the statement"),
        BadDocument([statementObject(["products": [["subcomponents": [["@id": "x"]]]]])], 0, "product 0: neither '@id' nor 'identifiers'"),
        BadDocument([statementObject(["products": [["@id": "a"], ["@id": "b", "subcomponents": [["identifiers": [:]]]]]])],
         0, "product 1: subcomponent 0: identifiers has none of purl, cpe22, cpe23"),
        BadDocument([statementObject(["products": [["@id": "a", "hashes": ["sha256": "00"]]]])],
         0, "product 0: hash algorithm 'sha256' is not one of blake2b-256, blake2b-512, blake2s-256, md5, sha-256, sha-384, sha-512, sha1, sha3-224, sha3-256, sha3-384, sha3-512"),
        BadDocument([statementObject(["products": [["@id": "a"], ["@id": "a"]]])], 0, "product 1 is the same as product 0"),
        BadDocument([statementObject(["status": 3])], 0, "'status' is not a string"),
        BadDocument([statementObject(["version": 0])], 0, "version 0 is less than 1"),
        BadDocument([statementObject(), statementObject()], 1, "the same as statement 0"),
        BadDocument(["not an object"], 0, "the statement is not a JSON object"),
    ]))
    func invalidStatementsAreNamed(bad: BadDocument) throws {
        #expect(throws: VEXError.invalidDocument(file: "x.json", statement: bad.statement, reason: bad.reason)) {
            try VEXDocument.decode(bad.bytes, file: "x.json")
        }
    }

    @Test func theMessageNamesFileAndStatement() throws {
        let bytes = try json(documentObject([statementObject(), statementObject(), statementObject(["status": "not-affected"])]))
        do {
            _ = try VEXDocument.decode(bytes, file: "x.json")
            Issue.record("decoded an invalid status")
        } catch {
            #expect("\(error)" == "x.json: statement 2: status 'not-affected' is not one of not_affected, affected, fixed, under_investigation")
        }
    }

    @Test(arguments: [BadDocument]([
        BadDocument(changes: ["@context": "https://openvex.dev/ns/v0.0.1"], "@context 'https://openvex.dev/ns/v0.0.1' is not https://openvex.dev/ns/v0.2.0 (only OpenVEX v0.2.0 is read)"),
        BadDocument(changes: ["@context": NSNull()], "missing '@context' (https://openvex.dev/ns/v0.2.0)"),
        BadDocument(changes: ["@id": NSNull()], "missing '@id'"),
        BadDocument(changes: ["author": NSNull()], "missing 'author'"),
        BadDocument(changes: ["author": ""], "'author' is empty"),
        BadDocument(changes: ["timestamp": "2024-05-01 12:00"], "timestamp '2024-05-01 12:00' is not an RFC 3339 date-time (like 2024-05-01T12:00:00Z)"),
        BadDocument(changes: ["timestamp": NSNull()], "missing 'timestamp'"),
        BadDocument(changes: ["last_updated": "2024-05-01T12:00:00"], "last_updated '2024-05-01T12:00:00' is not an RFC 3339 date-time (like 2024-05-01T12:00:00Z)"),
        BadDocument(changes: ["version": "1"], "'version' is not an integer"),
        BadDocument(changes: ["version": 0], "version 0 is less than 1"),
        BadDocument(changes: ["statements": []], "no statements"),
        BadDocument(changes: ["statements": NSNull()], "missing 'statements'"),
        BadDocument(changes: ["statements": "none"], "'statements' is not an array"),
        BadDocument(changes: ["extra": true], "unknown field 'extra' in the document"),
    ]))
    func invalidDocumentsAreNamed(bad: BadDocument) throws {
        #expect(throws: VEXError.invalidDocument(file: "x.json", statement: nil, reason: bad.reason)) {
            try VEXDocument.decode(bad.bytes, file: "x.json")
        }
    }

    @Test func notJSONAndMissingFiles() throws {
        #expect(throws: VEXError.invalidDocument(file: "x.json", statement: nil, reason: "not valid JSON")) {
            try VEXDocument.decode(Array("{".utf8), file: "x.json")
        }
        #expect(throws: VEXError.invalidDocument(file: "x.json", statement: nil, reason: "the document is not a JSON object")) {
            try VEXDocument.decode(Array("[1]".utf8), file: "x.json")
        }
        let error = #expect(throws: VEXError.self) { try VEXDocument.load(path: "/nonexistent/vex.json") }
        guard case .unreadable(let file, _)? = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
        #expect(file == "/nonexistent/vex.json")
    }

    @Test func timestampsAreRFC3339() {
        #expect(VEXTimestamp.parse("2024-05-01T12:00:00Z") == at())
        #expect(VEXTimestamp.parse("2024-05-01t12:00:00.999z") == at())
        #expect(VEXTimestamp.parse("2024-05-01T14:30:00+02:30") == at())
        #expect(VEXTimestamp.parse("2024-02-29T00:00:00Z") != nil)
        for bad in ["2023-02-29T00:00:00Z", "2024-05-01T12:00:00", "2024-05-01T24:00:00Z", "2024-05-01T12:00:00.Z",
                    "2024-05-01T12:00:00+0200", "2024-5-01T12:00:00Z", "2024-05-01T12:00:00Z "] {
            #expect(VEXTimestamp.parse(bad) == nil, "\(bad)")
        }
        #expect(VEXTimestamp.format(at().addingTimeInterval(0.75)) == "2024-05-01T12:00:00Z")
        #expect(VEXTimestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }
}

@Suite struct DocumentWritingTests {
    @Test func encodingLeavesOutAbsentFieldsAndRoundTrips() throws {
        let document = try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "Harden", timestamp: at())
        let text = String(decoding: try document.encoded(), as: UTF8.self)
        #expect(!text.contains("null"))
        #expect(!text.contains("role"))
        #expect(!text.contains("\\/"))
        #expect(text.hasPrefix(#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://openvex.dev/docs/public/vex-"#))
        #expect(text.contains(#""timestamp":"2024-05-01T12:00:00Z""#))
        #expect(text.contains(#""justification":"vulnerable_code_not_in_execute_path""#))
        let decoded = try VEXDocument.decode(try document.encoded(), file: "mine.json")
        #expect(decoded == document)
        #expect(try decoded.encoded() == document.encoded())
        let pretty = try document.pretty()
        #expect(try VEXDocument.decode(Array(pretty.utf8), file: "pretty.json") == document)
        #expect(pretty.contains("\n  \"author\" : \"Harden\""))
    }

    @Test func encodingRefusesInvalidDocuments() throws {
        var document = try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "Harden", timestamp: at())
        document.statements.append(VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0002"),
                                                products: [VEXProduct(purl: imagePURL)], status: .affected))
        #expect(throws: VEXError.invalidDocument(file: nil, statement: 1, reason: "status affected needs an action_statement")) {
            try document.encoded()
        }
        #expect("\(VEXError.invalidDocument(file: nil, statement: 1, reason: "r"))" == "statement 1: r")
        #expect("\(VEXError.invalidDocument(file: nil, statement: nil, reason: "r"))" == "invalid OpenVEX document: r")
    }

    @Test func everyFieldSurvivesARoundTrip() throws {
        let statement = VEXStatement(
            vulnerability: VEXVulnerability(name: "CVE-2024-0009", id: "https://nvd.nist.gov/vuln/detail/CVE-2024-0009",
                                            description: "overflow", aliases: ["GHSA-aaaa-bbbb-cccc"]),
            products: [VEXProduct(id: "https://example.com/product", identifiers: VEXIdentifiers(purl: imagePURL.description, cpe23: "cpe:2.3:a:x:y:1:*:*:*:*:*:*:*"),
                                  hashes: ["sha-256": imageDigest.hex],
                                  subcomponents: [VEXSubcomponent(identifiers: VEXIdentifiers(cpe22: "cpe:/a:x:y:1"), hashes: ["md5": "00"])])],
            status: .affected, actionStatement: "upgrade", statusNotes: "notes", timestamp: at(60),
            id: "https://example.com/statement/1", version: 2, lastUpdated: at(120), supplier: "Example",
            actionStatementTimestamp: at(180))
        let document = try VEXDocument.create(statements: [statement], author: "Harden", timestamp: at(), role: "Document Creator", tooling: "harden vex")
        let decoded = try VEXDocument.decode(try document.encoded(), file: "all.json")
        #expect(decoded == document)
        #expect(decoded.statements[0] == statement)
        let check = try validateAgainstSchema(try document.encoded())
        #expect(check.status == 0, "\(check.output)")
    }
}

/// A broken document (as JSON bytes) and the error reading it must give.
struct BadDocument: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let statement: Int?
    let reason: String

    /// A valid document whose statements are `statements`; the error names statement `index`.
    init(_ statements: [Any], _ index: Int, _ reason: String) {
        var object = documentObject([])
        object["statements"] = statements
        bytes = try! json(object)
        statement = index
        self.reason = reason
    }

    /// A valid document of one statement with `changes` at the top (NSNull removes a key).
    init(changes: [String: Any], _ reason: String) {
        var object = documentObject([statementObject()])
        for (key, value) in changes { object[key] = value is NSNull ? nil : value }
        bytes = try! json(object)
        statement = nil
        self.reason = reason
    }

    var testDescription: String { reason }
}
