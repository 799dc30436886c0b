import Archive
import ContainerRuntime
import Foundation

// Real registries for the registry client's tests: docker-registry (distribution 2.8) with anonymous,
// htpasswd or token auth and optional TLS, the token server and the fault-injecting proxy of Tests/Harness.

/// Tests/Harness, found from this file's own path (Tests/TestSupport/RegistryHarness.swift).
private let harnessDirectory = FileSystem.parentPath(FileSystem.parentPath(#filePath)) + "/Harness"

/// A harness script by name, or an error saying where it was looked for.
func harnessScript(_ name: String) throws -> String {
    let path = harnessDirectory + "/" + name
    guard FileSystem.exists(path) else { throw TestSetupError(description: "registry harness script \(path) is missing") }
    return path
}

/// A whole file as text ("" when unreadable).
private func readText(_ path: String) -> String {
    (try? FileSystem.read(path, limit: 1 << 30)).map { String(decoding: $0, as: UTF8.self) } ?? ""
}

/// A YAML scalar for any string (a JSON string literal is valid YAML, unless it escapes "/").
private func yamlQuoted(_ value: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// A random hex string of `bytes` bytes.
private func randomHex(_ bytes: Int) -> String {
    (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}

/// A long-running child of the harness that listens on a loopback port, with its output in a log file.
/// Started with `posix_spawn` (not Foundation's `Process`), so this object alone reaps it: killed
/// with SIGKILL and reaped on release. (Reaping a `Process` child behind Foundation's back races with
/// its exit monitor, which then blocks in `waitpid` on whatever process reuses the pid.) It keeps
/// `workDirectory` alive until then, so the directory is removed only once the process is gone.
final class HarnessProcess: @unchecked Sendable {
    let port: Int
    let logPath: String
    private let pid: pid_t
    private let workDirectory: TemporaryDirectory

    private init(port: Int, logPath: String, pid: pid_t, workDirectory: TemporaryDirectory) {
        self.port = port
        self.logPath = logPath
        self.pid = pid
        self.workDirectory = workDirectory
    }

    deinit { HostProcess.kill(pid) }

    /// Whether the process is still running (a zombie, not yet reaped, is not).
    private var isRunning: Bool { isAlive(pid) }

    /// The process's output so far.
    func log() -> String { readText(logPath) }

    /// Starts `executable` with `arguments(port)` on random ports in 20000–60000 until one is free, and
    /// waits until the log says "listening on 127.0.0.1:PORT" and the port accepts connections.
    /// Other startup failures throw at once with the process's log.
    static func start(_ name: String, executable: String, arguments: (Int) -> [String],
                      logPath: String, workDirectory: TemporaryDirectory) throws -> HarnessProcess {
        var lastLog = ""
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        for _ in 0..<20 {
            let port = Int.random(in: 20_000...60_000)
            if LocalHTTPServer.canConnect(port: port) { continue }  // someone else's
            let output = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard output >= 0 else { throw TestSetupError(description: "cannot create \(logPath): errno \(errno)") }
            let pid: pid_t
            do {
                pid = try HostProcess.spawn(executable, arguments(port), stdout: output, stderr: output, environment: environment)
            } catch {
                close(output)
                throw TestSetupError(description: "\(name) could not be started: \(error)")
            }
            close(output)
            let started = HarnessProcess(port: port, logPath: logPath, pid: pid, workDirectory: workDirectory)
            let ready = "listening on 127.0.0.1:\(port)"
            for _ in 0..<300 {  // 15 s
                if !started.isRunning { break }
                if readText(logPath).contains(ready) && LocalHTTPServer.canConnect(port: port) { return started }
                usleep(50_000)
            }
            let running = started.isRunning
            lastLog = readText(logPath)
            if !running && lastLog.lowercased().contains("address already in use") { continue }  // port taken: next
            throw TestSetupError(description: running
                ? "\(name) did not start listening on 127.0.0.1:\(port) within 15 s; its log:\n\(lastLog)"
                : "\(name) exited during startup; its log:\n\(lastLog)")
        }
        throw TestSetupError(description: "\(name) found no free port in 20 attempts; last log:\n\(lastLog)")
    }
}

/// A real docker-registry (distribution 2.8) on a random loopback port, stopped on release.
public final class TestRegistry: @unchecked Sendable {
    /// How clients authenticate.
    public enum Auth: Sendable {
        /// No authentication.
        case anonymous
        /// HTTP Basic against an htpasswd file made with `htpasswd -Bbn` (realm "harden-test"; works over plain HTTP).
        case basic(user: String, password: String)
        /// Bearer tokens from a token server (Tests/Harness/token_server.py) on its own loopback port; the challenge is
        /// `Bearer realm="<tokenServer>/token",service="harden-registry"`. Tokens last `ttl` seconds: the
        /// registry stops accepting one between `ttl` and `ttl + 1` seconds after it was issued (the server
        /// compensates distribution's 60 s clock-skew leeway), and `expires_in` is `ttl`.
        case token(user: String, password: String, ttl: Int)
    }

    /// "127.0.0.1:PORT"
    public let host: String
    /// The registry's storage directory.
    public let storage: String
    /// With tls: a PEM CA certificate that signed the registry's certificate (SAN IP:127.0.0.1 and DNS:localhost); nil otherwise.
    public let caCertificate: String?
    /// With tls: the path of a file holding `caCertificate` (for `curl --cacert` and the like); nil otherwise.
    public let caCertificatePath: String?
    /// With token auth: the token server's base URL; nil otherwise.
    public let tokenServer: String?

    private let registry: HarnessProcess
    private let tokenProcess: HarnessProcess?
    private let tokenLogPath: String?

    /// Starts the registry (and with `.token` its token server), waiting until it accepts connections.
    public init(auth: Auth = .anonymous, tls: Bool = false) throws {
        let registryTool = try requireTool("docker-registry")
        let directory = try TemporaryDirectory()
        let root = directory.path
        storage = root + "/storage"
        try FileSystem.createDirectory(storage)

        var authYAML = ""
        var tokenProcess: HarnessProcess?
        var tokenLogPath: String?
        switch auth {
        case .anonymous:
            break
        case .basic(let user, let password):
            let line = try runChecked("htpasswd", ["-Bbn", user, password])
            let file = try directory.write("htpasswd", Array(line.utf8))
            authYAML = """
            auth:
              htpasswd:
                realm: harden-test
                path: \(yamlQuoted(file))

            """
        case .token(let user, let password, let ttl):
            let python = try requireTool("python3")
            let script = try harnessScript("token_server.py")
            let keys = root + "/token"
            try runChecked(python, [script, "init", keys])
            let requestLog = root + "/token-requests.jsonl"
            _ = FileManager.default.createFile(atPath: requestLog, contents: nil)
            let server = try HarnessProcess.start(
                "token server", executable: python,
                arguments: { port in
                    [script, "serve", keys, "--port", String(port), "--user", "\(user):\(password)", "--ttl", String(ttl),
                     "--issuer", "harden-test-issuer", "--service", "harden-registry", "--log", requestLog,
                     "--registry-leeway", "60"]
                },
                logPath: root + "/token-server.log", workDirectory: directory)
            tokenProcess = server
            tokenLogPath = requestLog
            authYAML = """
            auth:
              token:
                realm: \(yamlQuoted("http://127.0.0.1:\(server.port)/token"))
                service: harden-registry
                issuer: harden-test-issuer
                rootcertbundle: \(yamlQuoted(keys + "/cert.pem"))

            """
        }
        self.tokenProcess = tokenProcess
        self.tokenLogPath = tokenLogPath
        tokenServer = tokenProcess.map { "http://127.0.0.1:\($0.port)" }

        var tlsYAML = ""
        if tls {
            let dir = root + "/tls"
            try TestRegistry.makeCertificates(in: dir)
            caCertificatePath = dir + "/ca.pem"
            caCertificate = readText(dir + "/ca.pem")
            tlsYAML = """
              tls:
                certificate: \(yamlQuoted(dir + "/server.pem"))
                key: \(yamlQuoted(dir + "/server-key.pem"))

            """
        } else {
            caCertificatePath = nil
            caCertificate = nil
        }

        let secret = randomHex(16)
        let storageRoot = storage
        let configFor: (Int) -> String = { port in
            """
            version: 0.1
            log:
              level: info
              formatter: text
            storage:
              filesystem:
                rootdirectory: \(yamlQuoted(storageRoot))
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:\(port)
              secret: \(secret)
            \(tlsYAML)\(authYAML)
            """
        }
        registry = try HarnessProcess.start(
            "docker-registry", executable: registryTool,
            arguments: { port in
                let config = root + "/config-\(port).yml"
                _ = FileManager.default.createFile(atPath: config, contents: Data(configFor(port).utf8))
                return ["serve", config]
            },
            logPath: root + "/registry.log", workDirectory: directory)
        host = "127.0.0.1:\(registry.port)"
    }

    /// With token auth: how many tokens the token server has issued so far (read from its log).
    public func tokensIssued() throws -> Int {
        guard let tokenLogPath else { return 0 }
        struct Entry: Decodable { var issued: Bool? }
        let text = try FileSystem.read(tokenLogPath, limit: 1 << 30)
        return try completeLines(text).reduce(0) { count, line in
            count + (try JSONDecoder().decode(Entry.self, from: Data(line)).issued == true ? 1 : 0)
        }
    }

    /// The registry's log (for failure messages); with token auth the token server's output follows it.
    public func log() -> String {
        var text = registry.log()
        if let tokenProcess {
            text += "\n--- token server ---\n" + tokenProcess.log()
            if let tokenLogPath { text += readText(tokenLogPath) }
        }
        return text
    }

    /// A CA (ECDSA P-256, CA:true) and a server certificate it signed for IP:127.0.0.1 and DNS:localhost:
    /// `dir`/ca.pem, `dir`/server.pem, `dir`/server-key.pem.
    private static func makeCertificates(in dir: String) throws {
        try FileSystem.createDirectory(dir)
        let script = """
        import datetime, ipaddress, os, sys
        from cryptography import x509
        from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        out = sys.argv[1]
        now = datetime.datetime.now(datetime.timezone.utc)
        def usage(**on):
            names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                     "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
            return x509.KeyUsage(**{n: on.get(n, False) for n in names})
        def save_key(path, key):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harden-test-ca")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                            x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(usage(digital_signature=True), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        save_key(os.path.join(out, "ca-key.pem"), ca_key)
        save_key(os.path.join(out, "server-key.pem"), key)
        with open(os.path.join(out, "ca.pem"), "wb") as f:
            f.write(ca.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(out, "server.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        """
        try runChecked("python3", ["-c", script, dir])
    }
}

/// An HTTP/1.1 proxy on loopback in front of `upstream` that answers some requests with errors,
/// drops connections mid-request, and logs every request. Rules are read from a file on every request.
///
/// Each request goes to the first rule that matches it and is not spent: while the rule is still skipping
/// the request is forwarded, then the rule acts `times` times. Everything else is forwarded unchanged
/// (the Host header too, so `Location`s the registry builds point at the proxy) on a fresh upstream
/// connection, with bodies streamed. Plain HTTP only (on both sides).
public final class FaultProxy: @unchecked Sendable {
    /// One fault. Encoded in the rules file as
    /// `{"method":"PUT","pathContains":"/blobs/uploads/","skip":0,"times":1,"action":{"kind":"status","status":503,"retryAfter":1}}`
    /// (`method`/`pathContains` left out when nil; actions `{"kind":"dropAfterBodyBytes","bytes":N}`, `{"kind":"dropResponse"}`).
    public struct Rule: Codable, Sendable {
        public enum Action: Codable, Sendable {
            /// Answer with this status (and Retry-After seconds if given) without forwarding, after reading the
            /// request body; JSON error body `{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}`.
            case status(Int, retryAfter: Int?)
            /// Forward the request head and the first N body bytes (payload bytes of a chunked body) upstream,
            /// let the upstream finish with that (up to 5 s), then close both connections without answering
            /// the client (N = 0: head only).
            case dropAfterBodyBytes(Int)
            /// Forward the whole request, read the upstream response, then close the client connection without relaying it.
            case dropResponse

            private enum CodingKeys: String, CodingKey { case kind, status, retryAfter, bytes }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                switch try container.decode(String.self, forKey: .kind) {
                case "status":
                    self = .status(try container.decode(Int.self, forKey: .status),
                                   retryAfter: try container.decodeIfPresent(Int.self, forKey: .retryAfter))
                case "dropAfterBodyBytes":
                    self = .dropAfterBodyBytes(try container.decode(Int.self, forKey: .bytes))
                case "dropResponse":
                    self = .dropResponse
                case let kind:
                    throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown action kind \(kind)")
                }
            }

            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                switch self {
                case .status(let status, let retryAfter):
                    try container.encode("status", forKey: .kind)
                    try container.encode(status, forKey: .status)
                    try container.encodeIfPresent(retryAfter, forKey: .retryAfter)
                case .dropAfterBodyBytes(let bytes):
                    try container.encode("dropAfterBodyBytes", forKey: .kind)
                    try container.encode(bytes, forKey: .bytes)
                case .dropResponse:
                    try container.encode("dropResponse", forKey: .kind)
                }
            }
        }

        /// The request method (case-insensitive); nil = any.
        public var method: String?
        /// A substring of the request target (path + query); nil = any.
        public var pathContains: String?
        /// Let this many matching requests through first.
        public var skip: Int
        /// Then act on this many matching requests (after that the rule is spent).
        public var times: Int
        public var action: Action

        public init(method: String? = nil, pathContains: String? = nil, skip: Int = 0, times: Int = 1, action: Action) {
            self.method = method
            self.pathContains = pathContains
            self.skip = skip
            self.times = times
            self.action = action
        }

        private enum CodingKeys: String, CodingKey { case method, pathContains, skip, times, action }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            method = try container.decodeIfPresent(String.self, forKey: .method)
            pathContains = try container.decodeIfPresent(String.self, forKey: .pathContains)
            skip = try container.decodeIfPresent(Int.self, forKey: .skip) ?? 0
            times = try container.decodeIfPresent(Int.self, forKey: .times) ?? 1
            action = try container.decode(Action.self, forKey: .action)
        }
    }

    /// One request as the proxy saw it (logged before the last byte of its answer reached the client).
    public struct LoggedRequest: Codable, Sendable, Equatable {
        public var method: String
        /// Path + query as sent.
        public var target: String
        /// Status relayed to the client; nil when the connection was dropped.
        public var status: Int?
        /// Request body bytes received from the client (payload bytes for chunked bodies).
        public var bodyBytes: Int
        /// "forward", "status", "dropAfterBodyBytes", "dropResponse"
        public var action: String

        public init(method: String, target: String, status: Int?, bodyBytes: Int, action: String) {
            self.method = method
            self.target = target
            self.status = status
            self.bodyBytes = bodyBytes
            self.action = action
        }
    }

    /// "127.0.0.1:PORT" of the proxy.
    public let host: String
    private let rulesPath: String
    private let logPath: String
    private let process: HarnessProcess

    /// Starts the proxy in front of `upstream` ("127.0.0.1:PORT") with no rules.
    public init(upstream: String) throws {
        let python = try requireTool("python3")
        let script = try harnessScript("fault_proxy.py")
        let directory = try TemporaryDirectory()
        let rulesPath = directory.path + "/rules.json", logPath = directory.path + "/requests.jsonl"
        try FileSystem.writeAtomically(rulesPath, bytes: Array("[]\n".utf8))
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = try HarnessProcess.start(
            "fault proxy", executable: python,
            arguments: { port in
                [script, "--listen-port", String(port), "--upstream", upstream, "--rules", rulesPath, "--log", logPath]
            },
            logPath: directory.path + "/proxy.log", workDirectory: directory)
        self.rulesPath = rulesPath
        self.logPath = logPath
        host = "127.0.0.1:\(process.port)"
    }

    /// Atomically rewrites the rules file; counters restart. The new file always gets a later mtime than the
    /// old one, so the proxy notices even an identical rewrite within one timestamp tick.
    public func setRules(_ rules: [Rule]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(rules)
        var old = stat()
        let hadOld = stat(rulesPath, &old) == 0
        let temp = FileSystem.temporaryName(beside: rulesPath)
        try FileSystem.writeAtomically(temp, bytes: Array(data) + [0x0A])
        var new = stat()
        if hadOld && stat(temp, &new) == 0
            && (new.st_mtim.tv_sec, new.st_mtim.tv_nsec) <= (old.st_mtim.tv_sec, old.st_mtim.tv_nsec) {
            var later = old.st_mtim
            later.tv_nsec += 1_000_000
            if later.tv_nsec >= 1_000_000_000 { later.tv_sec += 1; later.tv_nsec -= 1_000_000_000 }
            var times = [later, later]
            _ = utimensat(AT_FDCWD, temp, &times, 0)
        }
        try FileSystem.commit(temp, to: rulesPath)
    }

    /// Everything logged so far, in order.
    public func requests() throws -> [LoggedRequest] {
        let text = try FileSystem.read(logPath, limit: 1 << 30)
        let decoder = JSONDecoder()
        return try completeLines(text).map { try decoder.decode(LoggedRequest.self, from: Data($0)) }
    }

    /// Empties the request log.
    public func clearLog() throws {
        if truncate(logPath, 0) != 0 {
            throw TestSetupError(description: "cannot truncate \(logPath): \(String(cString: strerror(errno)))")
        }
    }

    /// The proxy's own output (startup and connection errors), for failure messages.
    public func log() -> String { process.log() }
}

/// The non-empty lines of `bytes` that are terminated by a newline (a line still being written is left out).
func completeLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    guard let end = bytes.lastIndex(of: 0x0A) else { return [] }
    return bytes[..<end].split(separator: 0x0A).filter { !$0.isEmpty }
}

/// A registry front (Tests/Harness/redirect_registry.py) that wants Basic credentials and answers
/// blob downloads with a redirect to another origin, as registries backed by object storage do:
/// for checking that `Authorization` stays behind.
public final class RedirectingRegistry: @unchecked Sendable {
    public struct Logged: Decodable, Sendable {
        public var port: Int
        public var method: String
        public var path: String
        public var status: Int
        public var authorization: Bool
    }

    /// "127.0.0.1:PORT" of the front; blobs are served from `storagePort`.
    public let host: String
    public let storagePort: Int
    private let logPath: String
    private let process: HarnessProcess

    /// Serves `blob` (under any digest) for `user`/`password`.
    public init(user: String, password: String, blob: [UInt8]) throws {
        let python = try requireTool("python3")
        let script = try harnessScript("redirect_registry.py")
        let directory = try TemporaryDirectory()
        let blobPath = try directory.write("blob", blob)
        logPath = directory.path + "/requests.jsonl"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        var storage = Int.random(in: 20_000...60_000)
        while LocalHTTPServer.canConnect(port: storage) { storage = Int.random(in: 20_000...60_000) }
        let storagePort = storage
        process = try HarnessProcess.start(
            "redirecting registry", executable: python,
            arguments: { port in
                [script, "--port", String(port), "--storage-port", String(storagePort), "--user", "\(user):\(password)",
                 "--blob", blobPath, "--log", directory.path + "/requests.jsonl"]
            },
            logPath: directory.path + "/server.log", workDirectory: directory)
        self.storagePort = storagePort
        host = "127.0.0.1:\(process.port)"
    }

    /// Every request either port saw, in order.
    public func requests() throws -> [Logged] {
        try completeLines(try FileSystem.read(logPath, limit: 1 << 30)).map { try JSONDecoder().decode(Logged.self, from: Data($0)) }
    }
}
