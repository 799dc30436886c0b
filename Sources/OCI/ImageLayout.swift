import Archive
import CLinux
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads blobs by descriptor, verifying every byte against the descriptor's digest and size.
public protocol BlobReader: Sendable {
    /// A source over the blob's bytes that fails at the end if they do not match `descriptor`.
    func openBlob(_ descriptor: Descriptor) throws -> ByteSource
}

extension BlobReader {
    /// Reads a whole blob into memory (refusing more than `limit` bytes), verified.
    public func readBlob(_ descriptor: Descriptor, limit: Int = 16 << 20) throws -> [UInt8] {
        guard descriptor.size <= Int64(limit) else {
            throw OCIError.invalidDocument(kind: "blob", reason: "\(descriptor.digest) is \(descriptor.size) bytes, more than the \(limit) allowed here")
        }
        return try wrapArchive { try openBlob(descriptor).readAll(limit: limit) }
    }

    /// Reads and decodes a JSON document blob.
    public func readDocument<T: Decodable>(_ type: T.Type, _ descriptor: Descriptor, kind: String) throws -> T {
        try CanonicalJSON.decode(T.self, from: try readBlob(descriptor), kind: kind)
    }
}

/// A source that passes bytes through and, at the end, checks their SHA-256 and count.
///
/// It reads its base in chunks of up to 1 MiB into a ring of three buffers and hands each chunk
/// to a `BackgroundHasher` before serving it, so hashing runs on a second core while the caller
/// parses; the bytes hashed are the bytes served. A base that sends more than the descriptor's
/// size fails at once.
public final class VerifyingSource: ByteSource {
    private let base: ByteSource
    private let expected: Descriptor
    /// The buffers chunks are read into, made on the first read.
    private var ring: [UnsafeMutableRawBufferPointer] = []
    /// All chunks but the one being filled may wait for the hasher: a buffer is reused only
    /// after the hasher is done with it. Made with the ring.
    private var hasher: BackgroundHasher?
    private var sequence = 0
    private var chunk = UnsafeRawBufferPointer(start: nil, count: 0)
    private var position = 0
    private var count: Int64 = 0
    private var verified = false

    /// The largest chunk read from the base at once.
    public static let chunkSize = 1 << 20
    /// Chunks in the ring of a blob of a chunk or more (16 MiB in all; smaller blobs get two
    /// small buffers). Tar walks alternate between stretches of small entries, where the reader
    /// is the slower side, and big files, where the hasher is: a ring this deep lets each run
    /// ahead of the other instead of waiting.
    static let ringChunks = 16

    public init(_ base: ByteSource, expected: Descriptor) {
        self.base = base
        self.expected = expected
    }

    deinit {
        hasher?.drain()
        ring.first?.baseAddress?.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0, try available() else { return 0 }
        let n = min(buffer.count, chunk.count - position)
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[position..<(position + n)]))
        position += n
        return n
    }

    /// Passes over bytes without copying them (they are still hashed).
    public func skip(_ count: Int64) throws {
        var left = count
        while left > 0 {
            guard try available() else { throw ArchiveError.truncated("blob \(expected.digest) ended \(left) bytes early") }
            let n = Int(min(Int64(chunk.count - position), left))
            position += n
            left -= Int64(n)
        }
    }

    /// The ring's buffers, in one allocation: for a blob of a chunk or more, 2 MiB-aligned and
    /// backed by transparent huge pages where the kernel allows (a few faults instead of one per
    /// 4 KiB page, which costs as much as the copy on a virtual machine).
    private static func makeRing(for size: Int64) -> [UnsafeMutableRawBufferPointer] {
        let chunk = Int(min(Int64(chunkSize), max(0, size) + 1))
        let large = size >= Int64(chunkSize)
        let chunks = large ? ringChunks : 2
        let total = chunk * chunks
        let memory = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: large ? 2 << 20 : 16)
        if large { _ = madvise(memory, total, MADV_HUGEPAGE) }
        return (0..<chunks).map { UnsafeMutableRawBufferPointer(start: memory + $0 * chunk, count: chunk) }
    }

    /// Whether unread bytes are buffered, reading the next chunk when needed; at the end of the
    /// base, checks size and digest (throwing on a mismatch) and returns false.
    private func available() throws -> Bool {
        if position < chunk.count { return true }
        if verified { return false }
        if ring.isEmpty {
            ring = Self.makeRing(for: expected.size)
            hasher = BackgroundHasher(inFlight: ring.count - 1)
        }
        let index = sequence % ring.count
        sequence += 1
        let buffer = ring[index]
        let want = Int(min(Int64(buffer.count), max(0, expected.size - count) + 1))
        let n = try base.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        count += Int64(n)
        if count > expected.size {
            throw OCIError.sizeMismatch(digest: expected.digest.description, expected: expected.size, actual: count)
        }
        if n == 0 {
            if count != expected.size {
                throw OCIError.sizeMismatch(digest: expected.digest.description, expected: expected.size, actual: count)
            }
            let actual = "sha256:" + hasher!.finish()  // made with the ring, above
            if actual != expected.digest.description {
                throw OCIError.digestMismatch(expected: expected.digest.description, actual: actual)
            }
            verified = true
            chunk = UnsafeRawBufferPointer(start: nil, count: 0)
            position = 0
            return false
        }
        chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        hasher?.add(chunk)
        position = 0
        return true
    }
}

/// A blob on its way into a layout: the bytes are hashed on their way to a temporary file, and
/// `commit` moves it into place only if digest (and size) match. Discarded unless committed.
public final class PendingBlob: ByteSink {
    private let layout: ImageLayout
    private let temp: String
    private let file: FileSink
    private let hashing: HashingSink
    private var open = true

    init(layout: ImageLayout) throws {
        self.layout = layout
        let directory = layout.path + "/blobs/sha256"
        try wrapArchive { try FileSystem.createDirectory(directory) }
        let temp = FileSystem.temporaryName(beside: directory + "/blob")
        let file = try wrapArchive { try FileSink(path: temp, mode: 0o644, exclusive: true) }
        self.temp = temp
        self.file = file
        hashing = HashingSink(file)
    }

    deinit { discard() }

    /// Bytes written so far.
    public var count: Int64 { hashing.count }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try hashing.write(bytes) }

    public func finish() throws {}

    /// Stores the blob if it is `expected` (digest, and size when given); returns its descriptor.
    public func commit(mediaType: String, expected: Digest?, size: Int64? = nil) throws -> Descriptor {
        guard open else { throw OCIError.invalidLayout(path: layout.path, reason: "blob committed twice") }
        do {
            try hashing.finish()
            open = false
            if let size, size != hashing.count {
                throw OCIError.sizeMismatch(digest: expected?.description ?? "blob", expected: size, actual: hashing.count)
            }
            let digest = try Digest(hex: hashing.hexDigest ?? "")
            if let expected, expected != digest {
                throw OCIError.digestMismatch(expected: expected.description, actual: digest.description)
            }
            if layout.hasBlob(digest) {
                unlink(temp)
            } else {
                try wrapArchive { try FileSystem.commit(temp, to: layout.blobPath(digest)) }
            }
            return Descriptor(mediaType: mediaType, digest: digest, size: hashing.count)
        } catch {
            discard()
            throw error
        }
    }

    /// Drops what was written (nothing reaches the store).
    public func discard() {
        if open { try? file.finish() }
        open = false
        unlink(temp)
    }
}

/// An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/…`).
///
/// Blobs are written to a temporary name, fsynced and renamed into place, so a reader never sees
/// a partial blob and two writers can add the same blob at once. `index.json` is changed under an
/// exclusive `flock` on the layout directory and replaced atomically. Every read is verified.
public struct ImageLayout: BlobReader {
    public let path: String

    /// Opens an existing layout, checking `oci-layout`.
    public init(opening path: String) throws {
        self.path = path
        let marker = path + "/oci-layout"
        guard FileSystem.isDirectory(path) else {
            throw OCIError.invalidLayout(path: path, reason: "no such directory")
        }
        guard FileSystem.exists(marker) else {
            throw OCIError.invalidLayout(path: path, reason: "missing oci-layout file")
        }
        struct Marker: Decodable { var imageLayoutVersion: String }
        let bytes = try wrapArchive { try FileSystem.read(marker, limit: 4096) }
        let version = try CanonicalJSON.decode(Marker.self, from: bytes, kind: "oci-layout").imageLayoutVersion
        guard version.hasPrefix("1.") else {
            throw OCIError.invalidLayout(path: path, reason: "unsupported imageLayoutVersion \(version)")
        }
    }

    /// Opens the layout at `path`, creating an empty one if nothing is there.
    public static func create(at path: String) throws -> ImageLayout {
        try wrapArchive {
            try FileSystem.createDirectory(path + "/blobs/sha256")
            if !FileSystem.exists(path + "/oci-layout") {
                try FileSystem.writeAtomically(path + "/oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
            }
        }
        let layout = try ImageLayout(opening: path)
        if !FileSystem.exists(path + "/index.json") {
            try layout.withLock {
                if !FileSystem.exists(path + "/index.json") { try layout.writeIndex(ImageIndex()) }
            }
        }
        return layout
    }

    // MARK: Blobs

    /// Where the blob with `digest` lives.
    public func blobPath(_ digest: Digest) -> String { "\(path)/blobs/sha256/\(digest.hex)" }

    public func hasBlob(_ digest: Digest) -> Bool { FileSystem.exists(blobPath(digest)) }

    public func openBlob(_ descriptor: Descriptor) throws -> ByteSource {
        let file = blobPath(descriptor.digest)
        guard FileSystem.exists(file) else { throw OCIError.blobNotFound(descriptor.digest.description) }
        return VerifyingSource(try wrapArchive { try FileSource(path: file) }, expected: descriptor)
    }

    /// Streams a blob into the store: `body` writes the bytes, which are hashed on the way to a
    /// temporary file. If `expected` is given and does not match, nothing is stored.
    public func writeBlob(mediaType: String, expected: Digest? = nil, _ body: (ByteSink) throws -> Void) throws -> Descriptor {
        let pending = try beginBlob()
        do {
            try body(pending)
            return try pending.commit(mediaType: mediaType, expected: expected)
        } catch {
            pending.discard()
            throw error
        }
    }

    /// Starts a blob written piece by piece (from a network stream, say); nothing is visible in
    /// the store until `commit` has checked it.
    public func beginBlob() throws -> PendingBlob {
        try PendingBlob(layout: self)
    }
    /// Stores bytes held in memory.
    public func writeBlob(_ bytes: [UInt8], mediaType: String) throws -> Descriptor {
        let digest = Digest.of(bytes)
        if hasBlob(digest) { return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count)) }
        return try writeBlob(mediaType: mediaType) { try $0.write(bytes) }
    }

    /// Stores a JSON document with the canonical encoder; the stored bytes are the hashed bytes.
    public func writeDocument<T: Encodable>(_ document: T, mediaType: String) throws -> Descriptor {
        try writeBlob(try CanonicalJSON.encode(document), mediaType: mediaType)
    }

    /// Copies a blob from another store, verifying it on the way.
    public func copyBlob(_ descriptor: Descriptor, from source: BlobReader) throws -> Descriptor {
        if hasBlob(descriptor.digest) { return descriptor }
        var stored = try writeBlob(mediaType: descriptor.mediaType, expected: descriptor.digest) { sink in
            try wrapArchive { _ = try source.openBlob(descriptor).pump(into: sink) }
        }
        stored.annotations = descriptor.annotations
        stored.platform = descriptor.platform
        stored.artifactType = descriptor.artifactType
        return stored
    }

    // MARK: index.json

    /// The layout's index, as stored.
    public func index() throws -> ImageIndex {
        let file = path + "/index.json"
        guard FileSystem.exists(file) else { throw OCIError.invalidLayout(path: path, reason: "missing index.json") }
        let bytes = try wrapArchive { try FileSystem.read(file, limit: 64 << 20) }
        do {
            return try CanonicalJSON.decode(ImageIndex.self, from: bytes, kind: "index.json")
        } catch let error as OCIError {
            throw OCIError.invalidLayout(path: path, reason: "corrupt index.json: \(error)")
        }
    }

    /// The tags in `index.json` with their descriptors, in index order.
    public func tags() throws -> [(name: String, descriptor: Descriptor)] {
        try index().manifests.compactMap { d in d.annotations?[Descriptor.refNameAnnotation].map { ($0, d) } }
    }

    /// Adds `descriptor` to `index.json` under `tag` (replacing what had that tag), or untagged.
    public func tag(_ descriptor: Descriptor, as tag: String?) throws {
        try withLock {
            var index = try self.index()
            var entry = descriptor
            if let tag {
                index.manifests.removeAll { $0.annotations?[Descriptor.refNameAnnotation] == tag }
                entry.annotations = (entry.annotations ?? [:]).merging([Descriptor.refNameAnnotation: tag]) { $1 }
            } else if index.manifests.contains(where: { $0.digest == descriptor.digest && $0.annotations?[Descriptor.refNameAnnotation] == nil }) {
                return
            }
            index.manifests.append(entry)
            try writeIndex(index)
        }
    }

    /// Removes the tag from `index.json` (the blobs stay until garbage-collected).
    public func untag(_ tag: String) throws {
        try withLock {
            var index = try self.index()
            let before = index.manifests.count
            index.manifests.removeAll { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            guard index.manifests.count != before else { throw OCIError.notFound("tag '\(tag)' in \(path)") }
            try writeIndex(index)
        }
    }

    /// The descriptor tagged `tag`; without a tag, the layout's only image.
    public func resolve(tag: String?) throws -> Descriptor {
        let manifests = try index().manifests
        if let tag {
            if let found = manifests.last(where: { $0.annotations?[Descriptor.refNameAnnotation] == tag }) { return found }
            if let digest = try? Digest(tag), let found = manifests.first(where: { $0.digest == digest }) { return found }
            let known = manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }
            throw OCIError.notFound("tag '\(tag)' in \(path) (tags: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        guard manifests.count == 1, let only = manifests.first else {
            let known = manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }
            throw OCIError.notFound("an image in \(path): \(manifests.isEmpty ? "the layout is empty" : "it holds \(manifests.count) images, name one with :TAG (tags: \(known.joined(separator: ", ")))")")
        }
        return only
    }

    private func writeIndex(_ index: ImageIndex) throws {
        let bytes = try CanonicalJSON.encode(index)
        try wrapArchive { try FileSystem.writeAtomically(path + "/index.json", bytes: bytes) }
    }

    /// Runs `body` holding an exclusive lock on the layout directory (across processes too).
    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let lock = try wrapArchive { try FileLock(path: path) }
        defer { lock.release() }
        return try body()
    }
}
