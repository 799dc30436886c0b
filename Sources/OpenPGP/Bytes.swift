/// Safety limits for hostile input.
enum Limits {
    /// Largest packet body accepted.
    static let maxPacketSize = 1 << 20
    /// Most packets accepted in one input.
    static let maxPackets = 10_000
    /// Largest keyring or signature file read.
    static let maxInputSize = 64 << 20
}

/// A bounds-checked cursor over bytes; every read past the end throws `OpenPGPError.malformed`.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    let context: String

    init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
        self.context = context
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position >= end }

    mutating func u8() throws -> UInt8 {
        guard position < end else { throw OpenPGPError.malformed("\(context) is truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws -> Int {
        let a = Int(try u8()), b = Int(try u8())
        return a << 8 | b
    }

    mutating func u32() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 { v = v << 8 | UInt32(try u8()) }
        return v
    }

    mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw OpenPGPError.malformed("\(context) is truncated") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func skip(_ count: Int) throws {
        guard count >= 0, count <= remaining else { throw OpenPGPError.malformed("\(context) is truncated") }
        position += count
    }

    /// A multiprecision integer: a 2-byte bit count, then the big-endian bytes. Leading zero bytes are dropped.
    mutating func mpi() throws -> [UInt8] {
        let bits = try u16()
        var value = try take((bits + 7) / 8)
        if let first = value.firstIndex(where: { $0 != 0 }) { value.removeFirst(first) } else { value = [] }
        return value
    }

    mutating func rest() -> [UInt8] {
        defer { position = end }
        return Array(bytes[position..<end])
    }
}

/// Uppercase hexadecimal.
func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits = Array("0123456789ABCDEF".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

func bigEndian32(_ v: Int) -> [UInt8] {
    [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}

/// Number of significant bits in a big-endian unsigned integer.
func bitLength(_ bytes: [UInt8]) -> Int {
    guard let i = bytes.firstIndex(where: { $0 != 0 }) else { return 0 }
    return (bytes.count - i - 1) * 8 + (8 - bytes[i].leadingZeroBitCount)
}

/// Splits bytes into lines at "\n", dropping one trailing "\r" per line. A final line without "\n" is kept.
func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines: [ArraySlice<UInt8>] = []
    var start = 0
    for i in 0..<bytes.count where bytes[i] == 0x0A {
        var end = i
        if end > start, bytes[end - 1] == 0x0D { end -= 1 }
        lines.append(bytes[start..<end])
        start = i + 1
    }
    if start < bytes.count {
        var end = bytes.count
        if end > start, bytes[end - 1] == 0x0D { end -= 1 }
        lines.append(bytes[start..<end])
    }
    return lines
}

/// Removes trailing spaces, tabs and carriage returns.
func trimTrailingWhitespace(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var end = line.endIndex
    while end > line.startIndex, [0x20, 0x09, 0x0D].contains(line[end - 1]) { end -= 1 }
    return line[line.startIndex..<end]
}

func hasPrefix(_ line: ArraySlice<UInt8>, _ prefix: String) -> Bool {
    let p = Array(prefix.utf8)
    return line.count >= p.count && line.prefix(p.count).elementsEqual(p)
}
