/// The parts of a clear-signed message (RFC 4880 §7).
struct ClearSigned {
    /// The text lines (dash-escaping removed, trailing whitespace removed).
    var lines: [ArraySlice<UInt8>]
    /// Hash algorithms named in "Hash:" headers; nil when there is none.
    var declaredHashes: Set<Int>?
    var signatures: [Result<Signature, OpenPGPError>]

    /// The bytes the signature covers: lines joined with CR LF, no final line ending.
    var canonicalText: [UInt8] {
        var out: [UInt8] = []
        for (i, line) in lines.enumerated() {
            if i > 0 { out += [0x0D, 0x0A] }
            out += line
        }
        return out
    }

    /// The text as returned to callers: every line ends in "\n".
    var content: [UInt8] {
        var out: [UInt8] = []
        for line in lines { out += line; out.append(0x0A) }
        return out
    }

    static let hashNames: [String: Int] = [
        "MD5": 1, "SHA1": 2, "RIPEMD160": 3, "SHA256": 8, "SHA384": 9, "SHA512": 10, "SHA224": 11, "SHA3-256": 12, "SHA3-512": 14,
    ]

    static func parse(_ message: [UInt8]) throws -> ClearSigned {
        guard message.count <= Limits.maxInputSize else { throw OpenPGPError.tooLarge("clear-signed message over \(Limits.maxInputSize) bytes") }
        let all = splitLines(message)
        var index = 0
        while index < all.count, trimTrailingWhitespace(all[index]).isEmpty { index += 1 }
        guard index < all.count, trimTrailingWhitespace(all[index]).elementsEqual("-----BEGIN PGP SIGNED MESSAGE-----".utf8) else {
            throw OpenPGPError.malformed("not a clear-signed message: it does not start with '-----BEGIN PGP SIGNED MESSAGE-----'")
        }
        index += 1
        var declared: Set<Int>? = nil
        var headerEnded = false
        while index < all.count {
            let line = trimTrailingWhitespace(all[index])
            index += 1
            if line.isEmpty { headerEnded = true; break }
            guard hasPrefix(line, "Hash: ") else {
                throw OpenPGPError.malformed("clear-signed message: unexpected header line '\(String(decoding: line.prefix(80), as: UTF8.self))'")
            }
            // Once a "Hash:" header is present, only the algorithms it names are accepted.
            var names = declared ?? []
            for name in String(decoding: line.dropFirst(6), as: UTF8.self).split(separator: ",") {
                if let id = hashNames[name.trimmingBlanks()] { names.insert(id) }
            }
            declared = names
        }
        guard headerEnded else { throw OpenPGPError.malformed("clear-signed message: no blank line after the headers") }
        var lines: [ArraySlice<UInt8>] = []
        var signatureStart: Int? = nil
        while index < all.count {
            let raw = all[index]
            if raw.first == UInt8(ascii: "-") {
                if hasPrefix(raw, "- ") {
                    lines.append(trimTrailingWhitespace(raw.dropFirst(2)))
                } else if trimTrailingWhitespace(raw).elementsEqual("-----BEGIN PGP SIGNATURE-----".utf8) {
                    signatureStart = index
                    break
                } else {
                    throw OpenPGPError.malformed("clear-signed message: line \(index + 1) starts with '-' but is not dash-escaped")
                }
            } else {
                lines.append(trimTrailingWhitespace(raw))
            }
            index += 1
        }
        guard let signatureStart else { throw OpenPGPError.malformed("clear-signed message: no '-----BEGIN PGP SIGNATURE-----'") }
        let (block, next) = try Armor.decodeBlock(lines: all, label: "SIGNATURE", bodyStart: signatureStart + 1)
        for line in all[next...] where !trimTrailingWhitespace(line).isEmpty {
            throw OpenPGPError.malformed("clear-signed message: data after '-----END PGP SIGNATURE-----'")
        }
        let signatures = try OpenPGP.signaturePackets(try PacketReader.parse(block.data))
        return ClearSigned(lines: lines, declaredHashes: declared, signatures: signatures)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
