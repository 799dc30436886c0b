import Archive
@testable import Debian
import Foundation
import Testing
import TestSupport

/// Downloads against a real HTTP server on loopback (Tests/Harness/feed_server.py) and its faults.
@Suite struct HTTPFetcherTests {
    let body = pseudoRandomBytes(count: 300_000)
    var sha256: String { sha256Hex(body) }

    @Test("a verified download streams into the cache; a second one is served from it")
    func verifiedDownload() async throws {
        let server = try FeedServer()
        try server.directory.write("pkg.deb", body)
        let dir = try TemporaryDirectory()
        let cache = DownloadCache(root: dir.path)
        let fetcher = HTTPFetcher(attempts: 1)
        let path = try await fetcher.fetchVerified(server.url("pkg.deb"), sha256: sha256, size: Int64(body.count), cache: cache)
        #expect(path == cache.path(sha256: sha256))
        #expect(try FileSystem.read(path, limit: 1 << 20) == body)
        _ = try await fetcher.fetchVerified(server.url("pkg.deb"), sha256: sha256, size: Int64(body.count), cache: cache)
        #expect(try server.requests().count == 1)
        #expect(try FileSystem.listDirectory(dir.path + "/sha256") == [sha256])
    }

    @Test("a mirror that sends more than the index names is cut off at that size, and nothing is kept")
    func endlessBody() async throws {
        let server = try FeedServer()
        try server.directory.write("pkg.deb", body)
        let dir = try TemporaryDirectory()
        let cache = DownloadCache(root: dir.path)
        let error = try await #require(throws: RepositoryError.self) {
            try await HTTPFetcher(attempts: 1).fetchVerified(server.url("pkg.deb", fault: "endless"), sha256: sha256,
                                                             size: Int64(body.count), cache: cache)
        }
        guard case .sizeMismatch(_, let expected, let actual) = error else { Issue.record("\(error)"); return }
        #expect(expected == Int64(body.count) && actual > expected && actual < expected + (1 << 20))
        #expect(try FileSystem.listDirectory(dir.path + "/sha256").isEmpty)
        // The same cap for a download of unknown size.
        let capped = try await #require(throws: RepositoryError.self) {
            try await HTTPFetcher(attempts: 1).fetch(server.url("pkg.deb", fault: "endless"), limit: 1 << 20)
        }
        #expect(capped.description.contains("more than the 1048576-byte limit"), "\(capped)")
    }

    @Test("wrong bytes are refused and not cached")
    func wrongBytes() async throws {
        let server = try FeedServer()
        try server.directory.write("pkg.deb", body)
        let dir = try TemporaryDirectory()
        let wrong = String(repeating: "0", count: 64)
        let error = try await #require(throws: RepositoryError.self) {
            try await HTTPFetcher(attempts: 1).fetchVerified(server.url("pkg.deb"), sha256: wrong, size: Int64(body.count),
                                                             cache: DownloadCache(root: dir.path))
        }
        #expect(error == .hashMismatch(url: server.url("pkg.deb"), expected: wrong, actual: sha256))
        #expect(try FileSystem.listDirectory(dir.path + "/sha256").isEmpty)
    }

    @Test("redirects are followed; user:password in a URL becomes basic authentication and is never shown")
    func redirectsAndCredentials() async throws {
        let server = try FeedServer()
        try server.directory.write("feed.json", body)
        let fetcher = HTTPFetcher(attempts: 3, initialBackoff: 0.01)
        #expect(try await fetcher.fetch(server.url("feed.json", fault: "redirect"), limit: 1 << 20) == body)
        #expect(try server.requests().map(\.status) == [302, 200])

        let authorized = server.url("feed.json", fault: "auth").replacingOccurrences(of: "http://", with: "http://harden:s3cret@")
        #expect(try await fetcher.fetch(authorized, limit: 1 << 20) == body)
        let wrong = authorized.replacingOccurrences(of: "s3cret", with: "guess")
        let error = try await #require(throws: RepositoryError.self) { try await fetcher.fetch(wrong, limit: 1 << 20) }
        #expect(error == .http(url: server.url("feed.json", fault: "auth"), status: 401))
        #expect(!error.description.contains("guess") && !error.description.contains("harden:"))
        #expect(try server.requests().map(\.status).suffix(2) == [200, 401], "a 401 is final, not retried")
    }

    @Test("a 404 is final; a 500 is retried")
    func statuses() async throws {
        let server = try FeedServer()
        let fetcher = HTTPFetcher(attempts: 3, initialBackoff: 0.01)
        await #expect(throws: RepositoryError.http(url: server.url("missing"), status: 404)) { try await fetcher.fetch(server.url("missing")) }
        await #expect(throws: RepositoryError.http(url: server.url("x", fault: "error"), status: 500)) {
            try await fetcher.fetch(server.url("x", fault: "error"))
        }
        #expect(try server.requests().map(\.status) == [404, 500, 500, 500])
    }

    @Test("the proxy comes from http_proxy, https_proxy and no_proxy, as curl reads them")
    func proxyFromEnvironment() {
        let environment = ["http_proxy": "http://user:pw@proxy.example:3128", "HTTPS_PROXY": "tls-proxy.example",
                           "no_proxy": "localhost, .internal.example,mirror.example"]
        let plain = HTTPFetcher.Proxy.forURL("http://deb.debian.org/debian", environment: environment)
        #expect(plain == .init(host: "proxy.example", port: 3128, authorization: Data("user:pw".utf8).base64EncodedString()))
        #expect(HTTPFetcher.Proxy.forURL("https://security.debian.org/x", environment: environment) == .init(host: "tls-proxy.example", port: 80))
        for exempt in ["http://localhost:8080/x", "http://a.internal.example/x", "http://mirror.example/x", "http://deb.mirror.example/x"] {
            #expect(HTTPFetcher.Proxy.forURL(exempt, environment: environment) == nil, "\(exempt)")
        }
        #expect(HTTPFetcher.Proxy.forURL("http://deb.debian.org/", environment: [:]) == nil)
        #expect(HTTPFetcher.Proxy.forURL("http://deb.debian.org/", environment: ["http_proxy": "p:1", "no_proxy": "*"]) == nil)
    }

    @Test("only http and https URLs are fetched")
    func schemes() async throws {
        for url in ["ftp://deb.debian.org/debian", "file:///etc/passwd", "deb.debian.org/debian", "http://"] {
            await #expect(throws: RepositoryError.network(url: url, reason: "not an http(s) URL")) { try await HTTPFetcher(attempts: 1).fetch(url) }
        }
    }
}
