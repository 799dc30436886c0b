import Archive
import Testing
import Debian

/// A source that hands out at most `step` bytes per read, to exercise chunk boundaries.
final class TricklingSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    private let step: Int
    init(_ bytes: [UInt8], step: Int) { self.bytes = bytes; self.step = step }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, step, bytes.count - offset)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
        offset += n
        return n
    }
}

func streamed(_ bytes: [UInt8], step: Int = 1 << 20) throws -> [ControlParagraph] {
    var paragraphs: [ControlParagraph] = []
    try ControlFile.forEachParagraph(in: TricklingSource(bytes, step: step)) { paragraphs.append($0) }
    return paragraphs
}

/// Fields of every paragraph, for comparing two parses.
func dump(_ paragraphs: [ControlParagraph]) -> [[String]] {
    paragraphs.map { p in p.fields.map { "\($0.name)=\($0.value)" } + ["@\(p.lineNumber)"] }
}

@Suite struct ControlFileTests {
    @Test func basicParagraphs() throws {
        let text = """
            Package: hello
            Version: 2.10-3
            Description: example package
             A longer description
             .
             with a paragraph break.
            Multi-Arch:   foreign  \t

            Package: world
            Depends: libc6 (>= 2.34)
            """
        let paragraphs = try ControlFile.parse(text)
        try #require(paragraphs.count == 2)
        let hello = paragraphs[0]
        #expect(hello["Package"] == "hello")
        #expect(hello["package"] == "hello")
        #expect(hello["PACKAGE"] == "hello")
        #expect(hello["Description"] == "example package\n A longer description\n .\n with a paragraph break.")
        #expect(hello["Multi-Arch"] == "foreign")
        #expect(hello["Missing"] == nil)
        #expect(hello.fieldNames == ["Package", "Version", "Description", "Multi-Arch"])
        #expect(hello.lineNumber == 1)
        #expect(hello.contains("version") && hello.count == 4)
        #expect(paragraphs[1].lineNumber == 9)
        // Final paragraph without a trailing newline.
        #expect(paragraphs[1]["Depends"] == "libc6 (>= 2.34)")
    }

    @Test func emptyFirstLineAndEmptyValues() throws {
        let text = "Origin: Debian\nSHA256:\n abc 12 main/Packages\n def 34 main/Sources\nEmpty:\nSpaces:   \n"
        let p = try #require(try ControlFile.parse(text).first)
        #expect(p["SHA256"] == "\n abc 12 main/Packages\n def 34 main/Sources")
        #expect(p["Empty"] == "")
        #expect(p["Spaces"] == "")
        #expect(p.formatted() == text.replacingOccurrences(of: "Spaces:   ", with: "Spaces:"))
    }

    @Test func blankLinesWithWhitespaceSeparateParagraphs() throws {
        let text = "\n\n \t\nA: 1\n  \nB: 2\n\t\n\n\nC: 3\n \n"
        let paragraphs = try ControlFile.parse(text)
        #expect(paragraphs.map { $0.fieldNames } == [["A"], ["B"], ["C"]])
        #expect(paragraphs.map(\.lineNumber) == [4, 6, 10])
        #expect(try ControlFile.parse("").isEmpty)
        #expect(try ControlFile.parse("\n \n\t\n").isEmpty)
    }

    @Test func commentsAreSkipped() throws {
        let text = """
            # Debian sources
            Types: deb
            # a comment between fields
            URIs: http://deb.debian.org/debian
            Suites: bookworm
             bookworm-updates
            # a comment inside a value
             bookworm-backports
            Components: main
            #Signed-By: /nothing

            # trailing comment
            """
        let paragraphs = try ControlFile.parse(text)
        try #require(paragraphs.count == 1)
        let p = paragraphs[0]
        #expect(p.fieldNames == ["Types", "URIs", "Suites", "Components"])
        #expect(p["Suites"] == "bookworm\n bookworm-updates\n bookworm-backports")
        #expect(p["Components"] == "main")
        #expect(p.lineNumber == 2)
    }

    @Test func crlfAndByteOrderMark() throws {
        let text = "\u{FEFF}Package: a\r\nDescription: x\r\n line two\r\n .\r\n\r\nPackage: b\r\nVersion: 1\r\n"
        let paragraphs = try ControlFile.parse(text)
        try #require(paragraphs.count == 2)
        #expect(paragraphs[0].fieldNames == ["Package", "Description"])
        #expect(paragraphs[0]["Package"] == "a")
        #expect(paragraphs[0]["Description"] == "x\n line two\n .")
        #expect(paragraphs[1]["Version"] == "1")
        #expect(paragraphs[1].lineNumber == 6)
        #expect(dump(try streamed(Array(text.utf8), step: 3)) == dump(paragraphs))
    }

    @Test(arguments: [
        ("A: 1\nA: 2\n", 2, "field 'A' repeated in one paragraph"),
        ("Package: x\nversion: 1\nVERSION: 2\n", 3, "field 'VERSION' repeated in one paragraph"),
        (" continued\nA: 1\n", 1, "continuation line before any field"),
        ("A: 1\n\n continued\n", 3, "continuation line before any field"),
        ("A: 1\nno colon here\n", 2, "line is not a field (no colon): 'no colon here'"),
        ("A: 1\n: value\n", 2, "empty field name"),
        ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n", 1,
         "line is not a field (no colon): '-----BEGIN PGP SIGNED MESSAGE-----'"),
        ("A: 1\n-B: 2\n", 2, "field name starts with '-' (an OpenPGP armor line?)"),
        ("A: 1\nBad Name: 2\n", 2, "invalid character in field name 'Bad Name'"),
        ("X: 1\r\n\r\nA: 1\r\nB\r\n", 4, "line is not a field (no colon): 'B'"),
    ])
    func malformed(text: String, line: Int, reason: String) throws {
        #expect(throws: DebianError.malformedControl(line: line, reason: reason)) { try ControlFile.parse(text) }
        #expect(throws: DebianError.malformedControl(line: line, reason: reason)) {
            try streamed(Array(text.utf8), step: 1)
        }
    }

    @Test func buildingAndFormatting() throws {
        let p = ControlParagraph(fields: [
            ("Package", "demo"),
            ("Description", "short\nlong line\n\n indented"),
            ("Files", "\n abc 1 a.dsc"),
        ])
        #expect(p["package"] == "demo")
        #expect(p["Description"] == "short\nlong line\n\n indented")
        #expect(p.fieldNames == ["Package", "Description", "Files"])
        #expect(p.lineNumber == 0)
        let text = p.formatted()
        #expect(text == "Package: demo\nDescription: short\n long line\n .\n indented\nFiles:\n abc 1 a.dsc\n")
        let reparsed = try #require(try ControlFile.parse(text).first)
        #expect(reparsed["Files"] == "\n abc 1 a.dsc")
        #expect(reparsed.formatted() == text)
    }

    @Test func parsedParagraphRoundTrips() throws {
        let text = "Package: x\nDescription: a\n b\n .\n  c\nTag: t\n"
        let p = try #require(try ControlFile.parse(text).first)
        #expect(p.formatted() == text)
    }

    /// A synthetic index larger than several chunks, with a paragraph bigger than a chunk, parsed whole
    /// and streamed with reads of awkward sizes: the same paragraphs with the same line numbers.
    @Test func streamingAcrossChunkBoundaries() throws {
        var text = ""
        for i in 0..<4000 {
            text += "Package: pkg\(i)\nVersion: 1.\(i)-1\nDescription: package \(i)\n"
            for j in 0..<(i % 7) { text += " line \(j) of \(i)\n" }
            text += i % 5 == 0 ? "\n \t\n" : "\n"
        }
        text += "Package: huge\nDescription: big\n"
        for j in 0..<20000 { text += " line \(j) of the huge paragraph\n" }
        text += "\nPackage: last\nVersion: 9"
        let bytes = Array(text.utf8)
        #expect(bytes.count > 3 * ControlFile.chunkSize)
        let whole = try ControlFile.parse(bytes)
        #expect(whole.count == 4002)
        #expect(whole[4000]["Description"]?.split(separator: "\n").count == 20001)
        #expect(whole[4001]["Version"] == "9")
        let expected = dump(whole)
        for step in [1 << 20, 65536, 4093] {
            #expect(dump(try streamed(bytes, step: step)) == expected, "step \(step)")
        }
    }

    @Test func streamedParagraphSizeIsBounded() throws {
        var bytes = Array("Package: big\nDescription: x\n".utf8)
        let line = Array(" 0123456789012345678901234567890123456789012345678901234567890123456789\n".utf8)
        while bytes.count <= ControlFile.maxStreamedParagraphSize { bytes += line }
        #expect(throws: DebianError.malformedControl(
            line: 1, reason: "paragraph larger than \(ControlFile.maxStreamedParagraphSize) bytes")) {
            try ControlFile.forEachParagraph(in: MemorySource(bytes)) { _ in }
        }
    }
}
