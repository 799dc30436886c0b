import Foundation
import OCI

/// Talking to registries for one command: one HTTP client shared by every registry, one
/// `RegistryClient` per host (so tokens and the found scheme are reused). Use `with(_:_:)`,
/// which shuts the HTTP client down however the body ends.
public actor RegistrySession {
    let transport: Transport
    public nonisolated let options: RegistryOptions
    private var clients: [String: RegistryClient] = [:]

    init(options: RegistryOptions) throws {
        self.options = options
        transport = try Transport(caCertificates: options.caCertificates, retry: options.retry)
    }

    /// Runs `body` with a session, then closes its connections.
    public static func with<T: Sendable>(_ options: RegistryOptions = RegistryOptions(),
                                         _ body: (RegistrySession) async throws -> T) async throws -> T {
        let session = try RegistrySession(options: options)
        do {
            let result = try await body(session)
            await session.transport.shutdown()
            return result
        } catch {
            await session.transport.shutdown()
            throw error
        }
    }

    /// The client for `registry` (host[:port]).
    public func client(for registry: String) throws -> RegistryClient {
        if let client = clients[registry] { return client }
        let client = try RegistryClient(registry: registry, transport: transport, options: options)
        clients[registry] = client
        return client
    }
}

/// Counters for a long transfer, read by whoever draws progress.
public final class TransferProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var state = Snapshot()

    public struct Snapshot: Sendable {
        public var blobs = 0
        public var blobsDone = 0
        public var bytes: Int64 = 0
        public var bytesDone: Int64 = 0
    }

    public init() {}

    public var snapshot: Snapshot { lock.withLock { state } }

    func expect(blobs: Int, bytes: Int64) {
        lock.withLock {
            state.blobs += blobs
            state.bytes += bytes
        }
    }

    func advance(_ bytes: Int) { lock.withLock { state.bytesDone += Int64(bytes) } }

    /// `advance` as a callback for transfers.
    var byteCounter: @Sendable (Int) -> Void { { [self] in advance($0) } }

    func blobDone() { lock.withLock { state.blobsDone += 1 } }
}

/// What a push or pull did, for the user and for tests.
public struct TransferReport: Sendable, Equatable {
    public var blobsUploaded = 0
    public var blobsDownloaded = 0
    public var blobsSkipped = 0
    public var blobsMounted = 0
    public var bytesSent: Int64 = 0
    public var bytesReceived: Int64 = 0
    public var manifests = 0
    public var attachments = 0
    /// Chunked uploads continued from the registry's offset, and uploads started over.
    public var resumed = 0
    public var restarted = 0
    /// Whether the registry answered the referrers API (else the `sha256-<hex>` tag schema was used).
    public var referrersAPI = false

    public init() {}

    mutating func add(_ outcome: BlobPushOutcome) {
        switch outcome {
        case .existed: blobsSkipped += 1
        case .mounted: blobsMounted += 1
        case .uploaded(let bytes, let resumed, let restarted):
            blobsUploaded += 1
            bytesSent += bytes
            self.resumed += resumed
            self.restarted += restarted
        }
    }
}

/// Runs `body` for each item with at most `limit` running at once; the first error cancels the rest.
func forEachConcurrently<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    try await withThrowingTaskGroup(of: R.self) { group in
        var results: [R] = []
        var next = 0
        for _ in 0..<min(max(1, limit), items.count) {
            let item = items[next]
            group.addTask { try await body(item) }
            next += 1
        }
        while let result = try await group.next() {
            results.append(result)
            if next < items.count {
                let item = items[next]
                group.addTask { try await body(item) }
                next += 1
            }
        }
        return results
    }
}
