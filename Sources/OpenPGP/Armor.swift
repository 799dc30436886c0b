/// One ASCII-armored block (RFC 4880 §6): its label ("PUBLIC KEY BLOCK", "SIGNATURE") and decoded data.
struct ArmorBlock: Sendable {
    var label: String
    var headers: [(String, String)]
    var data: [UInt8]
}

enum Armor {
    /// True when the data looks like ASCII armor rather than binary packets.
    static func looksArmored(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first(where: { ![0x20, 0x09, 0x0D, 0x0A].contains($0) }) else { return false }
        return first & 0x80 == 0
    }

    /// Decodes every armored block in `bytes`.
    static func decodeAll(_ bytes: [UInt8]) throws -> [ArmorBlock] {
        let lines = splitLines(bytes)
        var blocks: [ArmorBlock] = []
        var index = 0
        while index < lines.count {
            let line = trimTrailingWhitespace(lines[index])
            if let label = beginLabel(line) {
                let (block, next) = try decodeBlock(lines: lines, label: label, bodyStart: index + 1)
                blocks.append(block)
                index = next
            } else {
                index += 1
            }
        }
        guard !blocks.isEmpty else { throw OpenPGPError.malformed("no ASCII armor (-----BEGIN PGP ...-----) found") }
        return blocks
    }

    /// The label of a "-----BEGIN PGP <label>-----" line.
    static func beginLabel(_ line: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("-----BEGIN PGP "), text.hasSuffix("-----"), text.count > 20 else { return nil }
        return String(text.dropFirst(15).dropLast(5))
    }

    /// Decodes one block whose BEGIN line precedes `bodyStart`; returns it and the index after its END line.
    static func decodeBlock(lines: [ArraySlice<UInt8>], label: String, bodyStart: Int) throws -> (ArmorBlock, Int) {
        var index = bodyStart
        var headers: [(String, String)] = []
        // Armor headers: "Key: Value" lines up to a blank line. Tolerate a missing blank line when the
        // next line is clearly base64.
        while index < lines.count {
            let line = trimTrailingWhitespace(lines[index])
            if line.isEmpty { index += 1; break }
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.range(of: ": ") else { break }
            headers.append((String(text[..<colon.lowerBound]), String(text[colon.upperBound...])))
            index += 1
        }
        let endLine = "-----END PGP \(label)-----"
        var body: [UInt8] = []
        var checksum: [UInt8]? = nil
        var ended = false
        while index < lines.count {
            let line = trimTrailingWhitespace(lines[index])
            index += 1
            if String(decoding: line, as: UTF8.self) == endLine { ended = true; break }
            if line.first == UInt8(ascii: "="), line.count == 5, checksum == nil {
                checksum = try Base64.decode(Array(line.dropFirst()))
                continue
            }
            guard checksum == nil else { throw OpenPGPError.malformed("ASCII armor: data after the checksum line") }
            body.append(contentsOf: line.filter { $0 != 0x20 && $0 != 0x09 })
            guard body.count <= Limits.maxInputSize else { throw OpenPGPError.tooLarge("ASCII armor block over \(Limits.maxInputSize) bytes") }
        }
        guard ended else { throw OpenPGPError.malformed("ASCII armor: missing '\(endLine)'") }
        let data = try Base64.decode(body)
        if let checksum {
            guard checksum.count == 3 else { throw OpenPGPError.malformed("ASCII armor: bad checksum line") }
            let expected = UInt32(checksum[0]) << 16 | UInt32(checksum[1]) << 8 | UInt32(checksum[2])
            let actual = crc24(data)
            guard expected == actual else { throw OpenPGPError.armorChecksumMismatch(expected: expected, actual: actual) }
        }
        return (ArmorBlock(label: label, headers: headers, data: data), index)
    }

    /// The CRC-24 of RFC 4880 §6.1.
    static func crc24(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xB704CE
        for byte in data {
            crc ^= UInt32(byte) << 16
            for _ in 0..<8 {
                crc <<= 1
                if crc & 0x100_0000 != 0 { crc ^= 0x186_4CFB }
            }
        }
        return crc & 0xFF_FFFF
    }
}

enum Base64 {
    private static let table: [Int8] = {
        var t = [Int8](repeating: -1, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { t[Int(c)] = Int8(i) }
        return t
    }()

    /// Strict base64 decoding; "=" padding only at the end.
    static func decode(_ input: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var acc: UInt32 = 0, bits = 0, padding = 0
        for c in input {
            if c == UInt8(ascii: "=") { padding += 1; continue }
            guard padding == 0 else { throw OpenPGPError.malformed("base64: data after '=' padding") }
            let v = table[Int(c)]
            guard v >= 0 else { throw OpenPGPError.malformed("base64: invalid character 0x\(hexString([c]))") }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        guard padding <= 2, padding == 0 || input.count % 4 == 0 else {
            throw OpenPGPError.malformed("base64: bad padding")
        }
        guard bits < 6 else { throw OpenPGPError.malformed("base64: truncated") }
        return out
    }
}
