import CLzma

/// A source that decompresses xz (and concatenated xz streams) read from `base`.
/// Memory is capped by `memoryLimit`; a stream that ends early or fails its check is an error.
public final class XzDecompressor: ByteSource {
    private let stream = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
    private let input = UnsafeMutablePointer<UInt8>.allocate(capacity: streamBufferSize)
    private let base: ByteSource
    private var inputEnded = false
    private var done = false

    public init(_ base: ByteSource, memoryLimit: UInt64 = 1 << 30) throws {
        self.base = base
        stream.initialize(to: lzma_stream())
        let status = lzma_stream_decoder(stream, memoryLimit, 0x08 /* LZMA_CONCATENATED */)
        if status != LZMA_OK {
            stream.deallocate()
            input.deallocate()
            throw ArchiveError.codec("xz: decoder init failed (\(status.rawValue))")
        }
    }

    deinit {
        lzma_end(stream)
        stream.deallocate()
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0, !done else { return 0 }
        stream.pointee.next_out = out.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = buffer.count
        while stream.pointee.avail_out == buffer.count {
            if stream.pointee.avail_in == 0 && !inputEnded {
                let n = try base.read(into: UnsafeMutableRawBufferPointer(start: input, count: streamBufferSize))
                stream.pointee.next_in = UnsafePointer(input)
                stream.pointee.avail_in = n
                if n == 0 { inputEnded = true }
            }
            let status = lzma_code(stream, inputEnded ? LZMA_FINISH : LZMA_RUN)
            switch status {
            case LZMA_OK:
                continue
            case LZMA_STREAM_END:
                done = true
            case LZMA_BUF_ERROR:
                throw ArchiveError.truncated("xz stream ends early")
            case LZMA_DATA_ERROR, LZMA_FORMAT_ERROR, LZMA_OPTIONS_ERROR:
                throw ArchiveError.malformed("xz: corrupt or unsupported data (\(status.rawValue))")
            case LZMA_MEMLIMIT_ERROR:
                throw ArchiveError.codec("xz: stream needs more memory than the limit")
            default:
                throw ArchiveError.codec("xz: decoder failed (\(status.rawValue))")
            }
            if done { break }
        }
        return buffer.count - stream.pointee.avail_out
    }
}
