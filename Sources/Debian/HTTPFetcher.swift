import Archive
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The validators of a downloaded resource (`ETag`, `Last-Modified`), for a conditional request.
public struct HTTPValidators: Sendable, Hashable, Codable {
    public var etag: String?
    public var lastModified: String?

    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }

    var isEmpty: Bool { etag == nil && lastModified == nil }
}

/// What a conditional download found.
public enum ConditionalDownload: Sendable {
    /// The resource still matches the validators given.
    case notModified
    /// A new temporary file (the caller removes it) and the resource's validators.
    case downloaded(path: String, validators: HTTPValidators)
}

/// HTTP downloads with retries and backoff, streamed to disk. Only GET; 404 and other 4xx are
/// final; connection errors, stalls, broken-off bodies, 5xx and 429 are retried. A body is never
/// taken past the size it may have: a cached download stops at the size its index names.
///
/// Redirects are followed (at most 5, credentials dropped on another origin); `user:password@`
/// in a URL becomes basic authentication; `http_proxy`, `https_proxy` and `no_proxy` are honoured.
public struct HTTPFetcher: Sendable {
    public var attempts: Int
    public var initialBackoff: Double
    /// A transfer that receives nothing for this many seconds fails (and is retried).
    public var idleTimeout: Double

    public init(attempts: Int = 4, initialBackoff: Double = 0.5, idleTimeout: Double = HTTPFetcher.defaultIdleTimeout) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.idleTimeout = idleTimeout
    }

    public static let defaultIdleTimeout: TimeInterval = 60
    /// No single download may take longer than this (a mirror trickling bytes forever).
    public static let transferTimeout: TimeInterval = 3600
    /// The most a download of unknown size may bring (a feed, an index): 4 GiB.
    public static let defaultLimit: Int64 = 4 << 30
    /// The most bytes of a non-200 answer's body read before the answer is refused.
    static let errorBodyLimit: Int64 = 1 << 16

    /// Downloads `url` into a new temporary file and returns its path; the caller removes it.
    public func download(_ url: String, limit: Int64 = HTTPFetcher.defaultLimit) async throws -> String {
        guard case .downloaded(let path, _) = try await download(url, unlessMatching: HTTPValidators(), limit: limit) else {
            throw RepositoryError.network(url: url, reason: "answered 304 Not Modified to an unconditional request")
        }
        return path
    }

    /// Downloads `url` unless it still matches `validators` (a conditional GET with
    /// `If-None-Match` and `If-Modified-Since`; 304 gives `.notModified`). A download is kept only
    /// when it arrived whole: a body shorter than its `Content-Length` is retried.
    public func download(_ url: String, unlessMatching validators: HTTPValidators,
                         limit: Int64 = HTTPFetcher.defaultLimit) async throws -> ConditionalDownload {
        let file = FileSystem.temporaryName(beside: FileSystem.temporaryDirectoryRoot() + "/harden-download")
        guard let received = try await receive(url, validators: validators, into: file, expecting: .atMost(limit)) else {
            return .notModified
        }
        return .downloaded(path: file, validators: received.validators)
    }

    /// Downloads `url` and returns its bytes (for small files such as InRelease).
    public func fetch(_ url: String, limit: Int = 64 << 20) async throws -> [UInt8] {
        let file = try await download(url, limit: Int64(limit))
        defer { try? FileSystem.remove(file) }
        do {
            return try FileSystem.read(file, limit: limit)
        } catch {
            throw RepositoryError.io("\(url): \(error)")
        }
    }

    /// Returns the cached file for (sha256, size), downloading it first if needed. The body is
    /// hashed as it streams into a temporary name beside its cache entry and renamed into place
    /// only when its size and SHA-256 match; a mirror sending more than `size` bytes is cut off.
    public func fetchVerified(_ url: String, sha256: String, size: Int64, cache: DownloadCache) async throws -> String {
        if let cached = cache.verifiedPath(sha256: sha256, size: size) { return cached }
        guard isSHA256Hex(sha256) else { throw RepositoryError.hashMismatch(url: url, expected: sha256, actual: "(not a SHA-256: refused)") }
        let destination = cache.path(sha256: sha256)
        let temp = FileSystem.temporaryName(beside: destination)
        do {
            try FileSystem.createDirectory(FileSystem.parentPath(destination))
        } catch {
            throw RepositoryError.io("cannot create the cache \(cache.root): \(error)")
        }
        guard let received = try await receive(url, validators: HTTPValidators(), into: temp, expecting: .exactly(size)) else {
            throw RepositoryError.network(url: url, reason: "answered 304 Not Modified to an unconditional request")
        }
        guard received.size == size, received.sha256 == sha256 else {
            unlink(temp)
            if received.size != size { throw RepositoryError.sizeMismatch(url: url, expected: size, actual: received.size) }
            throw RepositoryError.hashMismatch(url: url, expected: sha256, actual: received.sha256 ?? "")
        }
        do {
            try FileSystem.commit(temp, to: destination)
        } catch {
            throw RepositoryError.io("cannot store \(url) in the cache \(cache.root): \(error)")
        }
        return destination
    }

    /// What a download may be: anything up to a limit, or exactly the size an index names (then
    /// it is hashed as it streams and fsynced, for the cache).
    private enum Expectation {
        case atMost(Int64)
        case exactly(Int64)
    }

    /// What one complete download brought (its SHA-256 when exactly a size was expected).
    private struct Received {
        var size: Int64
        var sha256: String?
        var validators: HTTPValidators
    }

    /// A failed attempt that may succeed next time; anything else thrown is final.
    private struct Retryable: Error { var error: RepositoryError }

    /// GETs `url` into `file` (created anew for each attempt), with retries. Returns nil for
    /// 304 Not Modified. On a throw, `file` does not exist.
    private func receive(_ url: String, validators: HTTPValidators, into file: String,
                         expecting expectation: Expectation) async throws -> Received? {
        let target = try Target(url)
        var delay = initialBackoff
        var lastError = RepositoryError.network(url: target.url, reason: "no attempt made")
        for attempt in 1...max(1, attempts) {
            do {
                return try await receiveOnce(target, validators: validators, into: file, expecting: expectation)
            } catch let failure as Retryable {
                lastError = failure.error
            } catch let error as RepositoryError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as HTTPClientError where error == .invalidProxyResponse {
                let proxy = Proxy.forURL(target.url).map { "\($0.host):\($0.port)" } ?? "the proxy"
                throw RepositoryError.network(url: target.url, reason: "\(proxy) refused to open a tunnel (CONNECT): "
                    + "Harden reaches http and https mirrors through a proxy with CONNECT only")
            } catch {
                lastError = .network(url: target.url, reason: Self.describe(error, idleTimeout: idleTimeout))
            }
            if attempt < attempts {
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay *= 2
            }
        }
        throw lastError
    }

    /// One GET. The body is written by a delegate on NIO's event loop as it arrives, so the
    /// transfer never waits for a thread of Swift's concurrency pool (busy ones would let the
    /// idle timeout fire on a healthy connection).
    private func receiveOnce(_ target: Target, validators: HTTPValidators, into file: String,
                             expecting expectation: Expectation) async throws -> Received? {
        var headers = HTTPHeaders([("User-Agent", "harden/0.1")])
        if let authorization = target.authorization { headers.add(name: "Authorization", value: authorization) }
        if let etag = validators.etag { headers.add(name: "If-None-Match", value: etag) }
        if let date = validators.lastModified { headers.add(name: "If-Modified-Since", value: date) }
        let request = try HTTPClient.Request(url: target.url, method: .GET, headers: headers)
        let client = Self.client(idleTimeout: idleTimeout, proxy: Proxy.forURL(target.url))
        let writer = BodyWriter(url: target.url, file: file, expectation: expectation)
        let head: HTTPResponseHead
        do {
            head = try await client.execute(request: request, delegate: writer,
                                            deadline: .now() + .seconds(Int64(Self.transferTimeout))).futureResult.get()
        } catch {
            writer.discard()
            throw error
        }
        let status = Int(head.status.code)
        guard status == 200 else {
            writer.discard()
            if status == 304 && !validators.isEmpty { return nil }
            if status == 429 || status >= 500 { throw Retryable(error: .http(url: target.url, status: status)) }
            throw RepositoryError.http(url: target.url, status: status)
        }
        do {
            return Received(size: writer.received, sha256: try writer.finish(), validators: HTTPValidators(
                etag: head.headers.first(name: "ETag"), lastModified: head.headers.first(name: "Last-Modified")))
        } catch {
            writer.discard()
            throw error
        }
    }

    /// Writes a 200 answer's body to a file on the event loop, within the size expected.
    private final class BodyWriter: HTTPClientResponseDelegate, @unchecked Sendable {
        typealias Response = HTTPResponseHead
        let url: String
        let file: String
        let limit: Int64
        let exact: Bool
        private var head: HTTPResponseHead?
        private var sink: FileSink?
        private var hashing: HashingSink?
        private var announced: Int64?
        private(set) var received: Int64 = 0

        init(url: String, file: String, expectation: Expectation) {
            self.url = url
            self.file = file
            switch expectation {
            case .atMost(let limit): (self.limit, exact) = (limit, false)
            case .exactly(let size): (limit, exact) = (size, true)
            }
        }

        private func tooLarge(_ bytes: Int64) -> RepositoryError {
            exact ? .sizeMismatch(url: url, expected: limit, actual: bytes)
                : .network(url: url, reason: "more than the \(limit)-byte limit (\(bytes) bytes): refused")
        }

        func didReceiveHead(task: HTTPClient.Task<HTTPResponseHead>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
            self.head = head
            guard head.status == .ok else { return task.eventLoop.makeSucceededVoidFuture() }
            announced = head.headers.first(name: "Content-Length").flatMap { Int64($0) }
            if let announced, announced > limit { return task.eventLoop.makeFailedFuture(tooLarge(announced)) }
            do {
                unlink(file)  // what an earlier attempt left
                let sink = try FileSink(path: file, exclusive: true, sync: exact)
                self.sink = sink
                hashing = exact ? HashingSink(sink) : nil
            } catch {
                return task.eventLoop.makeFailedFuture(RepositoryError.io("\(url): \(error)"))
            }
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didReceiveBodyPart(task: HTTPClient.Task<HTTPResponseHead>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            received += Int64(buffer.readableBytes)
            guard let sink else {
                // The body of a non-200 answer is dropped; an endless one is cut off.
                guard received > HTTPFetcher.errorBodyLimit else { return task.eventLoop.makeSucceededVoidFuture() }
                let status = head.map { " (HTTP \($0.status.code))" } ?? ""
                return task.eventLoop.makeFailedFuture(RepositoryError.network(url: url, reason: "an error answer\(status) of more than \(HTTPFetcher.errorBodyLimit) bytes: refused"))
            }
            if received > limit { return task.eventLoop.makeFailedFuture(tooLarge(received)) }
            do {
                let writer: ByteSink = hashing ?? sink
                try buffer.withUnsafeReadableBytes { try writer.write($0) }
            } catch {
                return task.eventLoop.makeFailedFuture(RepositoryError.io("\(url): \(error)"))
            }
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didFinishRequest(task: HTTPClient.Task<HTTPResponseHead>) throws -> HTTPResponseHead {
            guard let head else { throw RepositoryError.network(url: url, reason: "no response") }
            return head
        }

        /// Completes the file: a body shorter than its `Content-Length` is a broken download
        /// (retried). Returns the SHA-256 when one was computed.
        func finish() throws -> String? {
            if let announced, received != announced {
                throw Retryable(error: .network(url: url, reason: "the download broke off: \(received) of \(announced) bytes"))
            }
            do {
                try ((hashing as ByteSink?) ?? sink)?.finish()
            } catch {
                throw RepositoryError.io("\(url): \(error)")
            }
            return hashing?.hexDigest
        }

        /// Removes the file, whatever was written.
        func discard() {
            try? sink?.finish()
            unlink(file)
        }
    }

    /// A URL ready to request: http(s) only, its credentials moved into a header (and so out of
    /// every message).
    private struct Target {
        var url: String
        var authorization: String?

        init(_ text: String) throws {
            guard var components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", components.host?.isEmpty == false else {
                throw RepositoryError.network(url: text, reason: "not an http(s) URL")
            }
            if let user = components.user {
                let credentials = Data("\(user):\(components.password ?? "")".utf8).base64EncodedString()
                authorization = "Basic \(credentials)"
                components.user = nil
                components.password = nil
            }
            url = components.string ?? text
        }
    }

    /// A proxy from the environment, as curl and apt read it.
    struct Proxy: Hashable, Sendable {
        var host: String
        var port: Int
        var authorization: String?

        /// The proxy for `url`: `https_proxy` for https, `http_proxy` for http (either case), none
        /// when `no_proxy` names the host, a domain above it, or `*`.
        static func forURL(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Proxy? {
            guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return nil }
            let variable = components.scheme?.lowercased() == "https" ? "https_proxy" : "http_proxy"
            guard let value = environment[variable] ?? environment[variable.uppercased()], !value.isEmpty else { return nil }
            let exempt = (environment["no_proxy"] ?? environment["NO_PROXY"] ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            }
            for entry in exempt where !entry.isEmpty {
                let domain = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
                if entry == "*" || host == domain || host.hasSuffix("." + domain) { return nil }
            }
            guard let proxy = URLComponents(string: value.contains("://") ? value : "http://" + value),
                  let proxyHost = proxy.host, !proxyHost.isEmpty else { return nil }
            var authorization: String?
            if let user = proxy.user {
                authorization = Data("\(user):\(proxy.password ?? "")".utf8).base64EncodedString()
            }
            return Proxy(host: proxyHost, port: proxy.port ?? 80, authorization: authorization)
        }
    }

    private struct ClientKey: Hashable { var idleTimeout: Double; var proxy: Proxy? }
    private static let clientsLock = NSLock()
    nonisolated(unsafe) private static var clients: [ClientKey: HTTPClient] = [:]

    /// One client per (idle timeout, proxy), for the life of the process, so connections to a
    /// mirror are reused across downloads.
    private static func client(idleTimeout: Double, proxy: Proxy?) -> HTTPClient {
        clientsLock.lock()
        defer { clientsLock.unlock() }
        let key = ClientKey(idleTimeout: idleTimeout, proxy: proxy)
        if let client = clients[key] { return client }
        let idle = TimeAmount.milliseconds(Int64(idleTimeout * 1000))
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: idle, read: idle),
            decompression: .disabled
        )
        if let proxy {
            configuration.proxy = .server(host: proxy.host, port: proxy.port,
                                          authorization: proxy.authorization.map { .basic(credentials: $0) })
        }
        // Our retries decide, with backoff.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        clients[key] = client
        return client
    }

    /// A failed exchange in words.
    private static func describe(_ error: Error, idleTimeout: Double) -> String {
        if let client = error as? HTTPClientError {
            switch client {
            case .readTimeout: return "no data for \(Int(idleTimeout)) s"
            case .connectTimeout: return "the connection timed out after \(Int(idleTimeout)) s"
            case .deadlineExceeded: return "the download took longer than \(Int(transferTimeout)) s"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "\(client)"
            }
        }
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return "connection refused" }
        return String(describing: error)
    }
}
