import Archive
import Debian
import Foundation
import ImageBuild
import Testing
import VEX
import TestSupport

@Suite struct ImageSpecTests {
    /// Every image of catalog/ (IntegrationTests' CatalogBuilds.names holds the same list).
    static let catalogNames = ["static", "base", "cc", "python", "nodejs", "java", "nginx"]

    @Test func catalogSpecsParse() throws {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        for name in Self.catalogNames {
            let spec = try ImageSpec(contentsOf: dir.path + "/catalog/\(name).yaml")
            #expect(spec.name == name)
            #expect(spec.debian == "bookworm")
            #expect(spec.archs == ["amd64", "arm64"])
            #expect(spec.packages.contains { $0.excluded && $0.name == "debconf" })
        }
    }

    @Test func fullSpecParses() throws {
        let spec = try ImageSpec(yaml: """
            name: app
            description: test
            debian: bookworm
            archs: [arm64]
            packages: [libc6, "libssl3=3.0.11-1~deb12u2", "!bash"]
            repositories:
              - url: http://deb.debian.org/debian
                suites: [bookworm]
                components: [main]
                keyring: /usr/share/keyrings/debian-archive-keyring.gpg
            """, file: "app.yaml")
        #expect(spec.archs == ["arm64"])
        #expect(spec.packages.map(\.description) == ["libc6", "libssl3=3.0.11-1~deb12u2", "!bash"])
        #expect(try spec.aptRepositories().first?.keyrings == ["/usr/share/keyrings/debian-archive-keyring.gpg"])
    }

    @Test(arguments: [
        ("name: a\ndebian: bookworm\npackages: [x]\nshell: yes\n", 4, "unknown key 'shell'"),
        ("name: a\ndebian: bookworm\npackages: x\n", 3, "'packages' must be a list"),
        ("name: a\ndebian: bullseye\npackages: [x]\n", 2, "'debian' must be bookworm"),
        ("name: a\ndebian: bookworm\narchs: [amd64, sparc]\npackages: [x]\n", 3, "unknown architecture 'sparc'"),
        ("name: a\ndebian: bookworm\npackages: [\"x=\"]\n", 3, "version string is empty"),
        ("name: a\ndebian: bookworm\npackages: [x]\nname: b\n", 4, "'name' appears twice"),
        ("name: [a\n", 2, "malformed YAML"),
        ("name: a\ndebian: bookworm\npackages: [x]\nrepositories:\n  - url: ftp://x\n    suites: [a]\n    components: [main]\n    keyring: /k\n", 5, "http(s) 'url'"),
        ("name: a\ndebian: bookworm\npackages: [x]\nvex:\n  - vulnerability: CVE-1\n    status: not-affected\n", 6, "status 'not-affected' is not one of not_affected"),
        ("name: a\ndebian: bookworm\npackages: [x]\nvex:\n  - vulnerability: CVE-1\n    status: not_affected\n    justification: trust-me\n", 7, "justification 'trust-me' is not one of"),
        ("name: a\ndebian: bookworm\npackages: [x]\nvex:\n  - vulnerability: CVE-1\n    status: not_affected\n", 5, "needs a 'justification' or an 'impact'"),
        ("name: a\ndebian: bookworm\npackages: [x]\nvex:\n  - vulnerability: CVE-1\n    status: affected\n", 5, "needs an 'action'"),
    ])
    func badSpecsNameKeyAndLine(yaml: String, line: Int, message: String) {
        let error = #expect(throws: SpecError.self) { try ImageSpec(yaml: yaml, file: "bad.yaml") }
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }
}

@Suite struct SpecDocumentationTests {
    var root: String {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.path
    }

    /// The example in docs/spec.md is a spec Harden accepts, with every section set.
    @Test func documentedExampleParses() throws {
        let doc = String(decoding: try FileSystem.read(root + "/docs/spec.md"), as: UTF8.self)
        let start = try #require(doc.range(of: "```yaml\n"))
        let end = try #require(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
        let spec = try ImageSpec(yaml: String(doc[start.upperBound..<end.lowerBound]), file: "docs/spec.md")
        #expect(spec.accounts.runAs == "app" && spec.accounts.users.first?.uid == 10001)
        #expect(spec.paths.count == 4 && spec.paths[0].mode == 0o755)
        #expect(spec.dev.packages.map(\.name) == ["python3-pip"])
        #expect(spec.tests.first?.expectOutput == "ok")
        #expect(spec.osRelease["PRETTY_NAME"] == "Harden Python 3.11")
        #expect(spec.devPackages.map(\.name).contains("apt"))
        #expect(spec.vex == [ImageSpec.VEXEntry(vulnerability: "CVE-2024-5535", packages: ["libssl3"], status: .notAffected,
                                                justification: .vulnerableCodeNotInExecutePath,
                                                impact: "No program in this image calls SSL_select_next_proto.", action: nil)])
    }

    /// The published JSON Schema accepts the catalog and rejects a typo, like the parser does.
    @Test func jsonSchemaAgreesOnTheCatalog() throws {
        let script = """
        import json, sys, yaml, jsonschema
        schema = json.load(open(sys.argv[1]))
        for path in sys.argv[2:]:
            jsonschema.validate(yaml.safe_load(open(path)), schema)
        try:
            jsonschema.validate(yaml.safe_load("name: x\\ndebian: bookworm\\npackages: [a]\\npakages: [b]\\n"), schema)
            sys.exit(3)
        except jsonschema.ValidationError:
            pass
        """
        let specs = ImageSpecTests.catalogNames.map { root + "/catalog/\($0).yaml" }
        let result = try run("python3", ["-c", script, root + "/docs/spec.schema.json"] + specs)
        #expect(result.status == 0, "\(result.stderr)")
    }
}
