import Archive
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import OCI

/// Settings shared by every registry of a session.
public struct RegistryOptions: Sendable {
    /// Hosts (host[:port]) reached over plain HTTP when they do not speak TLS. Loopback always may.
    public var insecureHosts: Set<String> = []
    /// Extra CA certificates (PEM files) trusted for TLS, besides the system's.
    public var caCertificates: [String] = []
    public var retry = RetryPolicy()
    /// Blobs moved at once.
    public var parallelTransfers = 4
    /// Blobs up to this size go up in one PUT; larger ones in chunks of `chunkSize`.
    public var monolithicLimit: Int64 = 32 << 20
    public var chunkSize: Int64 = 32 << 20
    /// Where stored credentials come from.
    public var dockerConfig = DockerConfig()
    /// Credentials given directly (they win over the Docker config), by registry host.
    public var credentials: [String: Credential] = [:]

    public init() {}
}

/// The largest manifest or index accepted (distribution's own limit is 4 MiB).
let manifestLimit = 4 << 20

/// Every manifest type Harden reads.
let manifestAccept = [MediaType.imageIndex, MediaType.imageManifest, MediaType.dockerManifestList, MediaType.dockerManifest].joined(separator: ", ")

/// A manifest or index as the registry stored it: the exact bytes, their type and digest.
public struct FetchedManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String
    public var digest: Digest
    public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count)) }
}

/// How a blob reached the registry.
public enum BlobPushOutcome: Sendable, Equatable {
    /// It was there already (HEAD answered).
    case existed
    /// Mounted from another repository of the same registry.
    case mounted
    /// Uploaded: bytes sent, how many times a chunked upload resumed and how often it started over.
    case uploaded(bytes: Int64, resumed: Int, restarted: Int)
}

/// One registry (host[:port]), spoken to over the OCI distribution API: ping, auth (anonymous,
/// Basic, bearer tokens cached per scope), blobs up and down, manifests, referrers.
public final class RegistryClient: Sendable {
    /// The registry as references name it (`docker.io`, `127.0.0.1:5000`).
    public let registry: String
    /// The host requests go to (`registry-1.docker.io` for `docker.io`).
    let host: String
    let transport: Transport
    let options: RegistryOptions
    let credential: Credential?
    let tokens = TokenStore()
    private let endpoint = Endpoint()

    init(registry: String, transport: Transport, options: RegistryOptions) throws {
        self.registry = registry
        host = registry == RegistryReference.defaultRegistry ? "registry-1.docker.io" : registry
        self.transport = transport
        self.options = options
        credential = try options.credentials[registry] ?? options.dockerConfig.credential(for: registry)
    }

    /// Whether plain HTTP may be used for `host`: loopback, or named as insecure.
    static func allowsPlainHTTP(_ host: String, insecure: Set<String>) -> Bool {
        if insecure.contains(host) { return true }
        var name = Substring(host)
        if name.hasPrefix("[") { name = name.dropFirst().prefix { $0 != "]" } } else if let colon = name.lastIndex(of: ":") { name = name[..<colon] }
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }

    // MARK: Endpoint and ping

    /// The scheme and host once found: https, or http for loopback/insecure hosts without TLS.
    private actor Endpoint {
        var base: String?
        func set(_ value: String) { base = value }
    }

    /// `https://host` or `http://host`, found by pinging `/v2/` (which also learns the auth
    /// scheme). Loopback is tried over plain HTTP first (a TLS registry answers that with 400
    /// at once); other hosts over TLS, and over HTTP only when named insecure.
    func baseURL() async throws -> String {
        if let base = await endpoint.base { return base }
        let secure = "https://\(host)", plain = "http://\(host)"
        if Self.allowsPlainHTTP(registry, insecure: []) {
            if (try? await ping(plain, probing: true)) != nil {
                await endpoint.set(plain)
                return plain
            }
            try await ping(secure, probing: false)
            await endpoint.set(secure)
            return secure
        }
        do {
            try await ping(secure, probing: false)
            await endpoint.set(secure)
            return secure
        } catch let error as RegistryError {
            guard case .connection(let why) = error.reason, why.hasPrefix("TLS failed") else { throw error }
            guard options.insecureHosts.contains(registry) else {
                throw RegistryError(registry: registry, step: error.step, reason: .connection(
                    "\(why) (a registry without TLS must be named with --insecure-registry \(registry); for a private CA, --registry-ca FILE)"))
            }
            try await ping(plain, probing: false)
            await endpoint.set(plain)
            return plain
        }
    }

    /// GET /v2/: 200, or 401 with the challenge to answer. A probe tries once and accepts only
    /// an answer that is plainly a registry's.
    private func ping(_ base: String, probing: Bool) async throws {
        let step = "pinging \(base)/v2/"
        let response: HTTPClientResponse
        do {
            response = try await transport.send(Outgoing(method: .GET, url: base + "/v2/"), attempts: probing ? 1 : nil)
        } catch {
            throw RegistryError(registry: registry, step: step, reason: .connection(Self.describe(error)))
        }
        let status = Int(response.status.code)
        _ = try? await response.bytes(limit: 1 << 16)
        if status == 401, let header = response.headers.first(name: "WWW-Authenticate"), let challenge = AuthChallenge(header: header) {
            await tokens.learn(challenge)
            return
        }
        guard status == 200 else {
            throw RegistryError(registry: registry, step: step, reason: .status(status, codes: [], message: "not an OCI distribution registry"))
        }
    }

    static func describe(_ error: Error) -> String {
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return "connection refused (nothing listens there)" }
        if error is SocketAddressError { return "the host name does not resolve (\(error))" }
        if isTLSFailure(error) { return "TLS failed: \(error)" }
        if let client = error as? HTTPClientError { return "\(client)" }
        return String(describing: error)
    }

    static func isTLSFailure(_ error: Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }

    // MARK: Requests with auth

    /// Sends a request under `scope`: authorizes it from what the registry's challenge asked,
    /// answers a 401 once with fresh credentials, and retries transient failures.
    func send(_ method: HTTPMethod, _ target: String, headers: HTTPHeaders = [:], body: RequestBody = .none,
              scope: AccessScope, step: String, attempts: Int? = nil) async throws -> HTTPClientResponse {
        let url = try await self.url(target)
        var request = Outgoing(method: method, url: url, headers: headers, body: body)
        // An upload Location on another host gets no credentials: they are this registry's.
        guard Transport.origin(of: url) == Transport.origin(of: try await baseURL()) else {
            return try await exchange(request, step: step, attempts: attempts)
        }
        if let authorization = try await authorization(for: scope, step: step, fresh: false) {
            request.headers.replaceOrAdd(name: "Authorization", value: authorization)
        }
        var response = try await exchange(request, step: step, attempts: attempts)
        guard response.status == .unauthorized else { return response }
        _ = try? await response.bytes(limit: 1 << 16)
        guard let header = response.headers.first(name: "WWW-Authenticate"), let challenge = AuthChallenge(header: header) else {
            throw RegistryError(registry: registry, step: step, reason: .status(401, codes: ["UNAUTHORIZED"], message: "no WWW-Authenticate challenge"))
        }
        await tokens.learn(challenge)
        let wanted = scope.adding(challenge: challenge.scope)
        guard let authorization = try await authorization(for: wanted, step: step, fresh: true) else {
            throw RegistryError(registry: registry, step: step, reason: .credentialsRequired(scheme: challenge.scheme))
        }
        request.headers.replaceOrAdd(name: "Authorization", value: authorization)
        response = try await exchange(request, step: step, attempts: attempts)
        // A fresh token can expire before the registry sees it (a slow link, a loaded machine that
        // read the token server's answer late): it is bought again, twice at most, before the
        // refusal is believed.
        var renewals = 0
        while response.status == .unauthorized, challenge.scheme == "bearer", renewals < 2,
              let renewed = try await self.authorization(for: wanted, step: step, fresh: true) {
            _ = try? await response.bytes(limit: 1 << 16)
            renewals += 1
            request.headers.replaceOrAdd(name: "Authorization", value: renewed)
            response = try await exchange(request, step: step, attempts: attempts)
        }
        if response.status == .unauthorized {
            _ = try? await response.bytes(limit: 1 << 16)
            await tokens.forget(wanted)
            let who = credential.map { "as \($0.username)" } ?? "anonymously"
            let what = challenge.scheme == "bearer" ? "the registry refused the token it was given \(who) (expired, or without access to \(wanted))"
                : "\(who) (wrong user name or password?)"
            throw RegistryError(registry: registry, step: step, reason: .credentialsRefused(what))
        }
        return response
    }

    /// `target` as a full URL: a path is joined to the registry's base URL.
    func url(_ target: String) async throws -> String {
        target.hasPrefix("http://") || target.hasPrefix("https://") ? target : try await baseURL() + target
    }

    private func exchange(_ request: Outgoing, step: String, attempts: Int?) async throws -> HTTPClientResponse {
        do {
            return try await transport.send(request, attempts: attempts)
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(registry: registry, step: step, reason: .connection(Self.describe(error)))
        }
    }

    /// The `Authorization` value for `scope` under the challenge learned so far (nil: anonymous).
    private func authorization(for scope: AccessScope, step: String, fresh: Bool) async throws -> String? {
        guard let challenge = await tokens.challenge else { return nil }
        switch challenge.scheme {
        case "basic":
            guard let credential else {
                if fresh { throw RegistryError(registry: registry, step: step, reason: .credentialsRequired(scheme: "Basic")) }
                return nil
            }
            return "Basic " + Data("\(credential.username):\(credential.secret)".utf8).base64EncodedString()
        case "bearer":
            let key = scope.adding(challenge: fresh ? challenge.scope : nil)
            let token = try await tokens.token(for: key, fresh: fresh) { [self] in
                try await fetchToken(challenge, scope: key, step: step)
            }
            return "Bearer " + token
        default:
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("unsupported auth scheme '\(challenge.scheme)'"))
        }
    }

    /// Buys a token from the challenge's realm: GET with Basic credentials (or none), or the
    /// OAuth2 refresh-token POST when the credential is an identity token.
    private func fetchToken(_ challenge: AuthChallenge, scope: AccessScope, step: String) async throws -> (token: String, lifetime: Int) {
        guard let realm = challenge.realm, var components = URLComponents(string: realm),
              let realmHost = components.host, let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http" else {
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("bearer challenge without a usable realm"))
        }
        let realmStep = "fetching a token from \(realm) for \(scope.description.isEmpty ? "the registry" : scope.description)"
        let realmAuthority = components.port.map { "\(realmHost):\($0)" } ?? realmHost
        if scheme == "http" && credential != nil
            && !Self.allowsPlainHTTP(realmAuthority, insecure: options.insecureHosts.union([registry])) {
            throw RegistryError(registry: registry, step: realmStep, reason: .protocolViolation("the token realm is plain HTTP; credentials are not sent there"))
        }
        var request: Outgoing
        if let identity = credential?.identityToken {
            var form = URLComponents()
            form.queryItems = [URLQueryItem(name: "grant_type", value: "refresh_token"), URLQueryItem(name: "refresh_token", value: identity),
                               URLQueryItem(name: "client_id", value: "harden"), URLQueryItem(name: "service", value: challenge.service ?? "")]
                + (scope.scopes.isEmpty ? [] : [URLQueryItem(name: "scope", value: scope.description)])
            request = Outgoing(method: .POST, url: realm, headers: ["Content-Type": "application/x-www-form-urlencoded"],
                               body: .bytes(Array((form.percentEncodedQuery ?? "").utf8)))
        } else {
            var items = components.queryItems ?? []
            if let service = challenge.service { items.append(URLQueryItem(name: "service", value: service)) }
            items += scope.scopes.map { URLQueryItem(name: "scope", value: $0) }
            if let credential { items.append(URLQueryItem(name: "account", value: credential.username)) }
            components.queryItems = items
            request = Outgoing(method: .GET, url: components.string ?? realm)
            if let credential {
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(credential.username):\(credential.secret)".utf8).base64EncodedString())
            }
        }
        let response = try await exchange(request, step: realmStep, attempts: nil)
        let status = Int(response.status.code)
        let body = try await response.bytes(limit: 1 << 20)
        if status == 401 || status == 403 {
            let who = credential.map { "user \($0.username)" } ?? "an anonymous request"
            throw RegistryError(registry: registry, step: realmStep, reason: .credentialsRefused("the token server refused \(who) (HTTP \(status))"))
        }
        guard status == 200 else { throw Self.statusError(registry: registry, step: realmStep, status: status, body: body) }
        guard let answer = try? JSONDecoder().decode(TokenResponse.self, from: Data(body)),
              let token = answer.token ?? answer.access_token, !token.isEmpty else {
            throw RegistryError(registry: registry, step: realmStep, reason: .protocolViolation("the token server's answer holds no token"))
        }
        // The spec's default lifetime is 60 s; honour shorter ones too.
        return (token, answer.expires_in.map { max(0, $0) } ?? 60)
    }

    /// Checks that the registry accepts this client's credentials: a token for the registry
    /// itself is bought, or `/v2/` answers Basic auth.
    public func checkCredentials() async throws {
        let step = "logging in"
        _ = try await baseURL()
        guard let challenge = await tokens.challenge else { return }
        if challenge.scheme == "bearer" {
            _ = try await tokens.token(for: AccessScope(), fresh: true) { [self] in
                try await fetchToken(challenge, scope: AccessScope(), step: step)
            }
            return
        }
        let response = try await send(.GET, "/v2/", scope: AccessScope(), step: step)
        try await expect(response, [200], step: step)
        _ = try? await response.bytes(limit: 1 << 16)
    }

    /// Tokens bought so far in this session (for tests and progress).
    public func tokensFetched() async -> Int { await tokens.issued }

    // MARK: Answers

    /// Throws unless the response status is one of `expected`, with the registry's error codes.
    func expect(_ response: HTTPClientResponse, _ expected: Set<Int>, step: String) async throws {
        let status = Int(response.status.code)
        guard !expected.contains(status) else { return }
        let body = (try? await response.bytes(limit: 1 << 16)) ?? []
        throw Self.statusError(registry: registry, step: step, status: status, body: body)
    }

    static func statusError(registry: String, step: String, status: Int, body: [UInt8]) -> RegistryError {
        struct Errors: Decodable { struct Entry: Decodable { var code: String?; var message: String? }; var errors: [Entry]? }
        let parsed = try? JSONDecoder().decode(Errors.self, from: Data(body))
        let codes = parsed?.errors?.compactMap(\.code) ?? []
        var message = parsed?.errors?.compactMap(\.message).joined(separator: "; ") ?? ""
        if parsed == nil { message = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        return RegistryError(registry: registry, step: step, reason: .status(status, codes: codes, message: message))
    }

    /// The `Location` of an answer, resolved against the request URL.
    func location(_ response: HTTPClientResponse, relativeTo url: String, step: String) throws -> String {
        guard let value = response.headers.first(name: "Location"), let resolved = Transport.resolve(value, against: url) else {
            throw RegistryError(registry: registry, step: step, reason: .protocolViolation("no Location header"))
        }
        return resolved
    }

    /// Checks a `Docker-Content-Digest` the registry returned against what was sent.
    func checkDigest(_ response: HTTPClientResponse, expected: Digest, step: String) throws {
        guard let value = response.headers.first(name: "Docker-Content-Digest") else { return }
        guard value == expected.description else {
            throw RegistryError(registry: registry, step: step, reason: .digestMismatch(expected: expected.description, actual: value))
        }
    }
}
