/// A streaming POSIX (PAX) tar writer.
///
/// Headers are ustar; whatever ustar cannot hold (long paths and link targets, big ids, sizes and
/// names, extended attributes) goes into a PAX extended header written just before the entry, with
/// records in a fixed order. The output is a function of the entries alone: write them in canonical
/// order (see `TarEntry.canonicallyPrecedes`) and the same tree always gives the same bytes.
public final class TarWriter {
    private let sink: ByteSink
    private let clampTime: Int64?
    private var finished = false

    /// - Parameter clampModificationTime: mtimes later than this epoch are written as the epoch
    ///   (`SOURCE_DATE_EPOCH` semantics).
    public init(_ sink: ByteSink, clampModificationTime: Int64? = nil) {
        self.sink = sink
        self.clampTime = clampModificationTime
    }

    /// Appends an entry; a regular file's `entry.size` bytes are read from `contents`.
    public func append(_ entry: TarEntry, contents: ByteSource? = nil) throws {
        guard !finished else { throw ArchiveError.unsupported("append after finish") }
        var entry = entry
        if let clampTime, entry.modificationTime > clampTime { entry.modificationTime = clampTime }
        if entry.modificationTime < 0 { entry.modificationTime = 0 }
        if entry.kind != .regular { entry.size = 0 }
        try validate(entry)

        let records = paxRecords(for: entry)
        if !records.isEmpty {
            let body = encodePax(records)
            let name = "PaxHeaders/" + String(decoding: Array(lastComponent(entry.path).utf8.prefix(80)), as: UTF8.self)
            let paxEntry = TarEntry(path: name, kind: .regular, mode: 0o644, size: Int64(body.count),
                                    modificationTime: entry.modificationTime)
            try sink.write(header(for: paxEntry, typeflag: UInt8(ascii: "x")))
            try sink.write(body)
            try writePadding(Int64(body.count))
        }
        try sink.write(header(for: entry, typeflag: typeflag(entry.kind)))
        if entry.kind == .regular && entry.size > 0 {
            guard let contents else {
                throw ArchiveError.unsupported("regular file '\(entry.path)' of \(entry.size) bytes given no contents")
            }
            let limited = LimitedSource(contents, limit: entry.size)
            let copied = try limited.pump(into: sink)
            if copied != entry.size {
                throw ArchiveError.truncated("contents of '\(entry.path)' gave \(copied) of \(entry.size) bytes")
            }
            try writePadding(entry.size)
        }
    }

    /// Appends an entry whose contents are in memory; `entry.size` is set from `bytes`.
    public func append(_ entry: TarEntry, bytes: [UInt8]) throws {
        var entry = entry
        entry.size = Int64(bytes.count)
        try append(entry, contents: MemorySource(bytes))
    }

    /// Writes the end-of-archive marker (two zero blocks) and finishes the sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try sink.write([UInt8](repeating: 0, count: 1024))
        try sink.finish()
    }

    // MARK: - Encoding

    private func validate(_ entry: TarEntry) throws {
        let (clean, hazards) = TarPath.normalize(entry.path)
        if clean != entry.path || !hazards.isEmpty || entry.path == "." {
            throw ArchiveError.unsupported("path '\(entry.path)' is not a clean relative path")
        }
        if entry.path.utf8.contains(0) || entry.linkTarget.utf8.contains(0) {
            throw ArchiveError.unsupported("NUL byte in the path or link target of '\(entry.path)'")
        }
        if (entry.kind == .symlink || entry.kind == .hardlink) && entry.linkTarget.isEmpty {
            throw ArchiveError.unsupported("link '\(entry.path)' has no target")
        }
        if entry.uid < 0 || entry.gid < 0 || entry.size < 0 {
            throw ArchiveError.unsupported("negative owner or size for '\(entry.path)'")
        }
        if entry.deviceMajor > 0o7777777 || entry.deviceMinor > 0o7777777 {
            throw ArchiveError.unsupported("device number of '\(entry.path)' too large for ustar")
        }
    }

    private func typeflag(_ kind: TarEntry.Kind) -> UInt8 {
        switch kind {
        case .regular: UInt8(ascii: "0")
        case .hardlink: UInt8(ascii: "1")
        case .symlink: UInt8(ascii: "2")
        case .characterDevice: UInt8(ascii: "3")
        case .blockDevice: UInt8(ascii: "4")
        case .directory: UInt8(ascii: "5")
        case .fifo: UInt8(ascii: "6")
        }
    }

    /// The name as stored in the header: directories carry a trailing slash.
    private func storedName(_ entry: TarEntry) -> String {
        entry.kind == .directory ? entry.path + "/" : entry.path
    }

    private func paxRecords(for entry: TarEntry) -> [(String, [UInt8])] {
        var records: [(String, [UInt8])] = []
        let name = storedName(entry)
        if name.utf8.count > 100 { records.append(("path", Array(name.utf8))) }
        if entry.linkTarget.utf8.count > 100 { records.append(("linkpath", Array(entry.linkTarget.utf8))) }
        if entry.size > 0o77777777777 { records.append(("size", Array(String(entry.size).utf8))) }
        if entry.uid > 0o7777777 { records.append(("uid", Array(String(entry.uid).utf8))) }
        if entry.gid > 0o7777777 { records.append(("gid", Array(String(entry.gid).utf8))) }
        if entry.userName.utf8.count > 31 { records.append(("uname", Array(entry.userName.utf8))) }
        if entry.groupName.utf8.count > 31 { records.append(("gname", Array(entry.groupName.utf8))) }
        if entry.modificationTime > 0o77777777777 { records.append(("mtime", Array(String(entry.modificationTime).utf8))) }
        for key in entry.xattrs.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            records.append(("SCHILY.xattr." + key, entry.xattrs[key] ?? []))
        }
        return records
    }

    /// Encodes PAX records: "<length> <key>=<value>\n", the length counting the whole record.
    private func encodePax(_ records: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in records {
            let rest = 1 + key.utf8.count + 1 + value.count + 1 // " " key "=" value "\n"
            var length = rest + String(rest).utf8.count
            if String(length).utf8.count + rest != length { length = rest + String(length).utf8.count }
            out.append(contentsOf: String(length).utf8)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: key.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: value)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    private func header(for entry: TarEntry, typeflag: UInt8) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: some Collection<UInt8>, at offset: Int, width: Int) {
            for (i, byte) in bytes.prefix(width).enumerated() { block[offset + i] = byte }
        }
        func putOctal(_ value: Int64, at offset: Int, width: Int) {
            // width-1 octal digits then NUL; values that do not fit are carried by PAX records.
            let limit = Int64(1) << (3 * Int64(width - 1))
            let digits = String(value < limit ? value : 0, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
            put(padded.utf8, at: offset, width: width - 1)
        }
        put(storedName(entry).utf8, at: 0, width: 100)
        putOctal(Int64(entry.mode & 0o7777), at: 100, width: 8)
        putOctal(Int64(entry.uid), at: 108, width: 8)
        putOctal(Int64(entry.gid), at: 116, width: 8)
        putOctal(entry.size, at: 124, width: 12)
        putOctal(entry.modificationTime, at: 136, width: 12)
        block[156] = typeflag
        put(entry.linkTarget.utf8, at: 157, width: 100)
        put("ustar\u{0}00".utf8, at: 257, width: 8)
        if entry.userName.utf8.count <= 31 { put(entry.userName.utf8, at: 265, width: 32) }
        if entry.groupName.utf8.count <= 31 { put(entry.groupName.utf8, at: 297, width: 32) }
        if entry.kind == .characterDevice || entry.kind == .blockDevice {
            putOctal(Int64(entry.deviceMajor), at: 329, width: 8)
            putOctal(Int64(entry.deviceMinor), at: 337, width: 8)
        }
        // Checksum: sum of all bytes with the checksum field read as spaces; 6 octal digits, NUL, space.
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8, at: 148, width: 6)
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        return block
    }

    private func writePadding(_ size: Int64) throws {
        let remainder = Int(size % 512)
        if remainder != 0 { try sink.write([UInt8](repeating: 0, count: 512 - remainder)) }
    }

    private func lastComponent(_ path: String) -> Substring {
        path.split(separator: "/").last ?? Substring(path)
    }
}
