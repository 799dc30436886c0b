import Archive
import Foundation
import Testing
import TestSupport

func compress(_ bytes: [UInt8], _ format: Compression) throws -> [UInt8] {
    let sink = MemorySink()
    let compressor = try format.compressing(into: sink)
    // Feed in uneven pieces to exercise the streaming paths.
    var offset = 0
    var step = 1
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        try compressor.write(Array(bytes[offset..<end]))
        offset = end
        step = step * 3 + 7
    }
    try compressor.finish()
    return sink.bytes
}

func decompress(_ bytes: [UInt8], _ format: Compression) throws -> [UInt8] {
    try format.decompressing(MemorySource(bytes)).readAll()
}

@Suite struct CodecTests {
    let data = pseudoRandomBytes(count: 3_000_000, textLike: true) + pseudoRandomBytes(count: 500_000)

    @Test(arguments: [Compression.gzip, .zstd])
    func roundTripIsExactAndDeterministic(format: Compression) throws {
        let packed = try compress(data, format)
        #expect(packed.count < data.count)
        #expect(try compress(data, format) == packed)
        #expect(try decompress(packed, format) == data)
        #expect(Compression.detect(packed) == format)
    }

    @Test func gzipHeaderHasNoNameNoTimeAndOS255() throws {
        let packed = try compress(Array("hello".utf8), .gzip)
        #expect(Array(packed[0..<4]) == [0x1f, 0x8b, 8, 0]) // magic, deflate, no flags (no name)
        #expect(Array(packed[4..<8]) == [0, 0, 0, 0]) // mtime 0
        #expect(packed[9] == 255)
    }

    @Test func emptyInputRoundTrips() throws {
        for format in [Compression.gzip, .zstd] {
            #expect(try decompress(try compress([], format), format) == [])
        }
    }

    @Test func cToolsReadWhatWeWrite() throws {
        let dir = try TemporaryDirectory()
        let gz = try dir.write("data.gz", try compress(data, .gzip))
        let zst = try dir.write("data.zst", try compress(data, .zstd))
        #expect(try run("gzip", ["-dc", gz]).stdout == data)
        #expect(try run("zstd", ["-dc", zst]).stdout == data)
    }

    @Test func weReadWhatCToolsWrite() throws {
        let dir = try TemporaryDirectory()
        let plain = try dir.write("data", data)
        #expect(try decompress(try run("gzip", ["-c", "-9", plain]).stdout, .gzip) == data)
        #expect(try decompress(try run("zstd", ["-c", "-q", "-19", plain]).stdout, .zstd) == data)
        #expect(try decompress(try run("xz", ["-c", "-T2", plain]).stdout, .xz) == data)
        // Concatenated members and streams, as `cat a.gz b.gz` gives.
        let twice = try run("gzip", ["-c", plain]).stdout + (try run("gzip", ["-c", plain]).stdout)
        #expect(try decompress(twice, .gzip) == data + data)
        let xzTwice = try run("xz", ["-c", plain]).stdout + (try run("xz", ["-c", plain]).stdout)
        #expect(try decompress(xzTwice, .xz) == data + data)
    }

    @Test(arguments: ["gzip", "zstd", "xz"])
    func truncatedStreamIsATypedError(tool: String) throws {
        let dir = try TemporaryDirectory()
        let plain = try dir.write("data", data)
        let packed = try run(tool, ["-c", plain]).stdout
        let format = Compression.detect(packed)
        for cut in [packed.count - 1, packed.count - 9, packed.count / 2, 20] {
            let error = #expect(throws: ArchiveError.self) { _ = try decompress(Array(packed.prefix(cut)), format) }
            if case .truncated = error {} else if case .malformed = error {} else {
                Issue.record("\(tool) cut at \(cut): unexpected \(String(describing: error))")
            }
        }
    }

    @Test(arguments: [Compression.gzip, .zstd, .xz])
    func corruptStreamIsAnError(format: Compression) throws {
        let dir = try TemporaryDirectory()
        let plain = try dir.write("data", data)
        let tool = ["gzip": "gzip", "zstd": "zstd", "xz": "xz"][format.rawValue]!
        var packed = try run(tool, ["-c", plain]).stdout
        packed[packed.count / 2] ^= 0x55
        #expect(throws: ArchiveError.self) { _ = try decompress(packed, format) }
    }

    @Test func hashingMatchesSha256sum() throws {
        let dir = try TemporaryDirectory()
        let plain = try dir.write("data", data)
        let expected = String(try runChecked("sha256sum", [plain]).prefix(64))
        let sink = HashingSink(MemorySink())
        try sink.write(data)
        try sink.finish()
        #expect(sink.hexDigest == expected)
        #expect(sink.count == Int64(data.count))
        let source = HashingSource(try FileSource(path: plain))
        try source.pump(into: CountingSink())
        #expect(source.hexDigest() == expected)
        #expect(sha256Hex(data) == expected)
    }

    @Test func hashesOnBothSidesOfACompressorInOnePass() throws {
        let fileHash = HashingSink(MemorySink())
        let gzip = try GzipCompressor(fileHash)
        let tarHash = HashingSink(gzip)
        try tarHash.write(data)
        try tarHash.finish()
        #expect(tarHash.hexDigest == sha256Hex(data))
        #expect(fileHash.hexDigest == sha256Hex(try compress(data, .gzip)))
    }
}
