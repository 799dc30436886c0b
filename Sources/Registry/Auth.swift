import Foundation

/// A `WWW-Authenticate` challenge: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
public struct AuthChallenge: Sendable, Equatable {
    public var scheme: String
    public var parameters: [String: String]

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// Parses the first challenge in a header value (auth-params with quoted strings and escapes).
    public init?(header: String) {
        let text = Array(header.utf8)
        var i = 0
        func skipSpace() { while i < text.count, text[i] == 32 || text[i] == 9 { i += 1 } }
        func token() -> String {
            let start = i
            while i < text.count, text[i] != 32, text[i] != 9, text[i] != 61, text[i] != 44 { i += 1 }
            return String(decoding: text[start..<i], as: UTF8.self)
        }
        skipSpace()
        let scheme = token()
        guard !scheme.isEmpty else { return nil }
        self.scheme = scheme.lowercased()
        var parameters: [String: String] = [:]
        while i < text.count {
            skipSpace()
            while i < text.count, text[i] == 44 { i += 1; skipSpace() }
            let name = token().lowercased()
            skipSpace()
            guard !name.isEmpty, i < text.count, text[i] == 61 else { break }
            i += 1
            skipSpace()
            var value: [UInt8] = []
            if i < text.count, text[i] == 34 {
                i += 1
                while i < text.count, text[i] != 34 {
                    if text[i] == 92, i + 1 < text.count { i += 1 }
                    value.append(text[i])
                    i += 1
                }
                i += 1
            } else {
                while i < text.count, text[i] != 44, text[i] != 32 { value.append(text[i]); i += 1 }
            }
            parameters[name] = String(decoding: value, as: UTF8.self)
        }
        self.parameters = parameters
    }
}

/// What a request needs access to: `repository:NAME:ACTIONS` scopes, in a stable order.
public struct AccessScope: Sendable, Hashable, CustomStringConvertible {
    public private(set) var scopes: [String]

    public init(_ scopes: [String] = []) { self.scopes = Array(Set(scopes)).sorted() }

    public static func pull(_ repository: String) -> AccessScope { AccessScope(["repository:\(repository):pull"]) }
    public static func push(_ repository: String) -> AccessScope { AccessScope(["repository:\(repository):pull,push"]) }

    /// This scope with `other`'s added.
    public func adding(_ other: AccessScope) -> AccessScope { AccessScope(scopes + other.scopes) }

    /// Adds the challenge's scope (space-separated), so the token covers what the registry asked for.
    func adding(challenge: String?) -> AccessScope {
        guard let challenge else { return self }
        return AccessScope(scopes + challenge.split(separator: " ").map(String.init))
    }

    public var description: String { scopes.joined(separator: " ") }
}

/// Bearer tokens bought from a registry's token server, cached per scope until they expire
/// (one purchase at a time per scope, however many transfers ask), and the registry's auth
/// scheme as learned from its challenges.
actor TokenStore {
    struct Cached { var token: String; var expires: ContinuousClock.Instant }
    private var tokens: [AccessScope: Cached] = [:]
    private var inFlight: [AccessScope: Task<String, Error>] = [:]
    private(set) var challenge: AuthChallenge?
    private(set) var issued = 0

    func learn(_ challenge: AuthChallenge) { self.challenge = challenge }

    /// The token for `scope`: cached unless it is about to expire (or `fresh`), else
    /// bought with `fetch` (which returns the token and its lifetime in seconds).
    func token(for scope: AccessScope, fresh: Bool, fetch: @escaping @Sendable () async throws -> (String, Int)) async throws -> String {
        if fresh { tokens[scope] = nil }
        if let cached = tokens[scope], cached.expires > ContinuousClock.now { return cached.token }
        if let running = inFlight[scope] { return try await running.value }
        let task = Task<String, Error> {
            let (token, lifetime) = try await fetch()
            // Renewed a little early: 5 s before the end, or at 80% of a short lifetime.
            let margin = min(Duration.seconds(5), Duration.milliseconds(lifetime * 200))
            tokens[scope] = Cached(token: token, expires: ContinuousClock.now + .seconds(lifetime) - margin)
            issued += 1
            return token
        }
        inFlight[scope] = task
        defer { inFlight[scope] = nil }
        return try await task.value
    }

    func forget(_ scope: AccessScope) { tokens[scope] = nil }
}

/// A token server's answer.
struct TokenResponse: Decodable {
    var token: String?
    var access_token: String?
    var expires_in: Int?
}
