import Archive
import Foundation
import Testing
import TestSupport

/// The registry harness itself, checked end to end with curl: docker-registry with each kind of auth and
/// TLS, the token server, and the fault proxy's forwarding, injected statuses and dropped connections.
@Suite struct RegistryHarnessTests {
    /// `curl -s -o /dev/null -w '%{http_code}' ARGS…`: the status ("000" when there was no answer) and curl's exit status.
    private func status(_ arguments: [String]) throws -> (code: String, exit: Int32) {
        let result = try run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + arguments)
        return (result.output, result.status)
    }

    /// The response head of `curl -s -D - -o /dev/null ARGS…` as lower-cased header name → value (last wins).
    private func headers(_ arguments: [String]) throws -> [String: String] {
        let head = try runChecked("curl", ["-s", "-D", "-", "-o", "/dev/null"] + arguments)
        var result: [String: String] = [:]
        for line in head.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    @Test func anonymousRegistryThroughTheProxy() throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        #expect(try status(["http://\(proxy.host)/v2/"]).code == "200", "\(registry.log())")

        // A monolithic blob upload through the proxy: the registry's Location stays on the proxy, the body
        // streams up, and the blob streams back.
        let blob = pseudoRandomBytes(count: 3 << 20)
        let work = try TemporaryDirectory()
        let file = try work.write("blob", blob)
        let digest = "sha256:" + sha256Hex(blob)
        let started = try headers(["-X", "POST", "http://\(proxy.host)/v2/harness/blobs/uploads/"])
        let location = try #require(started["location"], "\(registry.log())")
        #expect(location.hasPrefix("http://\(proxy.host)/v2/harness/blobs/uploads/"))
        #expect(try status(["-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(file)",
                            location + "&digest=" + digest]).code == "201", "\(registry.log())")
        let back = try run("curl", ["-s", "-f", "http://\(proxy.host)/v2/harness/blobs/\(digest)"])
        #expect(back.status == 0 && back.stdout == blob)

        let logged = try proxy.requests()
        #expect(logged.map(\.method) == ["GET", "POST", "PUT", "GET"])
        #expect(logged.first == FaultProxy.LoggedRequest(method: "GET", target: "/v2/", status: 200, bodyBytes: 0, action: "forward"))
        #expect(logged.map(\.status) == [200, 202, 201, 200])
        #expect(logged[2].bodyBytes == blob.count && logged[2].target.hasSuffix("&digest=" + digest))
        #expect(logged.allSatisfy { $0.action == "forward" })
        try proxy.clearLog()
        #expect(try proxy.requests().isEmpty)
    }

    @Test func injectedStatusThenForward() throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        try proxy.setRules([.init(method: "GET", pathContains: "/v2/", times: 1, action: .status(503, retryAfter: 1))])
        let url = "http://\(proxy.host)/v2/"
        let first = try run("curl", ["-s", "-D", "-", "-o", "/dev/null", url]).output
        #expect(first.hasPrefix("HTTP/1.1 503 "))
        #expect(first.lowercased().contains("retry-after: 1\r\n"))
        #expect(try status([url]).code == "200")
        #expect(try status([url]).code == "200")
        #expect(try proxy.requests().map { "\($0.action) \($0.status.map(String.init) ?? "-")" }
                == ["status 503", "forward 200", "forward 200"])

        // setRules restarts the counters even for the same rules; skip lets requests through first.
        try proxy.setRules([.init(pathContains: "/v2/", skip: 1, times: 2, action: .status(500, retryAfter: nil))])
        #expect(try [status([url]), status([url]), status([url]), status([url])].map(\.code) == ["200", "500", "500", "200"])
    }

    /// The rules file format fault_proxy.py reads.
    @Test func ruleEncoding() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let rules: [FaultProxy.Rule] = [
            .init(method: "PUT", pathContains: "/blobs/uploads/", skip: 1, times: 2, action: .status(503, retryAfter: 1)),
            .init(action: .status(500, retryAfter: nil)),
            .init(method: "PATCH", action: .dropAfterBodyBytes(0)),
            .init(action: .dropResponse),
        ]
        let json = String(decoding: try encoder.encode(rules), as: UTF8.self)
        #expect(json == "["
            + #"{"action":{"kind":"status","retryAfter":1,"status":503},"method":"PUT","pathContains":"/blobs/uploads/","skip":1,"times":2},"#
            + #"{"action":{"kind":"status","status":500},"skip":0,"times":1},"#
            + #"{"action":{"bytes":0,"kind":"dropAfterBodyBytes"},"method":"PATCH","skip":0,"times":1},"#
            + #"{"action":{"kind":"dropResponse"},"skip":0,"times":1}"#
            + "]")
        let decoded = try JSONDecoder().decode([FaultProxy.Rule].self, from: Data(#"[{"action":{"kind":"dropAfterBodyBytes","bytes":7}}]"#.utf8))
        #expect(decoded.count == 1 && decoded[0].skip == 0 && decoded[0].times == 1 && decoded[0].method == nil)
        guard case .dropAfterBodyBytes(7) = decoded[0].action else { Issue.record("decoded \(decoded[0].action)"); return }
    }

    @Test func droppedConnections() throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let work = try TemporaryDirectory()
        let blob = pseudoRandomBytes(count: 10_000, seed: 7)
        let file = try work.write("blob", blob)
        let digest = "sha256:" + sha256Hex(blob)
        try proxy.setRules([
            .init(method: "PATCH", action: .dropAfterBodyBytes(1000)),
            .init(method: "PUT", action: .dropResponse),
        ])
        // The PATCH loses its connection after 1000 body bytes reached the registry.
        let first = try #require(try headers(["-X", "POST", "http://\(proxy.host)/v2/drop/blobs/uploads/"])["location"])
        let patch = try status(["-X", "PATCH", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(file)", first])
        #expect(patch.code == "000" && patch.exit != 0)
        #expect(registry.log().contains("copied=1000"))
        // The PUT completes in the registry but the client never hears of it.
        let second = try #require(try headers(["-X", "POST", "http://\(proxy.host)/v2/drop/blobs/uploads/"])["location"])
        let put = try status(["-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(file)",
                              second + "&digest=" + digest])
        #expect(put.code == "000" && put.exit != 0)
        #expect(try status(["-I", "http://\(proxy.host)/v2/drop/blobs/\(digest)"]).code == "200")

        let logged = try proxy.requests()
        #expect(logged.map(\.action) == ["forward", "dropAfterBodyBytes", "forward", "dropResponse", "forward"])
        #expect(logged[1].status == nil && logged[1].bodyBytes == 1000)
        #expect(logged[3].status == nil && logged[3].bodyBytes == blob.count)
    }

    @Test func basicAuth() throws {
        let registry = try TestRegistry(auth: .basic(user: "harden", password: "s3cret"))
        let url = "http://\(registry.host)/v2/"
        #expect(try status([url]).code == "401")
        #expect(try headers([url])["www-authenticate"] == "Basic realm=\"harden-test\"")
        #expect(try status(["-u", "harden:s3cret", url]).code == "200", "\(registry.log())")
        #expect(try status(["-u", "harden:wrong", url]).code == "401")
    }

    @Test func tokenAuth() async throws {
        let registry = try TestRegistry(auth: .token(user: "harden", password: "s3cret", ttl: 5))
        let tokenServer = try #require(registry.tokenServer)
        let url = "http://\(registry.host)/v2/"
        #expect(try status([url]).code == "401")
        let challenge = try #require(try headers([url])["www-authenticate"])
        #expect(challenge == "Bearer realm=\"\(tokenServer)/token\",service=\"harden-registry\"")

        // Follow the challenge's realm the way a client would.
        let realm = try #require(challenge.split(separator: "\"").dropFirst().first.map(String.init))
        let tokenURL = realm + "?service=harden-registry&scope=repository:harness/token:pull,push"
        struct TokenResponse: Decodable { var token: String; var access_token: String; var expires_in: Int; var issued_at: String }
        let answer = try runChecked("curl", ["-s", "-f", "-u", "harden:s3cret", tokenURL])
        let received = ContinuousClock.now
        let token = try JSONDecoder().decode(TokenResponse.self, from: Data(answer.utf8))
        #expect(token.token == token.access_token && token.expires_in == 5)
        #expect(try status(["-H", "Authorization: Bearer \(token.token)", url]).code == "200", "\(registry.log())")
        #expect(try status(["-X", "POST", "-H", "Authorization: Bearer \(token.token)",
                            "http://\(registry.host)/v2/harness/token/blobs/uploads/"]).code == "202")
        #expect(try registry.tokensIssued() == 1)

        // Wrong credentials get no token.
        #expect(try status(["-u", "harden:wrong", tokenURL]).code == "401")
        #expect(try registry.tokensIssued() == 1)

        // The registry itself stops accepting the token once its ttl is over (by ttl + 1 s after issue).
        try await Task.sleep(until: received + .milliseconds(6100))  // off the cooperative pool, unlike usleep
        #expect(try status(["-H", "Authorization: Bearer \(token.token)", url]).code == "401")
    }

    @Test func tls() throws {
        let registry = try TestRegistry(tls: true)
        let ca = try #require(registry.caCertificatePath)
        #expect(try #require(registry.caCertificate).hasPrefix("-----BEGIN CERTIFICATE-----"))
        let port = registry.host.split(separator: ":").last.map(String.init) ?? ""
        #expect(try status(["--cacert", ca, "https://\(registry.host)/v2/"]).code == "200", "\(registry.log())")
        #expect(try status(["--cacert", ca, "https://localhost:\(port)/v2/"]).code == "200")
        let untrusted = try status(["https://\(registry.host)/v2/"])
        #expect(untrusted.code == "000" && untrusted.exit == 60)  // CURLE_PEER_FAILED_VERIFICATION
    }
}
