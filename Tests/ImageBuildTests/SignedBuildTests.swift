import Foundation
@testable import ImageBuild
import Testing

@Suite struct SignedBuildTests {
    @Test func runIsCoveredButThePathToTheResolversConfiguration() throws {
        #expect(BuildWorker.runtimeCovers(keeping: "/etc/resolv.conf") == ["/run"])
        // systemd-resolved's layout: /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf.
        let covers = BuildWorker.runtimeCovers(keeping: "/run/systemd/resolve/stub-resolv.conf")
        #expect(covers.allSatisfy { $0.hasPrefix("/run/") })
        #expect(!covers.contains("/run/systemd") && !covers.contains("/run"))
        let topLevel = Set(try FileManager.default.contentsOfDirectory(atPath: "/run")).subtracting(["systemd"])
        #expect(topLevel.allSatisfy { covers.contains("/run/" + $0) }, "\(covers)")
    }
}

@Suite struct ChildOutputTests {
    @Test func onlyRegularFilesAndDirectoriesAreAcceptedFromTheChild() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("harden-child-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir + "/layout/blobs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/result.json", contents: Data("{}".utf8)))
        try SignedBuild.requireRegularFiles(in: dir)
        #expect(mkfifo(dir + "/layout/blobs/fifo", 0o600) == 0)
        #expect(throws: BuildError.self) { try SignedBuild.requireRegularFiles(in: dir) }
        unlink(dir + "/layout/blobs/fifo")
        try FileManager.default.createSymbolicLink(atPath: dir + "/layout/index.json", withDestinationPath: "/etc/shadow")
        #expect(throws: BuildError.self) { try SignedBuild.requireRegularFiles(in: dir) }
    }
}
