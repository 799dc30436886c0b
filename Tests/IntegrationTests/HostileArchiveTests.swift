import Archive
import Debian
import ContainerRuntime
import Foundation
import ImageBuild
import OCI
import Testing
import TestSupport

/// Every path under `root` with its type, size and modification time: what a test compares
/// before and after to prove nothing was written.
func treeSnapshot(_ root: String, excluding excluded: [String] = []) -> [String: String] {
    var result: [String: String] = [:]
    let names = FileManager.default.enumerator(atPath: root)?.allObjects.compactMap { $0 as? String } ?? []
    for name in names where !excluded.contains(where: { name == $0 || name.hasPrefix($0 + "/") }) {
        var st = stat()
        guard lstat(root + "/" + name, &st) == 0 else { continue }
        result[name] = "\(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }
    return result
}

/// The host files an escaping archive would aim at, with their hashes and times.
func hostTargets() -> [String: String] {
    var result: [String: String] = [:]
    for path in ["/etc/passwd", "/etc/shadow", "/etc/group"] {
        var st = stat()
        guard lstat(path, &st) == 0 else { continue }
        let hash = (try? sha256Hex(FileSystem.read(path, limit: 1 << 20))) ?? "unreadable"
        result[path] = "\(hash) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino)"
    }
    return result
}

/// The five hostile archives the issue names: each refused with a typed error, and nothing
/// written outside the destination, in a `.deb` given to `harden build` and in an image layer
/// unpacked onto disk for a container run.
@Suite(.serialized) struct HostileArchiveTests {
    /// (package name, data tar, data.tar.gz as shipped, what the refusal must say)
    static func cases() throws -> [(name: String, tar: [UInt8]?, tarGz: [UInt8]?, message: String)] {
        [
            ("traversal", try pythonTar([("./usr", "dir", ""), ("../../etc/passwd", "file", "")]), nil,
             "'..' component in path"),
            ("through-symlink", try pythonTar([("./usr/lib", "dir", ""), ("./usr/lib/evil", "sym", "/etc"), ("./usr/lib/evil/passwd", "file", "")]), nil,
             "path goes through symlink 'usr/lib/evil'"),
            ("shadow-link", try pythonTar([("./usr/bin", "dir", ""), ("./usr/bin/shadow", "hard", "/etc/shadow")]), nil,
             "link target '/etc/shadow' leaves the root"),
            ("gzip-bomb", nil, try HostileArchives.gzipBomb(decompressed: 10 << 30),
             "over the 200:1 decompression limit"),
            ("pax-huge", try HostileArchives.paxHugeSize(), nil,
             "claims 4611686018427387904 bytes, over the 64 GiB entry limit"),
        ]
    }

    @Test("harden build refuses each hostile .deb, tags nothing, and writes nothing outside its store, cache and TMPDIR")
    func debs() throws {
        let cases = try Self.cases()
        #expect(cases.first { $0.name == "gzip-bomb" }?.tarGz?.count ?? 0 < 12 << 20, "10 GiB in about 10 MiB")
        let repo = try SignedTestRepository(packages: cases.map { .init(name: $0.name, rawDataTar: $0.tar, rawDataTarGz: $0.tarGz) }
                                            + [.init(name: "fine", files: ["usr/bin/fine": "ok"])], suite: "bookworm")
        let store = repo.dir.path + "/store"
        let tmp = repo.dir.path + "/tmp"
        try FileSystem.createDirectory(tmp)
        let host = hostTargets()
        for test in cases {
            let specPath = try repo.spec(packages: ["fine", test.name])
            let before = treeSnapshot(repo.dir.path, excluding: ["store", "cache", "tmp", "broken.lock.json"])
            let started = Date()
            let result = try repo.build(specPath, store: store, environment: ["TMPDIR": tmp])
            #expect(result.status == 1, "\(test.name): \(result.stderr)")
            #expect(result.stderr.contains("refusing \(test.name)") && result.stderr.contains(test.message), "\(test.name): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Backtrace"), "\(test.name) crashed")
            #expect(Date().timeIntervalSince(started) < 60, "\(test.name) took \(Date().timeIntervalSince(started)) s")
            // Nothing new or changed outside the store, the cache, TMPDIR and the spec's lock.
            #expect(treeSnapshot(repo.dir.path, excluding: ["store", "cache", "tmp", "broken.lock.json"]) == before, "\(test.name)")
            let left = try FileSystem.listDirectory(tmp)
            #expect(left.isEmpty, "\(test.name) left \(left) in TMPDIR")
            // The build fails before it opens the store; if one is there, it is intact and holds no tag.
            if FileSystem.exists(store) {
                let layout = try ImageLayout(opening: store)
                #expect(try layout.tags().isEmpty, "\(test.name) tagged something")
                let check = layout.check()
                #expect(check.isIntact && check.staleTemporaries.isEmpty, "\(test.name): \(check.problems) \(check.staleTemporaries)")
            }
            try? FileSystem.remove(LockFile.path(forSpec: specPath))
        }
        #expect(hostTargets() == host, "a host file changed")
    }

    @Test("a container bundle refuses each hostile layer, and the directory around it is untouched")
    func layers() throws {
        let dir = try TemporaryDirectory()
        // What `../../etc/passwd` from the bundle's rootfs would reach.
        _ = try dir.write("etc/passwd", Array("sentinel\n".utf8))
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        let host = hostTargets()
        for test in try Self.cases() {
            let layer = if let tarGz = test.tarGz {
                try layout.writeBlob(tarGz, mediaType: MediaType.layerGzip)
            } else {
                try layout.writeBlob(test.tar ?? [], mediaType: MediaType.layerTar)
            }
            let config = ImageConfiguration(architecture: "amd64", rootfs: .init(diffIDs: [layer.digest]))
            let manifest = try layout.writeDocument(ImageManifest(config: try layout.writeDocument(config, mediaType: MediaType.imageConfig),
                                                                  layers: [layer]), mediaType: MediaType.imageManifest)
            let before = treeSnapshot(dir.path)
            #expect {
                _ = try RuntimeBundle.create(manifest: manifest, from: layout, at: dir.path + "/bundle")
            } throws: { error in
                String(describing: error).contains(test.message)
            }
            #expect(treeSnapshot(dir.path) == before, "\(test.name) left something behind")
        }
        #expect(try FileSystem.read(dir.path + "/etc/passwd") == Array("sentinel\n".utf8))
        #expect(hostTargets() == host, "a host file changed")
    }
}
