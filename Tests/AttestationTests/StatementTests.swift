import Attestation
import Foundation
import OCI
import Testing

@Suite struct StatementTests {
    let digest = try! Digest("sha256:" + String(repeating: "ab", count: 32))

    @Test func statementEmbedsThePredicateBytesAndRoundTrips() throws {
        let predicate = Array(#"{"spdxVersion": "SPDX-2.3", "name": "a/b"}"#.utf8)
        let statement = Statement(subjects: [.init(name: "base", digest: digest)], predicateType: PredicateType.spdx, predicate: predicate)
        let bytes = try statement.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == #"{"_type":"https://in-toto.io/Statement/v1","predicate":{"spdxVersion": "SPDX-2.3", "name": "a/b"},"predicateType":"https://spdx.dev/Document","subject":[{"digest":{"sha256":"\#(digest.hex)"},"name":"base"}]}"#)
        let parsed = try Statement.decode(bytes)
        #expect(parsed.predicateType == PredicateType.spdx)
        #expect(parsed.isAbout(digest))
        #expect(!parsed.isAbout(try Digest("sha256:" + String(repeating: "cd", count: 32))))
        let object = try JSONSerialization.jsonObject(with: Data(parsed.predicate)) as? [String: String]
        #expect(object == ["spdxVersion": "SPDX-2.3", "name": "a/b"])
    }

    @Test func malformedStatementsAreRefusedClearly() throws {
        let cases: [(String, String)] = [
            ("[1]", "not a JSON object"),
            (#"{"_type":"https://example.com/other"}"#, "not an in-toto statement"),
            (#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","predicate":{}}"#, "no subject"),
            (#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","subject":[{"name":"a"}],"predicate":{}}"#, "no digest"),
            (#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicate":7}"#, "predicate is not a JSON object"),
        ]
        for (text, message) in cases {
            #expect(throws: AttestationError.self) { try Statement.decode(Array(text.utf8)) }
            do { _ = try Statement.decode(Array(text.utf8)) } catch { #expect("\(error)".contains(message), "\(text): \(error)") }
        }
        let notObject = Statement(subjects: [.init(name: "a", digest: digest)], predicateType: "x", predicate: Array("[]".utf8))
        #expect(throws: AttestationError.self) { try notObject.encoded() }
    }

    @Test func simpleSigningPayloadHasGosKeyOrderAndParses() throws {
        let payload = try Cosign.payload(dockerReference: "registry.example/team/app", manifestDigest: digest)
        #expect(String(decoding: payload, as: UTF8.self) == #"{"critical":{"identity":{"docker-reference":"registry.example/team/app"},"image":{"docker-manifest-digest":"sha256:\#(digest.hex)"},"type":"cosign container image signature"},"optional":null}"#)
        let parsed = try Cosign.parsePayload(payload)
        #expect(parsed.manifestDigest == digest && parsed.dockerReference == "registry.example/team/app")
        #expect(throws: AttestationError.self) { try Cosign.parsePayload(Array(#"{"critical":{"type":"other"}}"#.utf8)) }
        #expect(Cosign.tag(.signature, of: digest) == "sha256-\(digest.hex).sig")
        #expect(Cosign.tag(.attestation, of: digest) == "sha256-\(digest.hex).att")
    }

    @Test func provenanceEncodesTimesAsRFC3339AndRoundTrips() throws {
        let external = Provenance.ExternalParameters(spec: .init(path: "a.yaml", content: "name: a\n", sha256: "00"),
                                                     lock: .init(name: "a.lock.json", sha256: "11"), variant: "minimal",
                                                     architectures: ["amd64"], flags: ["compression": "gzip"])
        let provenance = Provenance(external: external, dependencies: [.init(name: "x.deb", uri: "http://deb.debian.org/x.deb", sha256: "22")],
                                    builderVersion: "0.1.0", invocationID: "id", startedOn: Date(timeIntervalSince1970: 1_700_000_000),
                                    finishedOn: Date(timeIntervalSince1970: 1_700_000_061.7))
        #expect(provenance.runDetails.metadata.startedOn == "2023-11-14T22:13:20Z")
        #expect(provenance.runDetails.metadata.finishedOn == "2023-11-14T22:14:21Z")
        let bytes = try provenance.encoded()
        #expect(try Provenance.decode(bytes) == provenance)
        #expect(throws: AttestationError.self) { try Provenance.decode(Array(#"{"buildDefinition":{}}"#.utf8)) }
    }
}
