import Debian
import Foundation
import ImageBuild
import Testing
import TestSupport

@Suite struct ImageSpecTests {
    @Test func catalogSpecsParse() throws {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        for name in ["static", "base", "cc", "python"] {
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
    ])
    func badSpecsNameKeyAndLine(yaml: String, line: Int, message: String) {
        let error = #expect(throws: SpecError.self) { try ImageSpec(yaml: yaml, file: "bad.yaml") }
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }
}
