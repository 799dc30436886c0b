import CZlib

/// A sink that gzip-compresses into `downstream` with a deterministic header:
/// no file name, mtime 0, OS byte 255 (unknown), so the same input gives the same bytes on every machine.
public final class GzipCompressor: ByteSink {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let header = UnsafeMutablePointer<gz_header>.allocate(capacity: 1)
    private let output = UnsafeMutablePointer<UInt8>.allocate(capacity: streamBufferSize)
    private let downstream: ByteSink
    private var finished = false

    /// - Parameter level: zlib level 1 (fast) to 9 (small); 6 is gzip's default.
    public init(_ downstream: ByteSink, level: Int32 = 6) throws {
        self.downstream = downstream
        stream.initialize(to: z_stream())
        header.initialize(to: gz_header())
        header.pointee.os = 255
        // windowBits 15 + 16 asks zlib for a gzip wrapper instead of a zlib one.
        var status = deflateInit2_(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if status == Z_OK { status = deflateSetHeader(stream, header) }
        if status != Z_OK {
            releaseBuffers()
            throw ArchiveError.codec("gzip: deflateInit2 failed (\(status))")
        }
    }

    deinit {
        if !finished { deflateEnd(stream) }
        releaseBuffers()
    }

    private func releaseBuffers() {
        stream.deallocate()
        header.deallocate()
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError.codec("gzip: write after finish") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(bytes.count)
        repeat {
            try deflateStep(flush: Z_NO_FLUSH)
        } while stream.pointee.avail_in > 0
        stream.pointee.next_in = nil
    }

    public func finish() throws {
        guard !finished else { return }
        while try deflateStep(flush: Z_FINISH) != Z_STREAM_END {}
        deflateEnd(stream)
        finished = true
        try downstream.finish()
    }

    @discardableResult
    private func deflateStep(flush: Int32) throws -> Int32 {
        stream.pointee.next_out = output
        stream.pointee.avail_out = UInt32(streamBufferSize)
        let status = deflate(stream, flush)
        if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
            throw ArchiveError.codec("gzip: deflate failed (\(status))")
        }
        let produced = streamBufferSize - Int(stream.pointee.avail_out)
        if produced > 0 { try downstream.write(UnsafeRawBufferPointer(start: output, count: produced)) }
        return status
    }
}

/// A source that decompresses gzip (one or several concatenated members) read from `base`.
/// A stream that ends early, or a bad CRC, is an error.
public final class GzipDecompressor: ByteSource {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let input = UnsafeMutablePointer<UInt8>.allocate(capacity: streamBufferSize)
    private let base: ByteSource
    private var inputEnded = false
    private var memberEnded = false
    private var done = false

    public init(_ base: ByteSource) throws {
        self.base = base
        stream.initialize(to: z_stream())
        // windowBits 15 + 16 accepts gzip only.
        let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if status != Z_OK {
            stream.deallocate()
            input.deallocate()
            throw ArchiveError.codec("gzip: inflateInit2 failed (\(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    private func refill() throws {
        let n = try base.read(into: UnsafeMutableRawBufferPointer(start: input, count: streamBufferSize))
        if n == 0 { inputEnded = true }
        stream.pointee.next_in = input
        stream.pointee.avail_in = UInt32(n)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0, !done else { return 0 }
        stream.pointee.next_out = out.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = UInt32(min(buffer.count, Int(UInt32.max)))
        while true {
            if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
            if memberEnded {
                // Another member follows only if more input remains.
                if stream.pointee.avail_in == 0 {
                    if inputEnded { done = true; break }
                    continue
                }
                inflateReset(stream)
                memberEnded = false
            }
            if stream.pointee.avail_in == 0 && inputEnded {
                throw ArchiveError.truncated("gzip stream ends before its trailer")
            }
            let status = inflate(stream, Z_NO_FLUSH)
            switch status {
            case Z_STREAM_END:
                memberEnded = true
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_DATA_ERROR:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw ArchiveError.malformed("gzip: \(message)")
            default:
                throw ArchiveError.codec("gzip: inflate failed (\(status))")
            }
            if stream.pointee.avail_out == 0 { break }
            let produced = buffer.count - Int(stream.pointee.avail_out)
            if produced > 0 && stream.pointee.avail_in == 0 && !memberEnded { break }
        }
        return buffer.count - Int(stream.pointee.avail_out)
    }
}
