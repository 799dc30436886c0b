import Archive
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// The size of the blob in `repository`, or nil when the registry does not have it there.
    public func blobSize(_ digest: Digest, in repository: String, scope: AccessScope? = nil) async throws -> Int64? {
        let step = "checking blob \(digest) in \(repository)"
        let response = try await send(.HEAD, "/v2/\(repository)/blobs/\(digest)", scope: scope ?? .pull(repository), step: step)
        switch Int(response.status.code) {
        case 200:
            try checkDigest(response, expected: digest, step: step)
            return response.headers.first(name: "Content-Length").flatMap { Int64($0) } ?? -1
        case 404: return nil
        default: try await expect(response, [200], step: step); return nil
        }
    }

    /// Puts the blob `descriptor` (its bytes in the file `path`) into `repository`: skipped when
    /// the registry has it, mounted from `mountFrom` when possible, else uploaded (one PUT up to
    /// `monolithicLimit`, chunks after that, resumed from the offset the registry reports after
    /// a dropped connection, started over only when the registry has lost the upload). When the
    /// file is not there yet, `fetchFirst` brings it (only if the upload is really needed).
    public func pushBlob(_ descriptor: Descriptor, file path: String, to repository: String, mountFrom: String? = nil,
                         fetchFirst: (@Sendable () async throws -> Void)? = nil,
                         progress: (@Sendable (Int) -> Void)? = nil) async throws -> BlobPushOutcome {
        let scope = AccessScope.push(repository).adding(mountFrom.map { .pull($0) } ?? AccessScope())
        if try await blobSize(descriptor.digest, in: repository, scope: scope) != nil {
            progress?(Int(descriptor.size))
            return .existed
        }
        let step = "pushing blob \(descriptor.digest) to \(repository)"
        var restarted = 0, resumed = 0
        var sent: Int64 = 0
        let maximumRestarts = options.retry.attempts
        while true {
            // Start (or mount).
            var start = "/v2/\(repository)/blobs/uploads/"
            if let mountFrom, mountFrom != repository, restarted == 0 { start += "?mount=\(descriptor.digest)&from=\(mountFrom)" }
            let startURL = try await url(start)
            let started = try await send(.POST, startURL, scope: scope, step: step)
            if started.status == .created {
                _ = try? await started.bytes(limit: 1 << 16)
                try checkDigest(started, expected: descriptor.digest, step: step)
                progress?(Int(descriptor.size))
                return .mounted
            }
            try await expect(started, [202], step: step)
            _ = try? await started.bytes(limit: 1 << 16)
            var location = try location(started, relativeTo: startURL, step: step)
            if let fetchFirst, !FileSystem.exists(path) { try await fetchFirst() }

            do {
                if descriptor.size <= options.monolithicLimit {
                    sent += descriptor.size
                    let done = try await send(.PUT, Self.withDigest(location, descriptor.digest),
                                              headers: ["Content-Type": "application/octet-stream"],
                                              body: .file(path: path, offset: 0, length: descriptor.size, progress: progress),
                                              scope: scope, step: step, attempts: 1)
                    try await finish(done, descriptor: descriptor, step: step)
                    return .uploaded(bytes: sent, resumed: resumed, restarted: restarted)
                }
                var offset: Int64 = 0
                var failures = 0
                // A registry may name the smallest chunk it takes.
                let chunkSize = max(options.chunkSize, started.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int64($0) } ?? 0)
                while offset < descriptor.size {
                    let length = min(chunkSize, descriptor.size - offset)
                    let chunkURL = location
                    do {
                        sent += length
                        let answer = try await send(.PATCH, chunkURL,
                                                    headers: ["Content-Type": "application/octet-stream",
                                                              "Content-Range": "\(offset)-\(offset + length - 1)"],
                                                    body: .file(path: path, offset: offset, length: length, progress: progress),
                                                    scope: scope, step: step, attempts: 1)
                        let status = Int(answer.status.code)
                        if status == 202 {
                            _ = try? await answer.bytes(limit: 1 << 16)
                            location = try self.location(answer, relativeTo: chunkURL, step: step)
                            offset = Self.nextOffset(answer) ?? offset + length
                            continue
                        }
                        guard RetryPolicy.retries(status: status) || status == 416 else {
                            try await expect(answer, [202], step: step)
                            continue
                        }
                        _ = try? await answer.bytes(limit: 1 << 16)
                    } catch let error as RegistryError {
                        guard case .connection = error.reason else { throw error }
                    }
                    // The chunk may or may not have landed: ask the registry where the upload stands.
                    failures += 1
                    guard failures <= options.retry.attempts else {
                        throw RegistryError(registry: registry, step: step, reason: .connection("the upload failed \(failures) times at offset \(offset)"))
                    }
                    try await Task.sleep(for: options.retry.delay(after: failures, retryAfter: nil))
                    guard let status = try await uploadStatus(location, scope: scope, step: step) else {
                        throw UploadLost()
                    }
                    location = status.location
                    // Distribution writes "0-0" for an empty upload as for a one-byte one.
                    offset = status.offset == 1 && offset == 0 ? 0 : status.offset
                    resumed += 1
                }
                let done = try await send(.PUT, Self.withDigest(location, descriptor.digest), scope: scope, step: step)
                try await finish(done, descriptor: descriptor, step: step)
                return .uploaded(bytes: sent, resumed: resumed, restarted: restarted)
            } catch let error as RegistryError where restarted < maximumRestarts && Self.isLostUpload(error) {
                restarted += 1
            } catch is UploadLost where restarted < maximumRestarts {
                restarted += 1
            }
            try await Task.sleep(for: options.retry.delay(after: restarted, retryAfter: nil))
        }
    }

    /// The registry forgot the upload session (distribution drops it when a chunk broke off mid-way).
    private struct UploadLost: Error {}

    private static func isLostUpload(_ error: RegistryError) -> Bool {
        switch error.reason {
        case .connection: return true
        case .status(let status, let codes, _):
            return codes.contains("BLOB_UPLOAD_INVALID") || codes.contains("BLOB_UPLOAD_UNKNOWN") || RetryPolicy.retries(status: status)
                || (status == 404 && codes.isEmpty)
        default: return false
        }
    }

    /// Where an upload stands (GET on its location): the next offset and the fresh location, or
    /// nil when the registry no longer knows it.
    private func uploadStatus(_ location: String, scope: AccessScope, step: String) async throws -> (offset: Int64, location: String)? {
        let answer = try await send(.GET, location, scope: scope, step: step)
        let status = Int(answer.status.code)
        _ = try? await answer.bytes(limit: 1 << 16)
        if status == 404 || status == 400 { return nil }
        guard status == 204 || status == 202 || status == 200 else {
            throw RegistryError(registry: registry, step: step, reason: .status(status, codes: [], message: "upload status"))
        }
        let fresh = (try? self.location(answer, relativeTo: location, step: step)) ?? location
        return (Self.nextOffset(answer) ?? 0, fresh)
    }

    /// From `Range: 0-N`: N + 1.
    private static func nextOffset(_ response: HTTPClientResponse) -> Int64? {
        guard let range = response.headers.first(name: "Range") else { return nil }
        let value = range.hasPrefix("bytes=") ? range.dropFirst(6) : Substring(range)
        guard let dash = value.firstIndex(of: "-"), let end = Int64(value[value.index(after: dash)...]) else { return nil }
        return end + 1
    }

    private func finish(_ response: HTTPClientResponse, descriptor: Descriptor, step: String) async throws {
        try await expect(response, [201, 204], step: step)
        _ = try? await response.bytes(limit: 1 << 16)
        try checkDigest(response, expected: descriptor.digest, step: step)
    }

    static func withDigest(_ location: String, _ digest: Digest) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + digest.description
    }

    /// Downloads the blob `descriptor` from `repository` into `layout`, verified (nothing is
    /// stored unless digest and size match). A dropped download continues with a Range request
    /// when the registry allows it, else starts over.
    public func pullBlob(_ descriptor: Descriptor, from repository: String, into layout: ImageLayout,
                         progress: (@Sendable (Int) -> Void)? = nil) async throws {
        if layout.hasBlob(descriptor.digest) {
            progress?(Int(descriptor.size))
            return
        }
        let step = "pulling blob \(descriptor.digest) from \(repository)"
        var pending = try layout.beginBlob()
        var failures = 0
        while true {
            var headers: HTTPHeaders = [:]
            if pending.count > 0 { headers.add(name: "Range", value: "bytes=\(pending.count)-") }
            do {
                let response = try await send(.GET, "/v2/\(repository)/blobs/\(descriptor.digest)", headers: headers,
                                              scope: .pull(repository), step: step)
                let status = Int(response.status.code)
                if status == 200 && pending.count > 0 {
                    pending.discard()
                    pending = try layout.beginBlob()
                } else if status != 200 && status != 206 {
                    try await expect(response, [200], step: step)
                }
                for try await buffer in response.body {
                    guard pending.count + Int64(buffer.readableBytes) <= descriptor.size else {
                        throw RegistryError(registry: registry, step: step, reason: .digestMismatch(
                            expected: "\(descriptor.digest) (\(descriptor.size) bytes)", actual: "more than \(descriptor.size) bytes"))
                    }
                    try buffer.withUnsafeReadableBytes { try pending.write($0) }
                    progress?(buffer.readableBytes)
                }
                do {
                    _ = try pending.commit(mediaType: descriptor.mediaType, expected: descriptor.digest, size: descriptor.size)
                } catch {
                    throw RegistryError(registry: registry, step: step, reason: .digestMismatch(expected: descriptor.digest.description, actual: "\(error)"))
                }
                return
            } catch let error as RegistryError {
                guard case .connection = error.reason, failures + 1 < options.retry.attempts else {
                    pending.discard()
                    throw error
                }
            } catch let error where Transport.isConnectionError(error) && failures + 1 < options.retry.attempts {
                // The body stream broke off: continue from what arrived.
            } catch {
                pending.discard()
                throw RegistryError(registry: registry, step: step, reason: .connection(Self.describe(error)))
            }
            failures += 1
            try await Task.sleep(for: options.retry.delay(after: failures, retryAfter: nil))
        }
    }
}
