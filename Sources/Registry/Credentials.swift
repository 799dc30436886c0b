import Archive
import Foundation
import OCI

/// A username and secret for a registry. The secret never appears in `description`.
public struct Credential: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var secret: String
    /// An OAuth2 refresh token (Docker's `identitytoken`), used instead of the password for tokens.
    public var identityToken: String?

    public init(username: String, secret: String, identityToken: String? = nil) {
        self.username = username
        self.secret = secret
        self.identityToken = identityToken
    }

    public var description: String { "credential for \(username)" }
}

/// Docker's client configuration (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
/// `auths` with base64 `user:password`, `credsStore` and `credHelpers` naming `docker-credential-*`
/// programs. Harden reads and writes the same file, so `docker login` and `harden login` agree.
public struct DockerConfig: Sendable {
    /// The config file.
    public let path: String

    /// Docker's default location.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty { return dir + "/config.json" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.docker/config.json"
    }

    public init(path: String = DockerConfig.defaultPath()) {
        self.path = path
    }

    /// The key Docker uses for Docker Hub in `auths`.
    static let dockerHubKey = "https://index.docker.io/v1/"

    /// The credential for `registry` (a host[:port]), from a credential helper or `auths`; nil
    /// when there is none.
    public func credential(for registry: String) throws -> Credential? {
        let document = try load()
        if let helper = document.helper(for: registry) {
            return try CredentialHelper(name: helper).get(serverURL: Self.serverKey(registry))
        }
        guard let entry = document.authEntry(for: registry) else { return nil }
        if let token = entry["identitytoken"] as? String, !token.isEmpty {
            return Credential(username: (entry["username"] as? String) ?? "<token>", secret: "", identityToken: token)
        }
        if let auth = entry["auth"] as? String, !auth.isEmpty {
            guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
                  let colon = text.firstIndex(of: ":") else {
                throw storeError(registry, "the 'auth' entry for \(registry) in \(path) is not base64 of user:password")
            }
            return Credential(username: String(text[..<colon]), secret: String(text[text.index(after: colon)...]))
        }
        if let user = entry["username"] as? String, let password = entry["password"] as? String {
            return Credential(username: user, secret: password)
        }
        return nil
    }

    /// Saves `credential` for `registry`: in the credential helper when one is configured, else
    /// in `auths` (file mode 0600, written atomically). Returns where it went.
    @discardableResult
    public func store(_ credential: Credential, for registry: String) throws -> String {
        var document = try load()
        if let helper = document.helper(for: registry) {
            try CredentialHelper(name: helper).store(serverURL: Self.serverKey(registry), credential: credential)
            return "docker-credential-\(helper)"
        }
        var auths = document.json["auths"] as? [String: Any] ?? [:]
        for key in auths.keys where Self.normalize(key) == Self.normalize(registry) { auths.removeValue(forKey: key) }
        let pair = Data("\(credential.username):\(credential.secret)".utf8).base64EncodedString()
        auths[Self.serverKey(registry)] = ["auth": pair]
        document.json["auths"] = auths
        try save(document)
        return path
    }

    /// Removes the credential for `registry`; returns whether there was one.
    @discardableResult
    public func erase(for registry: String) throws -> Bool {
        var document = try load()
        if let helper = document.helper(for: registry) {
            return try CredentialHelper(name: helper).erase(serverURL: Self.serverKey(registry))
        }
        guard var auths = document.json["auths"] as? [String: Any] else { return false }
        let keys = auths.keys.filter { Self.normalize($0) == Self.normalize(registry) }
        guard !keys.isEmpty else { return false }
        for key in keys { auths.removeValue(forKey: key) }
        document.json["auths"] = auths
        try save(document)
        return true
    }

    // MARK: The file

    struct Document {
        var json: [String: Any]

        func helper(for registry: String) -> String? {
            if let helpers = json["credHelpers"] as? [String: Any] {
                for (key, value) in helpers where DockerConfig.normalize(key) == DockerConfig.normalize(registry) {
                    if let name = value as? String, !name.isEmpty { return name }
                }
            }
            if let store = json["credsStore"] as? String, !store.isEmpty { return store }
            return nil
        }

        func authEntry(for registry: String) -> [String: Any]? {
            guard let auths = json["auths"] as? [String: Any] else { return nil }
            let wanted = DockerConfig.normalize(registry)
            return auths.first { DockerConfig.normalize($0.key) == wanted }?.value as? [String: Any]
        }
    }

    func load() throws -> Document {
        guard FileSystem.exists(path) else { return Document(json: [:]) }
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path, limit: 4 << 20) } catch {
            throw storeError("", "cannot read \(path): \(error)")
        }
        if bytes.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) { return Document(json: [:]) }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw storeError("", "\(path) is not a JSON object")
        }
        return Document(json: json)
    }

    func save(_ document: Document) throws {
        do {
            try FileSystem.createDirectory(FileSystem.parentPath(path), mode: 0o700)
            let data = try JSONSerialization.data(withJSONObject: document.json, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try FileSystem.writeAtomically(path, bytes: Array(data), mode: 0o600)
        } catch {
            throw storeError("", "cannot write \(path): \(error)")
        }
    }

    private func storeError(_ registry: String, _ message: String) -> RegistryError {
        RegistryError(registry: registry.isEmpty ? "(any)" : registry, step: "reading credentials", reason: .credentialStore(message))
    }

    /// What a config key or server URL names: the host[:port], Docker Hub's aliases folded.
    static func normalize(_ key: String) -> String {
        var host = Substring(key)
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) { host = host.dropFirst(scheme.count) }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        let lowered = host.lowercased()
        return ["index.docker.io", "registry-1.docker.io", "docker.io"].contains(lowered) ? "docker.io" : lowered
    }

    /// The key Docker writes for `registry`.
    static func serverKey(_ registry: String) -> String {
        normalize(registry) == "docker.io" ? dockerHubKey : registry
    }
}

/// A Docker credential helper: the program `docker-credential-NAME` with `get`, `store` and
/// `erase`, speaking JSON on standard input and output.
public struct CredentialHelper: Sendable {
    public let name: String

    public init(name: String) { self.name = name }

    var program: String { "docker-credential-" + name }

    /// The credential for `serverURL`, or nil when the helper has none.
    public func get(serverURL: String) throws -> Credential? {
        let result = try run(["get"], input: Array(serverURL.utf8))
        guard result.status == 0 else {
            // Helpers say "credentials not found in native keychain" for an unknown server.
            if result.output.lowercased().contains("not found") { return nil }
            throw failure("get", result)
        }
        struct Answer: Decodable { var Username: String?; var Secret: String? }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(result.output.utf8)), let secret = answer.Secret else {
            throw RegistryError(registry: serverURL, step: "\(program) get", reason: .credentialStore("the helper's answer is not {\"Username\",\"Secret\"} JSON"))
        }
        let user = answer.Username ?? ""
        return user == "<token>" ? Credential(username: user, secret: "", identityToken: secret) : Credential(username: user, secret: secret)
    }

    /// Stores `credential` for `serverURL`.
    public func store(serverURL: String, credential: Credential) throws {
        let body: [String: String] = ["ServerURL": serverURL, "Username": credential.username, "Secret": credential.secret]
        let input = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let result = try run(["store"], input: Array(input))
        guard result.status == 0 else { throw failure("store", result) }
    }

    /// Erases the credential for `serverURL`; false when it had none.
    public func erase(serverURL: String) throws -> Bool {
        let result = try run(["erase"], input: Array(serverURL.utf8))
        if result.status == 0 { return true }
        if result.output.lowercased().contains("not found") { return false }
        throw failure("erase", result)
    }

    private func failure(_ verb: String, _ result: (status: Int32, output: String)) -> RegistryError {
        // The helper's output is shown, never the input (which may hold the secret).
        let said = result.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300)
        return RegistryError(registry: "credential helper", step: "\(program) \(verb)",
                             reason: .credentialStore("exited \(result.status)\(said.isEmpty ? "" : ": \(said)")"))
    }

    private func run(_ arguments: [String], input: [UInt8]) throws -> (status: Int32, output: String) {
        guard let executable = Self.find(program) else {
            throw RegistryError(registry: "credential helper", step: "running \(program)",
                                reason: .credentialStore("\(program) is not on PATH (named by credsStore/credHelpers in the Docker config)"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        // Small input: write all, close, then read to the end (output is small too).
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data.prefix(1 << 20), as: UTF8.self))
    }

    static func find(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

extension RegistryReference {
    /// A registry as users type it (`https://index.docker.io/v1/`, `Localhost:5000/`) as
    /// references name it (`docker.io`, `localhost:5000`).
    public static func normalizedRegistry(_ server: String) -> String { DockerConfig.normalize(server) }
}
