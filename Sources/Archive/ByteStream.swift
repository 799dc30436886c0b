import Foundation

/// A destination for a stream of bytes: a file, memory, a compressor or a hasher in front of another sink.
///
/// Sinks are chained (`tar → hash → gzip → hash → file`) and used by one task at a time.
public protocol ByteSink: AnyObject {
    /// Consumes `bytes`. The buffer is only valid during the call.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes everything buffered and finishes the stream (and the sinks behind this one).
    func finish() throws
}

/// A stream of bytes that can be read in order: a file, memory, a decompressor or a hasher over another source.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer` and returns how many were read; 0 means the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Passes over exactly `count` bytes; fails if the stream ends first. By default the bytes
    /// are read and discarded; a file seeks instead.
    func skip(_ count: Int64) throws
}

/// The buffer size used when bytes are pumped from a source to a sink.
public let streamBufferSize = 256 * 1024

extension ByteSink {
    /// Writes the bytes of any contiguous collection.
    public func write<C: ContiguousBytes>(_ bytes: C) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes a string's UTF-8 bytes.
    public func write(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }
}

extension ByteSource {
    /// Reads until `buffer` is full or the stream ends; returns the count read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads the whole remaining stream into memory, refusing more than `limit` bytes.
    public func readAll(limit: Int = Int.max) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return result }
            if result.count + n > limit { throw ArchiveError.tooLarge(limit: limit) }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// Copies the whole remaining stream into `sink` (without finishing it); returns the byte count.
    @discardableResult
    public func pump(into sink: ByteSink, bufferSize: Int = streamBufferSize) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try read(into: buffer)
            if n == 0 { return total }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
    }

    /// Reads and discards exactly `count` bytes; fails if the stream ends first.
    public func skip(_ count: Int64) throws { try discard(count) }

    /// Reads and discards exactly `count` bytes; fails if the stream ends first.
    public func discard(_ count: Int64) throws {
        if count == 0 { return }
        let size = Int(min(count, Int64(streamBufferSize)))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var left = count
        while left > 0 {
            let want = Int(min(left, Int64(size)))
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            if n == 0 { throw ArchiveError.truncated("stream ended \(left) bytes early") }
            left -= Int64(n)
        }
    }
}

/// A sink that collects everything in memory.
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var isFinished = false

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }

    public func finish() throws { isFinished = true }
}

/// A sink that counts and discards bytes.
public final class CountingSink: ByteSink {
    public private(set) var count: Int64 = 0
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { count += Int64(bytes.count) }
    public func finish() throws {}
}

/// A source over bytes held in memory.
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 { self.bytes = Array(bytes) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n)]))
        }
        offset += n
        return n
    }
}

/// A source that yields at most `limit` bytes of another source (a member inside an archive).
public final class LimitedSource: ByteSource {
    private let base: ByteSource
    public private(set) var remaining: Int64

    public init(_ base: ByteSource, limit: Int64) {
        self.base = base
        self.remaining = limit
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if remaining <= 0 { return 0 }
        let want = Int(min(Int64(buffer.count), remaining))
        let n = try base.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        if n == 0 { throw ArchiveError.truncated("member ended \(remaining) bytes early") }
        remaining -= Int64(n)
        return n
    }

    /// Discards what is left of the member.
    public func drain() throws {
        try base.skip(remaining)
        remaining = 0
    }
}
