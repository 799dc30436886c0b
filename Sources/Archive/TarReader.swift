/// A streaming tar reader for ustar, GNU (long names and links) and PAX archives.
///
/// Each call to `next()` returns the next entry with a clean path (see `TarPath.normalize`);
/// its contents can be read through `contents` before the following call.
/// Entries that would escape the root are hostile: by default they are refused with
/// `ArchiveError.hostileEntry`; with `.report` they are returned and listed in `hazards`.
public final class TarReader {
    public enum Policy: Sendable {
        /// Throw on the first hostile entry.
        case refuseHostile
        /// Return hostile entries and list what is wrong in `hazards`.
        case report
    }

    private let source: ByteSource
    private let policy: Policy
    private var current: LimitedSource?
    private var currentPadding: Int64 = 0
    private var globalRecords: [String: [UInt8]] = [:]
    private var symlinks: Set<String> = []
    private var parentAnswer: (parent: String, link: String?)?
    private var ended = false

    /// What is hostile about the entry last returned by `next()` (always empty with `.refuseHostile`).
    public private(set) var hazards: [TarHazard] = []

    /// Largest PAX or GNU long-name header accepted, to bound memory on hostile input.
    public static let maximumMetadataSize = 1 << 20

    /// Largest entry accepted (64 GiB): a header claiming more is refused before anything is read.
    public static let maximumEntrySize: Int64 = 64 << 30

    public init(_ source: ByteSource, policy: Policy = .refuseHostile) {
        self.source = source
        self.policy = policy
    }

    /// The contents of the current entry (empty for everything but regular files).
    public var contents: ByteSource { current ?? MemorySource([]) }

    /// Reads the current entry's contents into memory, refusing more than `limit` bytes.
    public func readContents(limit: Int = 64 << 20) throws -> [UInt8] {
        try contents.readAll(limit: limit)
    }

    /// The next entry, or nil at the end of the archive.
    public func next() throws -> TarEntry? {
        guard !ended else { return nil }
        try skipRemainder()
        var pax: [String: [UInt8]] = [:]
        var longName: String?
        var longLink: String?
        while true {
            guard let block = try readBlock(allowEnd: true) else {
                throw ArchiveError.truncated("tar archive has no end-of-archive marker")
            }
            if block.allSatisfy({ $0 == 0 }) {
                ended = true
                return nil
            }
            try verifyChecksum(block)
            let typeflag = block[156]
            let size = try parseNumber(block[124..<136], field: "size")
            switch typeflag {
            case UInt8(ascii: "x"):
                pax.merge(try parsePax(try readMetadata(size)), uniquingKeysWith: { $1 })
                continue
            case UInt8(ascii: "g"):
                globalRecords.merge(try parsePax(try readMetadata(size)), uniquingKeysWith: { $1 })
                continue
            case UInt8(ascii: "L"):
                longName = cString(try readMetadata(size))
                continue
            case UInt8(ascii: "K"):
                longLink = cString(try readMetadata(size))
                continue
            case UInt8(ascii: "V"):
                try skipData(size)
                continue
            default:
                break
            }
            let records = globalRecords.merging(pax, uniquingKeysWith: { $1 })
            var entry = try decodeHeader(block, typeflag: typeflag, size: size, records: records,
                                         longName: longName, longLink: longLink)
            let dataSize = entry.kind == .regular ? entry.size : (typeflag == UInt8(ascii: "1") ? 0 : size)
            current = LimitedSource(source, limit: entry.kind == .regular ? entry.size : 0)
            currentPadding = paddingAfter(dataSize)
            if entry.kind != .regular && dataSize > 0 {
                // Some writers give directories or links a size; their data is skipped.
                try skipData(dataSize)
                currentPadding = 0
            }
            try check(&entry)
            return entry
        }
    }

    // MARK: - Safety

    private func check(_ entry: inout TarEntry) throws {
        let (path, pathHazards) = TarPath.normalize(entry.path)
        var found = pathHazards
        entry.path = path
        if let link = throughSymlink(path) { found.append(.writeThroughSymlink(link: link)) }
        switch entry.kind {
        case .symlink:
            if !TarPath.symlinkStaysInside(path: path, target: entry.linkTarget) {
                found.append(.linkEscapesRoot(target: entry.linkTarget))
            }
        case .hardlink:
            let (target, targetHazards) = TarPath.normalize(entry.linkTarget)
            if !targetHazards.isEmpty { found.append(.linkEscapesRoot(target: entry.linkTarget)) }
            if let link = throughSymlink(target) { found.append(.writeThroughSymlink(link: link)) }
            entry.linkTarget = target
        default:
            break
        }
        if entry.kind == .symlink {
            if symlinks.insert(path).inserted { parentAnswer = nil }
        } else if symlinks.remove(path) != nil {
            parentAnswer = nil
        }
        hazards = found
        if policy == .refuseHostile, let first = found.first {
            throw ArchiveError.hostileEntry(path: path, hazard: first)
        }
    }

    /// The first proper ancestor of `path` that an earlier entry made a symlink.
    private func throughSymlink(_ path: String) -> String? {
        guard !symlinks.isEmpty, let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        // Entries come directory by directory: the answer for the last parent is kept until the
        // set of symlinks changes.
        let parent = String(path[..<slash])
        if let cached = parentAnswer, cached.parent == parent { return cached.link }
        var link: String?
        var prefix = ""
        for part in parent.split(separator: "/") {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            if symlinks.contains(prefix) { link = prefix; break }
        }
        parentAnswer = (parent, link)
        return link
    }

    // MARK: - Decoding

    private func decodeHeader(_ block: [UInt8], typeflag: UInt8, size: Int64, records: [String: [UInt8]],
                              longName: String?, longLink: String?) throws -> TarEntry {
        let kind: TarEntry.Kind
        switch typeflag {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .regular
        case UInt8(ascii: "1"): kind = .hardlink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        default:
            throw ArchiveError.unsupported("tar entry type '\(Character(Unicode.Scalar(typeflag)))'")
        }
        if records.keys.contains(where: { $0.hasPrefix("GNU.sparse") }) {
            throw ArchiveError.unsupported("sparse tar entries")
        }
        let isUstar = block[257..<263].elementsEqual("ustar\u{0}".utf8)
        var name = cString(block[0..<100])
        if isUstar {
            let prefix = cString(block[345..<500])
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        if let longName { name = longName }
        if let value = records["path"] { name = String(decoding: value, as: UTF8.self) }
        var link = cString(block[157..<257])
        if let longLink { link = longLink }
        if let value = records["linkpath"] { link = String(decoding: value, as: UTF8.self) }

        var entry = TarEntry(path: name, kind: kind, mode: UInt32(try parseNumber(block[100..<108], field: "mode") & 0o7777))
        entry.uid = Int(try records["uid"].map { try decimal($0, "uid") } ?? parseNumber(block[108..<116], field: "uid"))
        entry.gid = Int(try records["gid"].map { try decimal($0, "gid") } ?? parseNumber(block[116..<124], field: "gid"))
        entry.size = try records["size"].map { try decimal($0, "size") } ?? size
        entry.modificationTime = try records["mtime"].map { try decimal($0, "mtime") }
            ?? parseNumber(block[136..<148], field: "mtime")
        entry.userName = records["uname"].map { String(decoding: $0, as: UTF8.self) } ?? cString(block[265..<297])
        entry.groupName = records["gname"].map { String(decoding: $0, as: UTF8.self) } ?? cString(block[297..<329])
        entry.linkTarget = link
        if kind == .characterDevice || kind == .blockDevice {
            entry.deviceMajor = UInt32(truncatingIfNeeded: try parseNumber(block[329..<337], field: "devmajor"))
            entry.deviceMinor = UInt32(truncatingIfNeeded: try parseNumber(block[337..<345], field: "devminor"))
        }
        for (key, value) in records where key.hasPrefix("SCHILY.xattr.") {
            entry.xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = value
        }
        if kind != .regular { entry.size = 0 }
        if entry.size < 0 { throw ArchiveError.malformed("negative size for '\(name)'") }
        if entry.size > Self.maximumEntrySize {
            throw ArchiveError.limitExceeded("tar entry '\(name)' claims \(entry.size) bytes, over the \(Self.maximumEntrySize >> 30) GiB entry limit")
        }
        return entry
    }

    private func verifyChecksum(_ block: [UInt8]) throws {
        let stored = try parseNumber(block[148..<156], field: "checksum")
        // The checksum field itself counts as eight spaces.
        var unsigned = 8 * 0x20
        var signed = 8 * 0x20
        block.withUnsafeBufferPointer { bytes in
            for i in 0..<148 { unsigned &+= Int(bytes[i]); signed &+= Int(Int8(bitPattern: bytes[i])) }
            for i in 156..<bytes.count { unsigned &+= Int(bytes[i]); signed &+= Int(Int8(bitPattern: bytes[i])) }
        }
        if stored != Int64(unsigned) && stored != Int64(signed) {
            throw ArchiveError.malformed("tar header checksum mismatch (not a tar archive, or corrupt)")
        }
    }

    /// Parses an octal field (spaces and NULs allowed around it) or a GNU base-256 field.
    private func parseNumber(_ field: ArraySlice<UInt8>, field name: String) throws -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            // Base-256: the rest of the bits, big-endian; a negative value is refused.
            if first & 0x40 != 0 { throw ArchiveError.malformed("negative base-256 \(name)") }
            var value: Int64 = Int64(first & 0x3f)
            for byte in field.dropFirst() {
                if value > (Int64.max >> 8) { throw ArchiveError.malformed("\(name) overflows") }
                value = (value << 8) | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seenDigit { break } else { continue }
            }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7") else {
                throw ArchiveError.malformed("invalid octal digit in tar \(name) field")
            }
            if value > (Int64.max >> 3) { throw ArchiveError.malformed("\(name) overflows") }
            value = value * 8 + Int64(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    private func decimal(_ bytes: [UInt8], _ name: String) throws -> Int64 {
        // mtime may carry a fraction ("1700000000.5"); whole seconds are kept.
        let text = String(decoding: bytes.prefix(while: { $0 != UInt8(ascii: ".") }), as: UTF8.self)
        guard let value = Int64(text), value >= 0 || name == "mtime" else {
            throw ArchiveError.malformed("invalid PAX \(name) '\(String(decoding: bytes, as: UTF8.self))'")
        }
        return value
    }

    /// Parses PAX records "<len> <key>=<value>\n".
    private func parsePax(_ body: [UInt8]) throws -> [String: [UInt8]] {
        var records: [String: [UInt8]] = [:]
        var offset = 0
        while offset < body.count {
            if body[offset] == 0 { break }
            guard let space = body[offset...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: body[offset..<space], as: UTF8.self)),
                  length > space - offset, offset + length <= body.count,
                  body[offset + length - 1] == UInt8(ascii: "\n"),
                  let equals = body[(space + 1)..<(offset + length)].firstIndex(of: UInt8(ascii: "="))
            else { throw ArchiveError.malformed("invalid PAX extended header record") }
            let key = String(decoding: body[(space + 1)..<equals], as: UTF8.self)
            records[key] = Array(body[(equals + 1)..<(offset + length - 1)])
            offset += length
        }
        return records
    }

    private func cString(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    // MARK: - Blocks

    private func readBlock(allowEnd: Bool) throws -> [UInt8]? {
        var block = [UInt8](repeating: 0, count: 512)
        let n = try block.withUnsafeMutableBytes { try source.readFully(into: $0) }
        if n == 0 && allowEnd { return nil }
        if n < 512 { throw ArchiveError.truncated("tar header cut short (\(n) of 512 bytes)") }
        return block
    }

    private func readMetadata(_ size: Int64) throws -> [UInt8] {
        guard size <= Int64(Self.maximumMetadataSize) else {
            throw ArchiveError.malformed("tar extended header of \(size) bytes exceeds the limit")
        }
        let bytes = try LimitedSource(source, limit: size).readAll()
        try source.skip(paddingAfter(size))
        return bytes
    }

    private func skipData(_ size: Int64) throws {
        try source.skip(size + paddingAfter(size))
    }

    private func skipRemainder() throws {
        if let current { try current.drain() }
        current = nil
        try source.skip(currentPadding)
        currentPadding = 0
    }

    private func paddingAfter(_ size: Int64) -> Int64 {
        let remainder = size % 512
        return remainder == 0 ? 0 : 512 - remainder
    }
}
