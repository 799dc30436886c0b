import Foundation

/// A streaming reader for Unix `ar` archives (the container format of `.deb` files).
///
/// Members are returned in order; read a member's bytes through `contents` before calling `next()`.
public final class ArReader {
    /// One member's header.
    public struct Member: Sendable, Equatable {
        public var name: String
        public var size: Int64
        public var modificationTime: Int64
        public var uid: Int
        public var gid: Int
        public var mode: UInt32
    }

    private let source: ByteSource
    private var current: LimitedSource?
    private var pendingPad = false
    private var started = false

    public init(_ source: ByteSource) { self.source = source }

    /// The current member's bytes.
    public var contents: ByteSource { current ?? MemorySource([]) }

    /// The next member, or nil at the end.
    public func next() throws -> Member? {
        if !started {
            started = true
            var magic = [UInt8](repeating: 0, count: 8)
            let n = try magic.withUnsafeMutableBytes { try source.readFully(into: $0) }
            guard n == 8, magic.elementsEqual("!<arch>\n".utf8) else {
                throw ArchiveError.malformed("not an ar archive (bad magic)")
            }
        }
        if let current { try current.drain() }
        current = nil
        if pendingPad { try source.skip(1) }
        pendingPad = false

        var header = [UInt8](repeating: 0, count: 60)
        let n = try header.withUnsafeMutableBytes { try source.readFully(into: $0) }
        if n == 0 { return nil }
        guard n == 60 else { throw ArchiveError.truncated("ar member header cut short") }
        guard header[58] == 0x60, header[59] == 0x0a else {
            throw ArchiveError.malformed("ar member header has a bad terminator")
        }
        func field(_ range: Range<Int>) -> String {
            String(decoding: header[range], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
        func number(_ range: Range<Int>, radix: Int, _ what: String) throws -> Int64 {
            let text = field(range)
            if text.isEmpty { return 0 }
            guard let value = Int64(text, radix: radix), value >= 0 else {
                throw ArchiveError.malformed("ar member \(what) '\(text)' is not a number")
            }
            return value
        }
        var name = field(0..<16)
        // GNU ar ends names with '/'; "/" and "//" are symbol and name tables, kept as they are.
        if name.hasSuffix("/") && name != "/" && name != "//" { name.removeLast() }
        let member = Member(
            name: name,
            size: try number(48..<58, radix: 10, "size"),
            modificationTime: try number(16..<28, radix: 10, "mtime"),
            uid: Int(try number(28..<34, radix: 10, "uid")),
            gid: Int(try number(34..<40, radix: 10, "gid")),
            mode: UInt32(truncatingIfNeeded: try number(40..<48, radix: 8, "mode"))
        )
        current = LimitedSource(source, limit: member.size)
        pendingPad = member.size % 2 == 1
        return member
    }
}
