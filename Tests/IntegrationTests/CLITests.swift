import Archive
import Foundation
import Testing
import TestSupport

/// The `harden` executable built next to the test bundle.
func hardenBinary() throws -> String { try builtBinary("harden") }

/// An executable of this package built next to the test bundle.
func builtBinary(_ name: String) throws -> String {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [here, here.deletingLastPathComponent()].map({ $0.appendingPathComponent(name).path })
    where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    throw TestSetupError(description: "the \(name) binary is not built next to the tests: run 'swift build --build-tests' (make test does)")
}

@Suite struct CLITests {
    @Test func versionAndHelpTeach() throws {
        let harden = try hardenBinary()
        #expect(try runChecked(harden, ["--version"]).trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try runChecked(harden, ["--help"])
        for word in ["inspect", "pack", "copy", "oci:DIR", "docker-archive:"] { #expect(help.contains(word)) }
        #expect(try runChecked(harden, ["inspect", "--help"]).contains("Examples:"))
    }

    @Test func packInspectAndCopyEndToEnd() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        try dir.write("root/usr/bin/tool", pseudoRandomBytes(count: 1000), mode: 0o755)
        let first = try runChecked(harden, ["pack", dir.path + "/root", "--output", "oci:\(dir.path)/out:v1", "--user", "65532",
                                            "--entrypoint", "/usr/bin/tool", "--env", "A=b", "--label", "k=v", "--epoch", "1000"])
        let second = try runChecked(harden, ["pack", dir.path + "/root", "--output", "oci:\(dir.path)/out2:v1", "--user", "65532",
                                             "--entrypoint", "/usr/bin/tool", "--env", "A=b", "--label", "k=v", "--epoch", "1000"])
        #expect(first.prefix(71) == second.prefix(71))
        let text = try runChecked(harden, ["inspect", "oci:\(dir.path)/out:v1"])
        #expect(text.contains("User:        65532") && text.contains("Env:         A=b") && text.contains("Label:       k=v"))
        let json = try runChecked(harden, ["inspect", "--format", "json", "oci:\(dir.path)/out:v1"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((parsed?["digest"] as? String).map { first.hasPrefix($0) } == true)
        try runChecked(harden, ["copy", "oci:\(dir.path)/out:v1", "docker-archive:\(dir.path)/d.tar:example/tool:1"])
        #expect(try runChecked(harden, ["inspect", "docker-archive:\(dir.path)/d.tar"]).contains("User:        65532"))
        let raw = try runChecked(harden, ["inspect", "--raw", "oci:\(dir.path)/out:v1"])
        #expect(sha256Hex(Array(raw.dropLast().utf8)) == String(first.dropFirst(7).prefix(64)))
    }

    @Test func badInputGivesOneClearLineAndNonZeroExit() throws {
        let harden = try hardenBinary()
        let dir = try TemporaryDirectory()
        let cases: [([String], String)] = [
            (["inspect", "oci:\(dir.path)/missing"], "not a valid OCI image layout"),
            (["inspect", "tarball:x/y"], "unknown transport"),
            (["inspect", "Bad/Name"], "invalid repository component"),
            (["pack", dir.path + "/nope", "--output", "oci:\(dir.path)/o"], "is not a directory"),
            (["inspect", "oci-archive:\(dir.path)/none.tar"], "not found"),
        ]
        for (arguments, message) in cases {
            let result = try run(harden, arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test("downloads go through http_proxy (tunnelled with CONNECT), and no_proxy bypasses it")
    func downloadsHonourTheProxy() async throws {
        let harden = try hardenBinary()
        let server = try FeedServer()
        try server.directory.write("json", try FileSystem.read(ScanCLITests.feed))
        let dir = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["http_proxy"] = "http://" + server.address
        // feeds.invalid resolves nowhere: only the proxy can have answered.
        let proxied = try await runOffPool(harden, ["db", "update", "--url", "http://feeds.invalid/json", "--db", dir.path + "/v.db"],
                                           environment: environment)
        #expect(proxied.status == 0, "\(proxied.stderr)")
        #expect(try server.requests().map { "\($0.method) \($0.path)" } == ["CONNECT feeds.invalid:80", "GET /json"])
        environment["no_proxy"] = ".invalid"
        let direct = try await runOffPool(harden, ["db", "update", "--url", "http://feeds.invalid/json", "--db", dir.path + "/w.db"],
                                          environment: environment)
        #expect(direct.status != 0 && direct.stderr.contains("feeds.invalid"), "\(direct.stderr)")
        #expect(try server.requests().count == 2)
    }

}
