import CZstd

private func zstdCheck(_ code: Int, _ what: String) throws -> Int {
    if ZSTD_isError(code) != 0 {
        throw ArchiveError.codec("zstd: \(what): \(String(cString: ZSTD_getErrorName(code)))")
    }
    return code
}

/// A sink that zstd-compresses into `downstream` (single-threaded, with a content checksum).
/// The output depends only on the input and the level.
public final class ZstdCompressor: ByteSink {
    private let context: OpaquePointer
    private let output = UnsafeMutableRawPointer.allocate(byteCount: streamBufferSize, alignment: 16)
    private let downstream: ByteSink
    private var finished = false

    /// - Parameter level: 1 (fast) to 19 (small); 3 is zstd's default.
    public init(_ downstream: ByteSink, level: Int32 = 3) throws {
        guard let context = ZSTD_createCCtx() else {
            output.deallocate()
            throw ArchiveError.codec("zstd: cannot create a context")
        }
        self.context = context
        self.downstream = downstream
        do {
            _ = try zstdCheck(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "level")
            _ = try zstdCheck(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "checksum")
        } catch {
            ZSTD_freeCCtx(context)
            output.deallocate()
            throw error
        }
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ArchiveError.codec("zstd: write after finish") }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try step(&input, ZSTD_e_continue)
        }
    }

    public func finish() throws {
        guard !finished else { return }
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
        finished = true
        try downstream.finish()
    }

    @discardableResult
    private func step(_ input: inout ZSTD_inBuffer, _ mode: ZSTD_EndDirective) throws -> Int {
        var out = ZSTD_outBuffer(dst: output, size: streamBufferSize, pos: 0)
        let remaining = try zstdCheck(ZSTD_compressStream2(context, &out, &input, mode), "compress")
        if out.pos > 0 { try downstream.write(UnsafeRawBufferPointer(start: output, count: out.pos)) }
        return remaining
    }
}

/// A source that decompresses zstd frames read from `base`. A frame that ends early is an error.
/// Window sizes are capped at zstd's default limit (128 MiB), which bounds memory on hostile input.
public final class ZstdDecompressor: ByteSource {
    private let context: OpaquePointer
    private let inputBuffer = UnsafeMutableRawPointer.allocate(byteCount: streamBufferSize, alignment: 16)
    private var input: ZSTD_inBuffer
    private let base: ByteSource
    private var inputEnded = false
    private var frameOpen = false

    public init(_ base: ByteSource) throws {
        guard let context = ZSTD_createDCtx() else {
            inputBuffer.deallocate()
            throw ArchiveError.codec("zstd: cannot create a context")
        }
        self.context = context
        self.base = base
        input = ZSTD_inBuffer(src: inputBuffer, size: 0, pos: 0)
    }

    deinit {
        ZSTD_freeDCtx(context)
        inputBuffer.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while out.pos == 0 {
            if input.pos == input.size && !inputEnded {
                let n = try base.read(into: UnsafeMutableRawBufferPointer(start: inputBuffer, count: streamBufferSize))
                input = ZSTD_inBuffer(src: inputBuffer, size: n, pos: 0)
                if n == 0 { inputEnded = true }
            }
            if input.pos == input.size && inputEnded {
                if frameOpen { throw ArchiveError.truncated("zstd frame ends early") }
                return 0
            }
            let hint = try zstdCheck(ZSTD_decompressStream(context, &out, &input), "decompress")
            frameOpen = hint != 0
        }
        return out.pos
    }
}
