import Archive
import Foundation
import Testing
import TestSupport

/// The limits that bound memory and time on hostile input: each is refused with a typed error.
@Suite struct LimitTests {
    /// Reads a whole tar stream, draining every entry.
    func drain(_ source: ByteSource) throws {
        let tar = TarReader(source)
        while try tar.next() != nil { _ = try tar.contents.pump(into: CountingSink()) }
    }

    @Test("a gzip bomb (10 GiB in about 10 MiB) is refused after 64 MiB of output, not decompressed")
    func gzipBomb() throws {
        let bomb = try HostileArchives.gzipBomb(decompressed: 10 << 30)
        #expect(bomb.count < 12 << 20, "the bomb is \(bomb.count) bytes")
        let started = Date()
        #expect {
            try drain(try Compression.gzip.decompressing(MemorySource(bomb)))
        } throws: { error in
            guard case ArchiveError.limitExceeded(let what) = error else { return false }
            return what.contains("gzip") && what.contains("200:1") && what.contains(DecompressionLimit.environmentVariable)
        }
        // Past the 64 MiB floor it stops at once: far less time than inflating 10 GiB would take.
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test("a stream under the floor or the ratio passes; a ratio of 0 turns the check off")
    func withinLimits() throws {
        let small = try HostileArchives.gzipBomb(decompressed: 32 << 20)  // ratio 1000, under 64 MiB
        _ = try Compression.gzip.decompressing(MemorySource(small)).pump(into: CountingSink())
        let bigger = try HostileArchives.gzipBomb(decompressed: 96 << 20)
        #expect(throws: ArchiveError.self) { _ = try Compression.gzip.decompressing(MemorySource(bigger)).pump(into: CountingSink()) }
        let unchecked = try Compression.gzip.decompressing(MemorySource(bigger), limit: DecompressionLimit(ratio: 0))
        #expect(try unchecked.pump(into: CountingSink()) == 96 << 20)
        let generous = try Compression.gzip.decompressing(MemorySource(bigger), limit: DecompressionLimit(ratio: 2000))
        #expect(try generous.pump(into: CountingSink()) == 96 << 20)
    }

    @Test("the same bound holds for zstd and xz")
    func otherFormats() throws {
        let zeros = [UInt8](repeating: 0, count: 80 << 20)
        let zstd = MemorySink()
        let compressor = try ZstdCompressor(zstd)
        try compressor.write(zeros)
        try compressor.finish()
        #expect(throws: ArchiveError.self) { _ = try Compression.zstd.decompressing(MemorySource(zstd.bytes)).pump(into: CountingSink()) }
        let dir = try TemporaryDirectory()
        let plain = try dir.write("zeros", zeros)
        try runChecked("xz", ["-k", "-0", plain])
        let xz = try FileSystem.read(plain + ".xz", limit: 1 << 30)
        #expect {
            _ = try Compression.xz.decompressing(MemorySource(xz)).pump(into: CountingSink())
        } throws: { error in
            guard case ArchiveError.limitExceeded(let what) = error else { return false }
            return what.contains("xz stream")
        }
    }

    @Test("a PAX header claiming a size of 2^62 is refused before anything is read")
    func paxHugeSize() throws {
        #expect {
            try drain(MemorySource(try HostileArchives.paxHugeSize()))
        } throws: { error in
            guard case ArchiveError.limitExceeded(let what) = error else { return false }
            return what.contains("usr/share/huge") && what.contains("4611686018427387904") && what.contains("64 GiB")
        }
    }
}
