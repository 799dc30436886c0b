import Archive
import Foundation
import OCI
@testable import Registry
import Testing
import TestSupport

@Suite("Registry: challenges, URLs, retries, Docker config")
struct RegistryUnitTests {
    @Test("WWW-Authenticate challenges parse: quoted values with commas, escapes, any case")
    func challenges() throws {
        let bearer = try #require(AuthChallenge(header: #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull""#))
        #expect(bearer.scheme == "bearer")
        #expect(bearer.realm == "https://auth.example/token")
        #expect(bearer.service == "registry.example")
        #expect(bearer.scope == "repository:a/b:pull,push repository:c:pull")
        let basic = try #require(AuthChallenge(header: #"BASIC Realm="say \"hi\", please", charset=UTF-8"#))
        #expect(basic.scheme == "basic")
        #expect(basic.realm == #"say "hi", please"#)
        #expect(basic.parameters["charset"] == "UTF-8")
        #expect(AuthChallenge(header: "   ") == nil)
        // The challenge's scopes join ours, sorted and without duplicates.
        let scope = AccessScope.push("a/b").adding(challenge: bearer.scope)
        #expect(scope.scopes == ["repository:a/b:pull,push", "repository:c:pull"])
    }

    @Test("Location headers resolve against the request URL; origins compare scheme, host and port")
    func locations() {
        let base = "https://registry.example/v2/team/app/blobs/uploads/"
        #expect(Transport.resolve("/v2/team/app/blobs/uploads/abc?_state=x", against: base) == "https://registry.example/v2/team/app/blobs/uploads/abc?_state=x")
        #expect(Transport.resolve("abc?_state=x", against: base) == "https://registry.example/v2/team/app/blobs/uploads/abc?_state=x")
        #expect(Transport.resolve("https://storage.example/b/1?sig=2", against: base) == "https://storage.example/b/1?sig=2")
        #expect(Transport.origin(of: "https://Registry.Example/v2/") == Transport.origin(of: "https://registry.example:443/x"))
        #expect(Transport.origin(of: "https://registry.example/v2/") != Transport.origin(of: "http://registry.example/v2/"))
        #expect(Transport.origin(of: "http://127.0.0.1:5000/a") != Transport.origin(of: "http://127.0.0.1:5001/a"))
        #expect(RegistryClient.withDigest("https://r/v2/a/blobs/uploads/u?_state=s", try! .init("sha256:" + String(repeating: "a", count: 64)))
                == "https://r/v2/a/blobs/uploads/u?_state=s&digest=sha256:" + String(repeating: "a", count: 64))
    }

    @Test("retries: 429 and 5xx (not 501, 505), backoff doubles with jitter, Retry-After honoured and capped")
    func retries() {
        #expect(RetryPolicy.retries(status: 429) && RetryPolicy.retries(status: 500) && RetryPolicy.retries(status: 503))
        #expect(!RetryPolicy.retries(status: 501) && !RetryPolicy.retries(status: 404) && !RetryPolicy.retries(status: 401))
        let policy = RetryPolicy(attempts: 5, initialDelay: .milliseconds(100), maximumDelay: .seconds(1))
        for attempt in 1...6 {
            let delay = policy.delay(after: attempt, retryAfter: nil)
            let step = min(Duration.milliseconds(100 * (1 << (attempt - 1))), .seconds(1))
            #expect(delay >= step / 2 && delay <= step)
        }
        #expect(policy.delay(after: 1, retryAfter: "0") == .zero)
        #expect(policy.delay(after: 1, retryAfter: "120") == .seconds(1))
        #expect(RegistryClient.allowsPlainHTTP("127.0.0.1:5000", insecure: []))
        #expect(RegistryClient.allowsPlainHTTP("localhost", insecure: []))
        #expect(RegistryClient.allowsPlainHTTP("[::1]:5000", insecure: []))
        #expect(!RegistryClient.allowsPlainHTTP("registry.example:5000", insecure: []))
        #expect(RegistryClient.allowsPlainHTTP("registry.example:5000", insecure: ["registry.example:5000"]))
    }

    @Test("Docker config: auths (base64, Docker Hub's key, identity tokens), stored with mode 0600, erased")
    func dockerConfig() throws {
        let dir = try TemporaryDirectory()
        try dir.write("config.json", Array("""
        {"auths": {
          "https://index.docker.io/v1/": {"auth": "\(Data("hubuser:hubpass".utf8).base64EncodedString())"},
          "registry.example:5000": {"auth": "\(Data("alice:pa:ss".utf8).base64EncodedString())"},
          "ghcr.io": {"identitytoken": "refresh-me"}
        }, "HttpHeaders": {"User-Agent": "kept"}}
        """.utf8))
        let config = DockerConfig(path: dir.path + "/config.json")
        #expect(try config.credential(for: "docker.io") == Credential(username: "hubuser", secret: "hubpass"))
        #expect(try config.credential(for: "registry.example:5000") == Credential(username: "alice", secret: "pa:ss"))
        #expect(try config.credential(for: "ghcr.io")?.identityToken == "refresh-me")
        #expect(try config.credential(for: "quay.io") == nil)
        try config.store(Credential(username: "bob", secret: "new"), for: "quay.io")
        #expect(try config.credential(for: "quay.io") == Credential(username: "bob", secret: "new"))
        var info = stat()
        stat(dir.path + "/config.json", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        // Other settings in the file survive.
        #expect(String(decoding: try FileSystem.read(dir.path + "/config.json"), as: UTF8.self).contains("\"User-Agent\" : \"kept\""))
        #expect(try config.erase(for: "https://index.docker.io/v1/"))
        #expect(try config.credential(for: "docker.io") == nil)
        #expect(try !config.erase(for: "docker.io"))
        #expect(RegistryReference.normalizedRegistry("https://Registry.Example:5000/v2/") == "registry.example:5000")
        #expect(RegistryReference.normalizedRegistry("index.docker.io") == "docker.io")
        try dir.write("bad.json", Array("not json".utf8))
        #expect(throws: RegistryError.self) { try DockerConfig(path: dir.path + "/bad.json").credential(for: "x") }
    }
}
