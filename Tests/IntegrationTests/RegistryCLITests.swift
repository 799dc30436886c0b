import Archive
import Foundation
import OCI
import Testing
import TestSupport

/// The CLI against a real docker-registry: signed images with their attachments, verify from
/// the registry, login/logout with the Docker config and a credential helper, build --push.
@Suite("harden push/pull/verify against docker-registry")
struct RegistryCLITests {
    /// The manifest (parsed JSON) a tag names in the registry, read with skopeo.
    func rawManifest(_ registry: TestRegistry, _ path: String) throws -> [String: Any] {
        let out = try runChecked("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/\(path)"])
        return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    }

    @Test("a signed build pushed with its signatures and attestations verifies from the registry by digest")
    func signedPushVerify() async throws {
        let signed = try await SignedCatalog.shared.signed()
        let registry = try TestRegistry()
        let environment = SignedCatalog.shared.environment()
        let harden = try hardenBinary()
        let push = try run(harden, ["push", "oci:\(signed.layout):latest", "\(registry.host)/hardened/base:latest"], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")
        let digest = try #require(push.output.split(separator: " ").first.map(String.init))
        #expect(push.stderr.contains("sha256-<digest> tags"))

        // The .sig and .att tags hold what INTEROP.md describes.
        let hex = String(digest.dropFirst(7))
        let sig = try rawManifest(registry, "hardened/base:sha256-\(hex).sig")
        let sigLayers = try #require(sig["layers"] as? [[String: Any]])
        #expect(!sigLayers.isEmpty)
        for layer in sigLayers {
            #expect(layer["mediaType"] as? String == "application/vnd.dev.cosign.simplesigning.v1+json")
            #expect(((layer["annotations"] as? [String: String])?["dev.cosignproject.cosign/signature"] ?? "").count > 40)
        }
        // Provenance and SBOMs are attested per platform manifest.
        let index = try rawManifest(registry, "hardened/base@\(digest)")
        let amd64 = try #require((index["manifests"] as? [[String: Any]])?.first { ($0["platform"] as? [String: Any])?["architecture"] as? String == "amd64" })
        let amd64Hex = String(try #require(amd64["digest"] as? String).dropFirst(7))
        #expect((try rawManifest(registry, "hardened/base:sha256-\(amd64Hex).sig")["layers"] as? [[String: Any]])?.isEmpty == false)
        let att = try rawManifest(registry, "hardened/base:sha256-\(amd64Hex).att")
        let attLayers = try #require(att["layers"] as? [[String: Any]])
        let predicates = Set(attLayers.compactMap { ($0["annotations"] as? [String: String])?["predicateType"] })
        #expect(predicates.isSuperset(of: ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document", "https://cyclonedx.org/bom"]))
        #expect(attLayers.allSatisfy { $0["mediaType"] as? String == "application/vnd.dsse.envelope.v1+json" })
        let referrers = try rawManifest(registry, "hardened/base:sha256-\(amd64Hex)")
        #expect((referrers["manifests"] as? [[String: Any]])?.isEmpty == false)

        let verify = try run(harden, ["verify", "\(registry.host)/hardened/base@\(digest)", "--key", signed.pub,
                                      "--require", "provenance,spdx,cyclonedx"], environment: environment)
        #expect(verify.status == 0, "\(verify.output)\(verify.stderr)")
        #expect(verify.output.contains("verified:"))
        // Another key does not verify what came from the registry.
        let dir = try TemporaryDirectory()
        try runChecked(harden, ["keygen", "--output-prefix", dir.path + "/other"], environment: environment)
        let wrong = try run(harden, ["verify", "\(registry.host)/hardened/base@\(digest)", "--key", dir.path + "/other.pub"], environment: environment)
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("FAIL"))

        // Pulled back into a layout, the image and its attachments are the same bytes.
        let pull = try run(harden, ["pull", "\(registry.host)/hardened/base:latest", "oci:\(dir.path)/pulled:latest"], environment: environment)
        #expect(pull.status == 0, "\(pull.stderr)")
        let pulled = try ImageLayout(opening: dir.path + "/pulled")
        #expect(try pulled.resolve(tag: "latest").digest.description == digest)
        let original = try ImageLayout(opening: signed.layout)
        let root = try original.resolve(tag: "latest")
        let attached = Set(try original.attachmentTags(of: root).map(\.descriptor.digest))
        #expect(Set(try pulled.attachmentTags(of: root).map(\.descriptor.digest)) == attached)
        // trivy reads the pushed image from the registry and finds its Debian packages (SBOM mode, no DB).
        let trivy = try run("trivy", ["image", "--insecure", "--quiet", "--format", "cyclonedx", "--platform", "linux/amd64",
                                      "\(registry.host)/hardened/base:latest"], environment: environment.merging(["TRIVY_NO_PROGRESS": "true"]) { $1 })
        #expect(trivy.status == 0, "\(trivy.stderr)")
        #expect(trivy.output.contains("pkg:deb/debian/base-files@"), "\(trivy.output.prefix(1500))")
        let inspect = try run(harden, ["inspect", "\(registry.host)/hardened/base:latest"], environment: environment)
        #expect(inspect.status == 0 && inspect.output.contains("amd64") && inspect.output.contains("arm64"), "\(inspect.stderr)")
        let sbom = try run(harden, ["sbom", "\(registry.host)/hardened/base:latest", "--platform", "linux/amd64", "--format", "cyclonedx-json"],
                           environment: environment)
        #expect(sbom.status == 0 && sbom.output.contains("\"bomFormat\""), "\(sbom.stderr)")
        // Read from the layers of a registry image, the image's purl names where it lives; pyspdxtools accepts it.
        let spdx = dir.path + "/registry.spdx.json"
        let rescan = try run(harden, ["sbom", "\(registry.host)/hardened/base:latest", "--platform", "linux/amd64", "--rescan", "--output", spdx],
                             environment: environment)
        #expect(rescan.status == 0, "\(rescan.stderr)")
        let text = String(decoding: try FileSystem.read(spdx), as: UTF8.self)
        #expect(text.contains("?repository_url=\(registry.host)/hardened/base"), "\(text.prefix(2000))")
        let check = try run("pyspdxtools", ["-i", spdx])
        #expect(check.status == 0, "\(check.output)\(check.stderr)")
    }

    @Test("login checks and saves credentials (Docker config, mode 0600), push uses them, logout removes them")
    func loginLogout() throws {
        let registry = try TestRegistry(auth: .basic(user: "alice", password: "s3cret"))
        let dir = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["DOCKER_CONFIG"] = dir.path + "/docker"
        let harden = try hardenBinary()
        let bad = try run(harden, ["login", registry.host, "-u", "alice", "--password-stdin"], input: Array("nope\n".utf8), environment: environment)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("registry \(registry.host)") && bad.stderr.contains("credentials refused"), "\(bad.stderr)")
        #expect(!FileSystem.exists(dir.path + "/docker/config.json"))

        let good = try run(harden, ["login", registry.host, "-u", "alice", "--password-stdin"], input: Array("s3cret\n".utf8), environment: environment)
        #expect(good.status == 0, "\(good.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(try FileSystem.read(dir.path + "/docker/config.json"))) as? [String: Any]
        let auth = ((config?["auths"] as? [String: Any])?[registry.host] as? [String: Any])?["auth"] as? String
        #expect(auth == Data("alice:s3cret".utf8).base64EncodedString())
        var info = stat()
        stat(dir.path + "/docker/config.json", &info)
        #expect(info.st_mode & 0o777 == 0o600)

        let image = try TemporaryDirectory()
        try FileSystem.writeAtomically(image.path + "/hello", bytes: Array("hello".utf8))
        try runChecked(harden, ["pack", image.path, "--output", "oci:\(dir.path)/layout:v1"], environment: environment)
        let push = try run(harden, ["push", "oci:\(dir.path)/layout:v1", "\(registry.host)/team/hello:v1"], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")

        try runChecked(harden, ["logout", registry.host], environment: environment)
        let after = try run(harden, ["pull", "\(registry.host)/team/hello:v1", "oci:\(dir.path)/again:v1"], environment: environment)
        #expect(after.status != 0)
        #expect(after.stderr.contains("harden login \(registry.host)"), "\(after.stderr)")
    }

    @Test("a Docker credential helper (credHelpers) stores, serves and erases the credentials")
    func credentialHelper() throws {
        let registry = try TestRegistry(auth: .token(user: "carol", password: "pa55", ttl: 60))
        let dir = try TemporaryDirectory()
        // A helper speaking Docker's protocol, keeping one credential in a file.
        let store = dir.path + "/helper-store.json"
        try dir.write("bin/docker-credential-hardentest", Array("""
        #!/bin/sh
        case "$1" in
          store) cat > '\(store)' ;;
          get) read server; if [ -f '\(store)' ]; then cat '\(store)'; else echo "credentials not found in native keychain"; exit 1; fi ;;
          erase) read server; rm -f '\(store)' ;;
        esac
        """.utf8), mode: 0o755)
        try dir.write("docker/config.json", Array(#"{"credHelpers":{"\#(registry.host)":"hardentest"}}"#.utf8))
        var environment = ProcessInfo.processInfo.environment
        environment["DOCKER_CONFIG"] = dir.path + "/docker"
        environment["PATH"] = dir.path + "/bin:" + (environment["PATH"] ?? "/usr/bin:/bin")
        let harden = try hardenBinary()
        let login = try run(harden, ["login", registry.host, "-u", "carol", "--password-stdin"], input: Array("pa55".utf8), environment: environment)
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.output.contains("docker-credential-hardentest"))
        let saved = String(decoding: try FileSystem.read(store), as: UTF8.self)
        #expect(saved.contains("\"Username\":\"carol\"") && saved.contains("\"Secret\":\"pa55\""))
        // The config file itself holds no secret.
        #expect(!String(decoding: try FileSystem.read(dir.path + "/docker/config.json"), as: UTF8.self).contains("pa55"))

        let image = try TemporaryDirectory()
        try FileSystem.writeAtomically(image.path + "/hello", bytes: Array("hi".utf8))
        try runChecked(harden, ["pack", image.path, "--output", "oci:\(dir.path)/layout:v1"], environment: environment)
        let push = try run(harden, ["push", "oci:\(dir.path)/layout:v1", "\(registry.host)/team/hi:v1"], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try registry.tokensIssued() >= 2)

        try runChecked(harden, ["logout", registry.host], environment: environment)
        #expect(!FileSystem.exists(store))
    }

    @Test("build --push sends each variant to the registry; copy within a registry mounts blobs")
    func buildPushAndMount() async throws {
        let spec = try await CatalogBuilds.shared.lockedSpec("base")
        let registry = try TestRegistry()
        let dir = try TemporaryDirectory()
        var environment = SignedCatalog.shared.environment()
        environment["HARDEN_STORE"] = dir.path + "/store"
        let harden = try hardenBinary()
        let build = try run(harden, ["build", spec, "--push", "\(registry.host)/hardened/base"], environment: environment)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.output.contains("\(registry.host)/hardened/base:latest"))
        #expect(build.output.contains("\(registry.host)/hardened/base:latest-dev"))
        #expect(!build.output.contains("latest-dev-dev"), "the dev variant goes to TAG-dev: \(build.output)")
        let index = try rawManifest(registry, "hardened/base:latest")
        #expect((index["manifests"] as? [[String: Any]])?.count == 2)

        let copy = try run(harden, ["copy", "\(registry.host)/hardened/base:latest", "\(registry.host)/mirror/base:latest"], environment: environment)
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(copy.stderr.contains("mounted"), "\(copy.stderr)")
        #expect(copy.stderr.contains("0 blobs moved"), "\(copy.stderr)")
    }
}
