import Archive
import Foundation
import Testing
import TestSupport

@Suite struct HostileTarTests {
    func firstHazard(_ bytes: [UInt8]) -> ArchiveError? {
        do {
            _ = try readTar(bytes)
            return nil
        } catch let error as ArchiveError {
            return error
        } catch {
            return nil
        }
    }

    @Test func parentTraversalIsRefused() throws {
        let tar = try pythonTar([("ok", "file", ""), ("a/../../etc/passwd", "file", "")])
        #expect(firstHazard(tar) == .hostileEntry(path: "a/../../etc/passwd", hazard: .parentTraversal))
    }

    @Test func absolutePathIsRefused() throws {
        let tar = try pythonTar([("/etc/shadow", "file", "")])
        #expect(firstHazard(tar) == .hostileEntry(path: "etc/shadow", hazard: .absolutePath))
    }

    @Test func symlinkClimbingOutIsRefused() throws {
        let tar = try pythonTar([("usr", "dir", ""), ("usr/evil", "sym", "../../../../etc")])
        #expect(firstHazard(tar) == .hostileEntry(path: "usr/evil", hazard: .linkEscapesRoot(target: "../../../../etc")))
    }

    @Test func writeThroughSymlinkIsRefused() throws {
        let tar = try pythonTar([("lib", "sym", "/etc"), ("lib/cron.d/job", "file", "")])
        #expect(firstHazard(tar) == .hostileEntry(path: "lib/cron.d/job", hazard: .writeThroughSymlink(link: "lib")))
    }

    @Test func hardlinkOutsideIsRefused() throws {
        let tar = try pythonTar([("x", "hard", "../outside")])
        #expect(firstHazard(tar) == .hostileEntry(path: "x", hazard: .linkEscapesRoot(target: "../outside")))
    }

    @Test func benignLinksAreAccepted() throws {
        let tar = try pythonTar([
            ("usr/lib/a", "sym", "../../bin/x"), ("etc/alt", "sym", "/usr/bin/python3"),
            ("./usr/bin/y", "file", ""), ("usr/bin/z", "hard", "./usr/bin/y"),
        ])
        let entries = try readTar(tar)
        #expect(entries.map(\.0.path) == ["usr/lib/a", "etc/alt", "usr/bin/y", "usr/bin/z"])
        #expect(entries[3].0.linkTarget == "usr/bin/y")
    }

    @Test func reportPolicyReturnsHostileEntriesWithTheirHazards() throws {
        let tar = try pythonTar([("../up", "file", ""), ("fine", "file", "")])
        let reader = TarReader(MemorySource(tar), policy: .report)
        let first = try #require(try reader.next())
        #expect(first.path == "../up")
        #expect(reader.hazards == [.parentTraversal])
        _ = try reader.next()
        #expect(reader.hazards.isEmpty)
    }

    @Test func oversizedPaxHeaderIsRefused() throws {
        // A PAX header claiming 1 GiB must not be read into memory.
        var header = [UInt8](repeating: 0, count: 512)
        for (i, b) in "PaxHeaders/x".utf8.enumerated() { header[i] = b }
        for (i, b) in "0000644\0".utf8.enumerated() { header[100 + i] = b }
        for (i, b) in "10000000000\0".utf8.enumerated() { header[124 + i] = b }
        header[156] = UInt8(ascii: "x")
        for (i, b) in "ustar\u{0}00".utf8.enumerated() { header[257 + i] = b }
        for i in 148..<156 { header[i] = 0x20 }
        let sum = String(header.reduce(0) { $0 + Int($1) }, radix: 8)
        for (i, b) in (String(repeating: "0", count: 6 - sum.count) + sum).utf8.enumerated() { header[148 + i] = b }
        header[154] = 0
        #expect(throws: ArchiveError.self) { _ = try readTar(header + [UInt8](repeating: 0, count: 4096)) }
    }
}
