import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// How hard to try again: attempts, and the exponential backoff (with full jitter) between them.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var attempts: Int
    /// The first backoff; each next one doubles, up to `maximumDelay`.
    public var initialDelay: Duration
    public var maximumDelay: Duration

    public init(attempts: Int = 5, initialDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(10)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): a random share of the
    /// exponential step (full jitter), or the server's `Retry-After` when it names one (capped).
    func delay(after attempt: Int, retryAfter: String?) -> Duration {
        if let retryAfter, let seconds = Int(retryAfter.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return min(.seconds(seconds), maximumDelay)
        }
        let step = initialDelay * (1 << min(attempt - 1, 16))
        let capped = min(step, maximumDelay)
        let millis = Int(capped.components.seconds * 1000 + capped.components.attoseconds / 1_000_000_000_000_000)
        return .milliseconds(Int.random(in: millis / 2...max(millis / 2, millis)))
    }

    /// Whether an HTTP status is worth another attempt.
    static func retries(status: Int) -> Bool { status == 429 || (500...599).contains(status) && status != 501 && status != 505 }
}

/// A request body that can be sent again on a retry.
enum RequestBody: Sendable {
    case none
    case bytes([UInt8])
    /// `length` bytes of the file at `path` from `offset`, streamed.
    case file(path: String, offset: Int64, length: Int64, progress: (@Sendable (Int) -> Void)?)

    var length: Int64 {
        switch self {
        case .none: 0
        case .bytes(let bytes): Int64(bytes.count)
        case .file(_, _, let length, _): length
        }
    }

    func make() -> HTTPClientRequest.Body? {
        switch self {
        case .none: return nil
        case .bytes(let bytes): return .bytes(ByteBuffer(bytes: bytes))
        case .file(let path, let offset, let length, let progress):
            return .stream(FileChunks(path: path, offset: offset, length: length, progress: progress), length: .known(length))
        }
    }
}

/// A part of a file as a stream of buffers (1 MiB reads with `pread`), for upload bodies.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let offset: Int64
    let length: Int64
    let progress: (@Sendable (Int) -> Void)?
    static let chunkSize = 1 << 20

    final class Iterator: AsyncIteratorProtocol {
        private var fd: Int32 = -1
        private var position: Int64
        private let end: Int64
        private let path: String
        private let progress: (@Sendable (Int) -> Void)?

        init(_ chunks: FileChunks) {
            path = chunks.path
            position = chunks.offset
            end = chunks.offset + chunks.length
            progress = chunks.progress
        }

        deinit { if fd >= 0 { close(fd) } }

        func next() async throws -> ByteBuffer? {
            guard position < end else { return nil }
            if fd < 0 {
                fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            }
            let want = Int(Swift.min(Int64(FileChunks.chunkSize), end - position))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw -> Int in
                while true {
                    let n = pread(fd, raw.baseAddress!, want, off_t(position))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                    return n
                }
            }
            // The file shrank under us: the Content-Length we announced cannot be kept.
            guard got > 0 else { throw POSIXError(.EIO) }
            position += Int64(got)
            progress?(got)
            return buffer
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(self) }
}

/// One HTTP request, replayable.
struct Outgoing: Sendable {
    var method: HTTPMethod
    var url: String
    var headers: HTTPHeaders = [:]
    var body: RequestBody = .none
}

/// The HTTP layer: one AsyncHTTPClient for every registry of a session, redirects followed by
/// hand (so `Authorization` never reaches another host), retries with backoff on 429, 5xx and
/// connection errors.
final class Transport: Sendable {
    let client: HTTPClient
    let retry: RetryPolicy
    static let maximumRedirects = 5

    init(caCertificates: [String], retry: RetryPolicy) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !caCertificates.isEmpty {
            tls.additionalTrustRoots = caCertificates.map { .file($0) }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(300)),
            decompression: .disabled
        )
        configuration.httpVersion = .automatic
        // Our own retries decide (with backoff); the pool would otherwise keep reconnecting to a
        // closed port until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.retry = retry
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// Sends `request`, following redirects for GET and HEAD (dropping `Authorization` when the
    /// host changes), once. Connection errors are thrown as they come.
    func sendOnce(_ request: Outgoing) async throws -> HTTPClientResponse {
        var current = request
        for _ in 0...Self.maximumRedirects {
            var outgoing = HTTPClientRequest(url: current.url)
            outgoing.method = current.method
            outgoing.headers = current.headers
            outgoing.headers.replaceOrAdd(name: "User-Agent", value: "harden/0.1")
            if let body = current.body.make() {
                outgoing.body = body
            } else if [.PUT, .POST, .PATCH].contains(current.method) {
                outgoing.headers.replaceOrAdd(name: "Content-Length", value: "0")
            }
            let response = try await client.execute(outgoing, timeout: .hours(6))
            let status = Int(response.status.code)
            guard [301, 302, 303, 307, 308].contains(status), current.method == .GET || current.method == .HEAD,
                  let location = response.headers.first(name: "Location"),
                  let next = Self.resolve(location, against: current.url) else {
                return response
            }
            _ = try? await response.body.collect(upTo: 1 << 16)
            if Self.origin(of: next) != Self.origin(of: current.url) {
                current.headers.remove(name: "Authorization")
            }
            current.url = next
        }
        throw TransportFailure.tooManyRedirects
    }

    /// Sends with retries: connection errors, 429 and 5xx are tried again after a backoff (the
    /// server's `Retry-After` honoured). The last answer (or error) is returned.
    func send(_ request: Outgoing, attempts: Int? = nil) async throws -> HTTPClientResponse {
        let budget = attempts ?? retry.attempts
        var attempt = 1
        while true {
            do {
                let response = try await sendOnce(request)
                let status = Int(response.status.code)
                guard RetryPolicy.retries(status: status), attempt < budget else { return response }
                let wait = retry.delay(after: attempt, retryAfter: response.headers.first(name: "Retry-After"))
                _ = try? await response.body.collect(upTo: 1 << 16)
                try await Task.sleep(for: wait)
            } catch let error where Self.isConnectionError(error) && attempt < budget {
                try await Task.sleep(for: retry.delay(after: attempt, retryAfter: nil))
            }
            attempt += 1
        }
    }

    /// Errors worth another attempt: the connection failed, closed or timed out.
    static func isConnectionError(_ error: Error) -> Bool {
        if error is CancellationError { return false }
        if error is TransportFailure { return false }
        if let client = error as? HTTPClientError {
            let transient: [HTTPClientError] = [.remoteConnectionClosed, .readTimeout, .writeTimeout, .connectTimeout,
                                                .tlsHandshakeTimeout, .getConnectionFromPoolTimeout, .uncleanShutdown]
            return transient.contains(client)
        }
        // Nothing listens there, or the name does not resolve: trying again will not help.
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return false }
        if error is SocketAddressError { return false }
        // A certificate that does not verify will not verify next time either.
        if error is BoringSSLError { return false }
        if let tls = error as? NIOSSLError, case .handshakeFailed = tls { return false }
        // NIO's other connection errors, resets, TLS truncation.
        return true
    }

    /// `location` resolved against `base` (registries answer relative and absolute URLs).
    static func resolve(_ location: String, against base: String) -> String? {
        guard let baseURL = URL(string: base), let url = URL(string: location, relativeTo: baseURL) else { return nil }
        return url.absoluteString
    }

    /// scheme://host:port of a URL (what decides whether credentials may follow a redirect).
    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        let scheme = components.scheme?.lowercased() ?? ""
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\((components.host ?? "").lowercased()):\(port)"
    }
}

enum TransportFailure: Error, CustomStringConvertible {
    case tooManyRedirects
    var description: String { "more than \(Transport.maximumRedirects) redirects" }
}

extension HTTPClientResponse {
    /// The body, collected up to `limit` bytes.
    func bytes(limit: Int) async throws -> [UInt8] {
        var buffer = try await body.collect(upTo: limit)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}
