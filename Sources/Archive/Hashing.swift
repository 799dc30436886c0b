import Foundation
import Crypto

/// Lowercase hexadecimal of bytes.
public func hexString<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// SHA-1 of a byte buffer, as lowercase hex (for formats that require it, such as SPDX file checksums).
public func sha1Hex<C: ContiguousBytes>(_ bytes: C) -> String {
    hexString(bytes.withUnsafeBytes { Insecure.SHA1.hash(data: $0) })
}

/// SHA-256 of a byte buffer, as lowercase hex.
public func sha256Hex<C: ContiguousBytes>(_ bytes: C) -> String {
    hexString(bytes.withUnsafeBytes { SHA256.hash(data: $0) })
}

/// A sink that computes SHA-256 and counts the bytes passing through to `downstream` (if any).
public final class HashingSink: ByteSink {
    private var hasher = SHA256()
    private let downstream: ByteSink?
    /// Bytes seen so far.
    public private(set) var count: Int64 = 0
    /// The SHA-256 of everything written, as lowercase hex; set by `finish()`.
    public private(set) var hexDigest: String?

    public init(_ downstream: ByteSink? = nil) { self.downstream = downstream }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
        try downstream?.write(bytes)
    }

    public func finish() throws {
        if hexDigest == nil { hexDigest = hexString(hasher.finalize()) }
        try downstream?.finish()
    }
}

/// A source that computes SHA-256 of everything read through it.
public final class HashingSource: ByteSource {
    private var hasher = SHA256()
    private let base: ByteSource
    private var finalDigest: String?
    /// Bytes read so far.
    public private(set) var count: Int64 = 0

    public init(_ base: ByteSource) { self.base = base }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        if n > 0 {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            count += Int64(n)
        }
        return n
    }

    /// The SHA-256 of what was read, as lowercase hex. Call once the stream is fully read.
    public func hexDigest() -> String {
        if let finalDigest { return finalDigest }
        let value = hexString(hasher.finalize())
        finalDigest = value
        return value
    }
}

/// SHA-256 computed on another thread: byte ranges handed to `add` are hashed in order while the
/// caller goes on, which puts a second core to work on verified reads. At most `inFlight`
/// ranges are queued at once; the caller keeps each range unchanged until `inFlight` later ones
/// were added (or `finish` returned).
public final class BackgroundHasher: @unchecked Sendable {
    private let queue = DispatchQueue(label: "harden.hash")
    private let slots: DispatchSemaphore
    private var hasher = SHA256()

    public init(inFlight: Int) { slots = DispatchSemaphore(value: inFlight) }

    /// Queues `bytes` to be hashed after those before it (waits while `inFlight` are queued).
    public func add(_ bytes: UnsafeRawBufferPointer) {
        slots.wait()
        nonisolated(unsafe) let range = bytes
        queue.async {
            self.hasher.update(bufferPointer: range)
            self.slots.signal()
        }
    }

    /// Waits for every queued range and returns the SHA-256 of them all, as lowercase hex.
    public func finish() -> String {
        queue.sync { hexString(hasher.finalize()) }
    }

    /// Waits until nothing is queued (before the caller frees the memory it handed over).
    public func drain() { queue.sync {} }
}
