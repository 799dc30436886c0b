import Foundation

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

    /// A source yielding the decompressed bytes of `source`, refusing a stream that expands past
    /// `limit` (a decompression bomb).
    public func decompressing(_ source: ByteSource, limit: DecompressionLimit = .standard) throws -> ByteSource {
        if self == .none { return source }
        let input = CountingSource(source)
        let decompressor: ByteSource = switch self {
        case .none: input
        case .gzip: try GzipDecompressor(input)
        case .zstd: try ZstdDecompressor(input)
        case .xz: try XzDecompressor(input)
        }
        return RatioGuard(decompressor, input: input, limit: limit, format: self)
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

/// How far a compressed stream may expand. Past `floor` bytes of output, the output may be at most
/// `ratio` times the compressed bytes read so far; a stream that expands more is refused with
/// `ArchiveError.limitExceeded` (a gzip of 10 GB of zeros is 10 MB, a ratio of 1000).
/// Debian's own packages stay under 13:1.
public struct DecompressionLimit: Sendable, Equatable {
    public var ratio: Int64
    public var floor: Int64

    public init(ratio: Int64, floor: Int64 = DecompressionLimit.defaultFloor) {
        self.ratio = ratio
        self.floor = floor
    }

    public static let defaultRatio: Int64 = 200
    public static let defaultFloor: Int64 = 64 << 20
    /// The environment variable that overrides `defaultRatio` (0 turns the check off).
    public static let environmentVariable = "HARDEN_MAX_DECOMPRESSION_RATIO"

    /// The default, or the ratio `HARDEN_MAX_DECOMPRESSION_RATIO` names.
    public static var standard: DecompressionLimit {
        if let text = ProcessInfo.processInfo.environment[environmentVariable], let ratio = Int64(text), ratio >= 0 {
            return DecompressionLimit(ratio: ratio)
        }
        return DecompressionLimit(ratio: defaultRatio)
    }
}

/// Counts the bytes read from another source.
final class CountingSource: ByteSource {
    private let base: ByteSource
    private(set) var count: Int64 = 0
    init(_ base: ByteSource) { self.base = base }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        count += Int64(n)
        return n
    }
}

/// Stops a decompressor whose output outgrows its input by more than the limit allows.
final class RatioGuard: ByteSource {
    private let base: ByteSource
    private let input: CountingSource
    private let limit: DecompressionLimit
    private let format: Compression
    private var produced: Int64 = 0

    init(_ base: ByteSource, input: CountingSource, limit: DecompressionLimit, format: Compression) {
        self.base = base
        self.input = input
        self.limit = limit
        self.format = format
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        produced += Int64(n)
        if limit.ratio > 0, produced > limit.floor, produced / max(input.count, 1) > limit.ratio {
            throw ArchiveError.limitExceeded("a \(format.rawValue) stream expanded \(input.count) bytes into more than \(produced): "
                + "over the \(limit.ratio):1 decompression limit, a likely decompression bomb "
                + "(\(DecompressionLimit.environmentVariable) raises it)")
        }
        return n
    }
}
