import Foundation
import OCI
import TestSupport
import Testing
@testable import VEX

/// The official OpenVEX v0.2.0 schema shipped beside the project.
let openVEXSchema: String = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir.deletingLastPathComponent().path + "/shared/reference/schemas/openvex/openvex_json_schema.json"
}()

let schemaValidator: String = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir.path + "/scripts/validate-json-schema.py"
}()

/// Runs scripts/validate-json-schema.py on `bytes` written as `name`; its exit status and output.
func validateAgainstSchema(_ bytes: [UInt8], name: String = "doc.json") throws -> (status: Int32, output: String) {
    let dir = try TemporaryDirectory()
    let file = try dir.write(name, bytes)
    let result = try run("python3", [schemaValidator, openVEXSchema, file])
    return (result.status, result.output + result.stderr)
}

let imageDigest = try! Digest("sha256:" + String(repeating: "ab", count: 32))
let otherDigest = try! Digest("sha256:" + String(repeating: "cd", count: 32))
/// `pkg:oci/python@sha256:abab…?repository_url=localhost:5000/harden/python`
let imagePURL = PURL.oci(repository: "localhost:5000/harden/python", digest: imageDigest)
let libc = PURL.deb(name: "libc6", version: "2.36-9+deb12u4", architecture: "amd64")
let openssl = PURL.deb(name: "libssl3", version: "3.0.15-1~deb12u1", architecture: "amd64")

/// 2024-05-01T12:00:00Z plus `seconds`.
func at(_ seconds: Int = 0) -> Date { Date(timeIntervalSince1970: 1_714_564_800 + TimeInterval(seconds)) }

/// A not_affected statement for `cve` in `packages` of the image.
func notAffected(_ cve: String, _ packages: [PURL] = [libc], image: PURL = imagePURL, timestamp: Date? = nil,
                 aliases: [String]? = nil) -> VEXStatement {
    VEXStatement(vulnerability: VEXVulnerability(name: cve, aliases: aliases),
                 products: [VEXProduct(purl: image, subcomponents: packages)], status: .notAffected,
                 justification: .vulnerableCodeNotInExecutePath, timestamp: timestamp)
}

/// The bytes of a JSON object.
func json(_ object: Any) throws -> [UInt8] {
    Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
}

/// A valid document as a JSON object, with `statements`.
func documentObject(_ statements: [[String: Any]]) -> [String: Any] {
    ["@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "Security Team",
     "timestamp": "2024-05-01T12:00:00Z", "version": 1, "statements": statements]
}

/// A valid statement as a JSON object, with `changes` applied (NSNull removes a key).
func statementObject(_ changes: [String: Any] = [:]) -> [String: Any] {
    var statement: [String: Any] = [
        "vulnerability": ["name": "CVE-2024-0001"],
        "products": [["@id": imagePURL.description, "subcomponents": [["@id": libc.description]]]],
        "status": "not_affected",
        "justification": "component_not_present",
    ]
    for (key, value) in changes {
        if value is NSNull { statement[key] = nil } else { statement[key] = value }
    }
    return statement
}
