import Archive
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one field lies inside a paragraph's bytes, relative to the paragraph's first byte.
struct FieldSpan: Sendable {
    var nameStart: UInt32
    var nameLength: UInt32
    var valueStart: UInt32
    var valueEnd: UInt32
}

/// One paragraph (stanza) of a deb822 control file: an ordered list of fields.
///
/// A parsed paragraph keeps the raw bytes it came from (shared with its neighbours) and the offsets of
/// its fields; strings are only created when a field is read.
public struct ControlParagraph: Sendable {
    /// The bytes the paragraph lives in (shared, never mutated).
    let storage: [UInt8]
    /// Offset of the paragraph's first byte in `storage`.
    let base: Int
    /// The fields, in file order.
    let spans: [FieldSpan]
    /// Whether values may hold CRLF line ends or comment lines that must be removed when read.
    let needsCleanup: Bool
    /// The 1-based line of the paragraph's first field (0 for a paragraph built in code).
    public let lineNumber: Int

    init(storage: [UInt8], base: Int, spans: [FieldSpan], needsCleanup: Bool, lineNumber: Int) {
        self.storage = storage
        self.base = base
        self.spans = spans
        self.needsCleanup = needsCleanup
        self.lineNumber = lineNumber
    }

    /// Builds a paragraph from (name, value) pairs, in order; values are kept exactly as given.
    /// When a name appears twice, lookups find the first.
    public init(fields: [(String, String)]) {
        var bytes: [UInt8] = []
        var spans: [FieldSpan] = []
        spans.reserveCapacity(fields.count)
        for (name, value) in fields {
            let nameStart = bytes.count
            bytes.append(contentsOf: name.utf8)
            let valueStart = bytes.count
            bytes.append(contentsOf: value.utf8)
            spans.append(FieldSpan(nameStart: UInt32(truncatingIfNeeded: nameStart),
                                   nameLength: UInt32(truncatingIfNeeded: valueStart - nameStart),
                                   valueStart: UInt32(truncatingIfNeeded: valueStart),
                                   valueEnd: UInt32(truncatingIfNeeded: bytes.count)))
        }
        self.init(storage: bytes, base: 0, spans: spans, needsCleanup: false, lineNumber: 0)
    }

    /// The value of `field` (name compared case-insensitively), or nil when absent.
    ///
    /// Leading and trailing whitespace of the value is removed; continuation lines are kept as they are
    /// (with their leading space, " ." lines included), joined with "\n". A value whose first line is
    /// empty (as in Release's `SHA256:`) starts with "\n".
    public subscript(_ field: String) -> String? {
        guard let index = index(of: field) else { return nil }
        return value(at: index)
    }

    /// Whether the paragraph has `field` (case-insensitive).
    public func contains(_ field: String) -> Bool { index(of: field) != nil }

    /// The field names, in file order, spelled as in the file.
    public var fieldNames: [String] {
        storage.withUnsafeBufferPointer { buf in
            spans.map { span in
                let start = base + Int(span.nameStart)
                return String(decoding: UnsafeBufferPointer(rebasing: buf[start..<(start + Int(span.nameLength))]),
                              as: UTF8.self)
            }
        }
    }

    /// The (name, value) pairs in file order.
    public var fields: [(name: String, value: String)] {
        zip(fieldNames, spans.indices.map { value(at: $0) }).map { (name: $0, value: $1) }
    }

    /// The number of fields.
    public var count: Int { spans.count }

    /// The paragraph as deb822 text: one "Name: value" per field in order, continuation lines indented,
    /// empty lines inside values written as " ", ending with a newline (no blank separator line).
    public func formatted() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(spans.last.map { Int($0.valueEnd) + 64 } ?? 0)
        let names = fieldNames
        for (index, name) in names.enumerated() {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ":"))
            let value = Array(value(at: index).utf8)
            var lineStart = 0
            var first = true
            while lineStart <= value.count {
                let lineEnd = value[lineStart...].firstIndex(of: 10) ?? value.count
                let line = value[lineStart..<lineEnd]
                if first {
                    if !line.isEmpty { out.append(32); out.append(contentsOf: line) }
                    first = false
                } else {
                    out.append(10)
                    if line.isEmpty {
                        out.append(32); out.append(UInt8(ascii: "."))
                    } else {
                        if line.first != 32 && line.first != 9 { out.append(32) }
                        out.append(contentsOf: line)
                    }
                }
                lineStart = lineEnd + 1
            }
            out.append(10)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Access

    func index(of field: String) -> Int? {
        var key = field
        return key.withUTF8 { key in
            storage.withUnsafeBufferPointer { buf in
                for (index, span) in spans.enumerated() where Int(span.nameLength) == key.count {
                    let start = base + Int(span.nameStart)
                    var equal = true
                    for k in 0..<key.count where asciiLower(buf[start + k]) != asciiLower(key[k]) {
                        equal = false
                        break
                    }
                    if equal { return index }
                }
                return nil
            }
        }
    }

    func value(at index: Int) -> String {
        let span = spans[index]
        let start = base + Int(span.valueStart), end = base + Int(span.valueEnd)
        return storage.withUnsafeBufferPointer { buf in
            let raw = UnsafeBufferPointer(rebasing: buf[start..<end])
            if !needsCleanup { return String(decoding: raw, as: UTF8.self) }
            // Slow path: drop CRs before line ends and comment lines between continuation lines.
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var lineStart = 0
            while lineStart <= raw.count {
                var lineEnd = lineStart
                while lineEnd < raw.count && raw[lineEnd] != 10 { lineEnd += 1 }
                let isComment = lineStart > 0 && lineStart < raw.count && raw[lineStart] == UInt8(ascii: "#")
                if !isComment {
                    var contentEnd = lineEnd
                    if contentEnd > lineStart && raw[contentEnd - 1] == 13 { contentEnd -= 1 }
                    if lineStart > 0 { out.append(10) }
                    out.append(contentsOf: raw[lineStart..<contentEnd])
                }
                lineStart = lineEnd + 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

@inline(__always)
func asciiLower(_ c: UInt8) -> UInt8 { c &- 65 < 26 ? c | 0x20 : c }

/// Parsing of deb822 control data: Packages and Sources indexes, Release files, `.sources` files,
/// `debian/control` and binary package `control` files.
///
/// Rules: fields are `Name: value`; lines starting with a space or tab continue the previous field;
/// blank lines (empty or only spaces/tabs) separate paragraphs; lines starting with `#` are comments
/// and skipped. A repeated field, a continuation line before any field, a line without a colon and a
/// field name with spaces or control characters are `DebianError.malformedControl`. CRLF line ends, a
/// UTF-8 byte order mark and a missing final newline are accepted.
public enum ControlFile {
    /// Parses all paragraphs of `bytes`. The paragraphs share `bytes` (no copy is made).
    public static func parse(_ bytes: [UInt8]) throws -> [ControlParagraph] {
        var scanner = Deb822Scanner(maxParagraphSize: Int(UInt32.max))
        var paragraphs: [ControlParagraph] = []
        _ = try scanner.scan(bytes, from: bomLength(bytes), isFinal: true) { paragraphs.append($0) }
        return paragraphs
    }

    /// Parses all paragraphs of `text`.
    public static func parse(_ text: String) throws -> [ControlParagraph] {
        try parse(Array(text.utf8))
    }

    /// The size of the chunks `forEachParagraph` reads.
    public static let chunkSize = 256 * 1024

    /// The largest paragraph `forEachParagraph` accepts, so that hostile input cannot exhaust memory.
    public static let maxStreamedParagraphSize = 64 << 20

    /// Streams paragraphs from a source (e.g. an XzDecompressor over Packages.xz) with bounded memory.
    ///
    /// The source is read in chunks of `chunkSize` bytes; memory use is about one chunk plus the
    /// largest paragraph (at most `maxStreamedParagraphSize`), unless `body` keeps paragraphs.
    public static func forEachParagraph(in source: ByteSource, _ body: (ControlParagraph) throws -> Void) throws {
        var scanner = Deb822Scanner(maxParagraphSize: maxStreamedParagraphSize)
        var carry: [UInt8] = []
        var resume = 0
        var first = true
        while true {
            let want = max(chunkSize, carry.count)
            var readCount = 0
            let buffer = try [UInt8](unsafeUninitializedCapacity: carry.count + want) { raw, initialized in
                guard let base = raw.baseAddress else { return }
                carry.withUnsafeBufferPointer { c in
                    if let from = c.baseAddress { base.initialize(from: from, count: c.count) }
                }
                initialized = carry.count
                readCount = try source.readFully(into: UnsafeMutableRawBufferPointer(start: base + carry.count, count: want))
                initialized = carry.count + readCount
            }
            let isFinal = readCount == 0
            if first {
                resume = bomLength(buffer)
                first = false
            }
            let position = try scanner.scan(buffer, from: resume, isFinal: isFinal, emit: body)
            if isFinal { return }
            // Keep the unfinished paragraph (or unfinished line) for the next chunk.
            let keepFrom = scanner.paragraphStart >= 0 ? scanner.paragraphStart : position
            if buffer.count - keepFrom > maxStreamedParagraphSize {
                throw DebianError.malformedControl(
                    line: scanner.paragraphStart >= 0 ? scanner.paragraphLine : scanner.line,
                    reason: "paragraph larger than \(maxStreamedParagraphSize) bytes")
            }
            carry = Array(buffer[keepFrom...])
            if scanner.paragraphStart >= 0 { scanner.paragraphStart = 0 }
            resume = position - keepFrom
        }
    }

    static func bomLength(_ bytes: [UInt8]) -> Int {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
    }
}

/// The line-by-line deb822 state machine, resumable across buffers.
struct Deb822Scanner {
    /// The 1-based number of the next line.
    var line = 1
    /// Offset of the current paragraph's first byte in the current buffer, -1 between paragraphs.
    var paragraphStart = -1
    var paragraphLine = 0
    var spans: [FieldSpan] = []
    /// Per field: length and first/last name characters, to find repeated names quickly.
    var keys: [UInt32] = []
    var needsCleanup = false
    let maxParagraphSize: Int

    init(maxParagraphSize: Int) {
        self.maxParagraphSize = min(maxParagraphSize, Int(UInt32.max))
        spans.reserveCapacity(64)
        keys.reserveCapacity(64)
    }

    /// Scans the complete lines of `buffer` from `position` (and, when `isFinal`, the unterminated last
    /// line, then closes the open paragraph). Returns the offset of the first byte not consumed.
    mutating func scan(_ buffer: [UInt8], from position: Int, isFinal: Bool,
                       emit: (ControlParagraph) throws -> Void) throws -> Int {
        try buffer.withUnsafeBufferPointer { buf in
            let count = buf.count
            var pos = position
            if let base = buf.baseAddress {
                let raw = UnsafeRawPointer(base)
                while pos < count {
                    let newline: Int
                    if let found = memchr(raw + pos, 10, count - pos) {
                        newline = raw.distance(to: UnsafeRawPointer(found))
                    } else if isFinal {
                        newline = count
                    } else {
                        break
                    }
                    try scanLine(buf, raw, buffer, start: pos, newline: newline, emit: emit)
                    pos = newline + 1
                    line += 1
                }
            }
            pos = min(pos, count)
            if isFinal && paragraphStart >= 0 {
                try finishParagraph(buffer, end: count, emit: emit)
            }
            return pos
        }
    }

    @inline(__always)
    private static func isBlank(_ c: UInt8) -> Bool { c == 32 || c == 9 }

    private mutating func scanLine(_ buf: UnsafeBufferPointer<UInt8>, _ raw: UnsafeRawPointer, _ buffer: [UInt8],
                                   start: Int, newline: Int,
                                   emit: (ControlParagraph) throws -> Void) throws {
        var end = newline
        if end > start && buf[end - 1] == 13 {
            end -= 1
            needsCleanup = true
        }
        if start == end {
            if paragraphStart >= 0 { try finishParagraph(buffer, end: start, emit: emit) }
            return
        }
        let first = buf[start]
        if Self.isBlank(first) {
            var k = start + 1
            while k < end && Self.isBlank(buf[k]) { k += 1 }
            if k == end {
                if paragraphStart >= 0 { try finishParagraph(buffer, end: start, emit: emit) }
                return
            }
            // A continuation line.
            guard paragraphStart >= 0, !spans.isEmpty else {
                throw DebianError.malformedControl(line: line, reason: "continuation line before any field")
            }
            var valueEnd = end
            while valueEnd > k && Self.isBlank(buf[valueEnd - 1]) { valueEnd -= 1 }
            try checkSize(valueEnd)
            spans[spans.count - 1].valueEnd = UInt32(truncatingIfNeeded: valueEnd - paragraphStart)
            return
        }
        if first == UInt8(ascii: "#") {
            if paragraphStart >= 0 { needsCleanup = true }
            return
        }
        // A field line.
        guard let colonPointer = memchr(raw + start, Int32(UInt8(ascii: ":")), end - start) else {
            throw DebianError.malformedControl(line: line, reason: "line is not a field (no colon): '\(Self.excerpt(buf, start, end))'")
        }
        let colon = raw.distance(to: UnsafeRawPointer(colonPointer))
        if colon == start {
            throw DebianError.malformedControl(line: line, reason: "empty field name")
        }
        if first == UInt8(ascii: "-") {
            throw DebianError.malformedControl(line: line, reason: "field name starts with '-' (an OpenPGP armor line?)")
        }
        for k in start..<colon where buf[k] &- 33 > 93 {   // printable ASCII except space
            throw DebianError.malformedControl(line: line, reason: "invalid character in field name '\(Self.excerpt(buf, start, colon))'")
        }
        if paragraphStart < 0 {
            paragraphStart = start
            paragraphLine = line
            needsCleanup = end < newline
            spans.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
        }
        var valueStart = colon + 1
        while valueStart < end && Self.isBlank(buf[valueStart]) { valueStart += 1 }
        var valueEnd = end
        while valueEnd > valueStart && Self.isBlank(buf[valueEnd - 1]) { valueEnd -= 1 }
        try checkSize(end)

        let length = colon - start
        let key = UInt32(truncatingIfNeeded: min(length, 0xFFFF)) << 16
            | UInt32(asciiLower(buf[start])) << 8 | UInt32(asciiLower(buf[colon - 1]))
        for (index, other) in keys.enumerated() where other == key {
            let otherStart = paragraphStart + Int(spans[index].nameStart)
            var same = true
            for k in 0..<length where asciiLower(buf[otherStart + k]) != asciiLower(buf[start + k]) {
                same = false
                break
            }
            if same {
                throw DebianError.malformedControl(
                    line: line, reason: "field '\(Self.excerpt(buf, start, colon))' repeated in one paragraph")
            }
        }
        keys.append(key)
        spans.append(FieldSpan(nameStart: UInt32(truncatingIfNeeded: start - paragraphStart),
                               nameLength: UInt32(truncatingIfNeeded: length),
                               valueStart: UInt32(truncatingIfNeeded: valueStart - paragraphStart),
                               valueEnd: UInt32(truncatingIfNeeded: valueEnd - paragraphStart)))
    }

    private func checkSize(_ end: Int) throws {
        if end - paragraphStart > maxParagraphSize {
            throw DebianError.malformedControl(line: paragraphLine, reason: "paragraph larger than \(maxParagraphSize) bytes")
        }
    }

    private mutating func finishParagraph(_ buffer: [UInt8], end: Int, emit: (ControlParagraph) throws -> Void) throws {
        let paragraph = ControlParagraph(storage: buffer, base: paragraphStart,
                                         spans: Array(spans[0..<spans.count]),
                                         needsCleanup: needsCleanup, lineNumber: paragraphLine)
        paragraphStart = -1
        spans.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        try emit(paragraph)
    }

    private static func excerpt(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        let shown = min(end - start, 60)
        return String(decoding: UnsafeBufferPointer(rebasing: buf[start..<(start + shown)]), as: UTF8.self)
            + (end - start > shown ? "…" : "")
    }
}
