/// The compression formats Harden reads and writes.
public enum Compression: String, Sendable, CaseIterable, Codable {
    case none
    case gzip
    case zstd
    case xz

    /// Guesses the format from a stream's first bytes (magic numbers); `.none` when none matches.
    public static func detect<C: Collection>(_ prefix: C) -> Compression where C.Element == UInt8 {
        let bytes = Array(prefix.prefix(6))
        if bytes.starts(with: [0x1f, 0x8b]) { return .gzip }
        if bytes.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return .zstd }
        if bytes.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return .xz }
        return .none
    }

    /// A source yielding the decompressed bytes of `source`.
    public func decompressing(_ source: ByteSource) throws -> ByteSource {
        switch self {
        case .none: source
        case .gzip: try GzipDecompressor(source)
        case .zstd: try ZstdDecompressor(source)
        case .xz: try XzDecompressor(source)
        }
    }

    /// A sink that compresses into `sink` at the format's default level. xz is read-only.
    public func compressing(into sink: ByteSink) throws -> ByteSink {
        switch self {
        case .none: sink
        case .gzip: try GzipCompressor(sink)
        case .zstd: try ZstdCompressor(sink)
        case .xz: throw ArchiveError.unsupported("xz compression (Harden only decompresses xz)")
        }
    }

    /// The compression named by a file name's extension (`.gz`, `.xz`, `.zst`), or `.none`.
    public static func forFileName(_ name: String) -> Compression {
        if name.hasSuffix(".gz") || name.hasSuffix(".tgz") { return .gzip }
        if name.hasSuffix(".zst") { return .zstd }
        if name.hasSuffix(".xz") { return .xz }
        return .none
    }
}

/// A source that lets its first bytes be peeked (to detect a format) before they are read.
public final class PeekableSource: ByteSource {
    private let base: ByteSource
    private var pending: [UInt8] = []

    public init(_ base: ByteSource) { self.base = base }

    /// Returns up to `count` first bytes without consuming them.
    public func peek(_ count: Int) throws -> [UInt8] {
        while pending.count < count {
            var chunk = [UInt8](repeating: 0, count: count - pending.count)
            let n = try chunk.withUnsafeMutableBytes { try base.read(into: $0) }
            if n == 0 { break }
            pending.append(contentsOf: chunk[0..<n])
        }
        return Array(pending.prefix(count))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if pending.isEmpty { return try base.read(into: buffer) }
        let n = min(buffer.count, pending.count)
        pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        pending.removeFirst(n)
        return n
    }
}
