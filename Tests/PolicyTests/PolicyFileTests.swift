import Attestation
import Policy
import Testing

@Suite struct PolicyFileTests {
    @Test func parsesEveryKey() throws {
        let policy = try VerificationPolicy(yaml: """
            require: [provenance, spdx, https://example.com/custom/v1]
            builder-id: https://builder.example/one
            build-type: https://builder.example/type
            non-root: true
            no-shell: false
            """, file: "p.yaml")
        #expect(policy.required == [PredicateType.slsaProvenance, PredicateType.spdx, "https://example.com/custom/v1"])
        #expect(policy.builderID == "https://builder.example/one")
        #expect(policy.buildType == "https://builder.example/type")
        #expect(policy.nonRoot && !policy.noShell)
        // Defaults: the Harden builder, nothing required.
        let empty = try VerificationPolicy(yaml: "non-root: false\n", file: "e.yaml")
        #expect(empty.builderID == Provenance.builderID && empty.required.isEmpty)
    }

    @Test(arguments: [
        ("requires: [provenance]", "unknown key 'requires'"),
        ("require: provenance", "'require' is a list"),
        ("require: [sbom]", "unknown predicate type 'sbom'"),
        ("non-root: yes please", "'non-root' is true or false"),
        ("builder-id: 3", "'builder-id' is a URI"),
        ("- a\n- b", "a policy is a mapping"),
        ("a: [", "not valid YAML"),
    ])
    func badPoliciesNameTheProblem(text: String, message: String) {
        do {
            _ = try VerificationPolicy(yaml: text, file: "bad.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains("bad.yaml"))
        }
    }
}
