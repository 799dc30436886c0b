import Archive
import ContainerRuntime
import Foundation
import OCI
import TestSupport
import Testing

@Suite("Runtime bundles")
struct RuntimeBundleTests {
    /// An image with a busybox base layer and a second layer written by hand.
    private func twoLayerImage(in directory: TemporaryDirectory, _ second: (TarWriter) throws -> Void) throws -> (ImageLayout, Descriptor) {
        let root = try Fixtures.makeRootfs(in: directory) { root in
            try FileSystem.writeAtomically(root + "/removed", bytes: Array("going".utf8))
            try FileSystem.writeAtomically(root + "/kept", bytes: Array("staying".utf8))
            try FileSystem.createDirectory(root + "/opaque/sub")
            try FileSystem.writeAtomically(root + "/opaque/old", bytes: Array("old".utf8))
            try FileSystem.writeAtomically(root + "/opaque/sub/deep", bytes: Array("deep".utf8))
            try FileSystem.createDirectory(root + "/gone-dir/inner")
        }
        let layout = try ImageLayout.create(at: directory.path + "/layout")
        let base = try layout.writeLayer { tar in try DirectoryArchiver().append(root, to: tar) }
        let top = try layout.writeLayer(compression: .zstd) { tar in try second(tar) }
        let config = ImageConfiguration(architecture: Fixtures.architecture,
                                        config: .init(User: "nonroot", Cmd: ["/bin/sh"]), rootfs: .init(diffIDs: []))
        let manifest = try layout.writeImage(config: config, layers: [base, top])
        return (layout, manifest)
    }

    private func kind(_ path: String) -> (type: mode_t, mode: mode_t, uid: uid_t, gid: gid_t, inode: UInt)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT, st.st_mode & 0o7777, st.st_uid, st.st_gid, UInt(st.st_ino))
    }

    @Test("two layers: whiteouts and opaque directories applied; modes, owners and links kept")
    func layersAndWhiteouts() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try twoLayerImage(in: directory) { tar in
            try tar.append(TarEntry(path: ".wh.removed", kind: .regular, mode: 0o644))
            try tar.append(TarEntry(path: ".wh.gone-dir", kind: .regular, mode: 0o644))
            try tar.append(.directory("opaque"))
            try tar.append(.file("opaque/-early", size: 0), bytes: Array("early".utf8))
            try tar.append(TarEntry(path: "opaque/.wh..wh..opq", kind: .regular, mode: 0o644))
            try tar.append(.file("opaque/new", size: 0), bytes: Array("new".utf8))
            try tar.append(.file("usr/bin/suid", size: 0, mode: 0o4755), bytes: Array("#!/bin/sh\n".utf8))
            try tar.append(.file("owned", size: 0, mode: 0o640, uid: 1000, gid: 2000), bytes: Array("mine".utf8))
            try tar.append(.hardlink("owned-link", to: "owned"))
            try tar.append(.symlink("kept-link", to: "/kept"))
            try tar.append(TarEntry(path: "dev/evil", kind: .blockDevice, mode: 0o666, deviceMajor: 8, deviceMinor: 0))
        }
        let bundle = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        let rootfs = bundle.rootfs
        #expect(!FileSystem.exists(rootfs + "/removed"))
        #expect(!FileSystem.exists(rootfs + "/gone-dir"))
        #expect(try String(decoding: FileSystem.read(rootfs + "/kept"), as: UTF8.self) == "staying")
        #expect(try FileSystem.listDirectory(rootfs + "/opaque") == ["-early", "new"])
        #expect(kind(rootfs + "/usr/bin/suid")?.mode == 0o4755)
        let owned = try #require(kind(rootfs + "/owned"))
        #expect(owned.uid == 1000 && owned.gid == 2000 && owned.mode == 0o640)
        #expect(kind(rootfs + "/owned-link")?.inode == owned.inode)
        #expect(kind(rootfs + "/kept-link")?.type == S_IFLNK)
        #expect(!FileSystem.exists(rootfs + "/dev/evil"), "device nodes are not created")
        #expect(kind(bundle.path)?.mode == 0o700)
        #expect(kind(rootfs + "/bin/busybox")?.mode == 0o755)

        // The merged file system is what the container sees.
        let runner = try ContainerRunner(stateRoot: directory.path + "/state")
        let result = try runner.run(ImageTestCase(name: "ls", command: ["ls", "/opaque"]), in: bundle)
        #expect(result.passed && result.stdout == "-early\nnew\n", "\(result.stdout) \(result.failure ?? "")")
    }

    @Test("a symlink from a lower layer cannot carry a later layer's write out of the rootfs")
    func crossLayerSymlinkStaysInside() throws {
        let directory = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        let (layout, manifest) = try twoLayerImage(in: directory) { tar in
            try tar.append(.symlink("escape", to: outside.path))
        }
        // A third layer writes through the symlink the second one made.
        var graph = try layout.readDocument(ImageManifest.self, manifest, kind: "manifest")
        var config = try layout.readDocument(ImageConfiguration.self, graph.config, kind: "config")
        let third = try layout.writeLayer { tar in
            try tar.append(.file("escape/pwned", size: 0), bytes: Array("pwned".utf8))
        }
        graph.layers.append(third.descriptor)
        config.rootfs.diff_ids.append(third.diffID)
        graph.config = try layout.writeDocument(config, mediaType: MediaType.imageConfig)
        let three = try layout.writeDocument(graph, mediaType: MediaType.imageManifest)

        let bundle = try RuntimeBundle.create(manifest: three, from: layout, at: directory.path + "/bundle")
        #expect(!FileSystem.exists(outside.path + "/pwned"))
        #expect(FileSystem.exists(bundle.rootfs + outside.path + "/pwned"))
    }

    @Test("a hostile tar entry is refused and no bundle is left")
    func hostileEntry() throws {
        let directory = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: directory.path + "/layout")
        let tar = rawTarEntry(name: "../../escaped", contents: Array("x".utf8)) + [UInt8](repeating: 0, count: 1024)
        let layer = try layout.writeBlob(tar, mediaType: MediaType.layerTar)
        // Uncompressed, so the layer's digest is its diff ID.
        let config = ImageConfiguration(architecture: Fixtures.architecture, rootfs: .init(diffIDs: [layer.digest]))
        let configDescriptor = try layout.writeDocument(config, mediaType: MediaType.imageConfig)
        let manifest = try layout.writeDocument(ImageManifest(config: configDescriptor, layers: [layer]), mediaType: MediaType.imageManifest)
        #expect {
            _ = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        } throws: { error in
            guard case RuntimeError.archive(.hostileEntry) = error else { return false }
            return true
        }
        #expect(!FileSystem.exists(directory.path + "/bundle"))
        #expect(!FileSystem.exists(directory.path + "/escaped"))
    }

    @Test("a corrupt layer blob is refused")
    func corruptBlob() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try Fixtures.image(in: directory)
        let parsed = try layout.readDocument(ImageManifest.self, manifest, kind: "manifest")
        let layer = try #require(parsed.layers.first)
        let blob = layout.blobPath(layer.digest)
        var bytes = try FileSystem.read(blob, limit: 64 << 20)
        bytes[bytes.count - 1] ^= 0xff
        try FileSystem.writeAtomically(blob, bytes: bytes)
        #expect(throws: RuntimeError.self) {
            _ = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        }
        #expect(!FileSystem.exists(directory.path + "/bundle"))
    }

    @Test("config.json: user, env, cwd, namespaces, mounts, capabilities")
    func configJSON() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try Fixtures.image(in: directory, user: "nonroot", entrypoint: ["/bin/sh"], cmd: ["-c", "true"],
                                                    env: ["GREETING=hi"], workingDir: "/srv/app")
        let bundle = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        let data = try FileSystem.read(bundle.path + "/config.json")
        let spec = try JSONDecoder().decode(RuntimeSpec.self, from: Data(data))
        #expect(spec == bundle.spec)
        #expect(spec.process.user.uid == 65532 && spec.process.user.gid == 65532)
        #expect(spec.process.user.additionalGids == [50])
        #expect(spec.process.args == ["/bin/sh", "-c", "true"])
        #expect(spec.process.env.first == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        #expect(spec.process.env.contains("GREETING=hi") && spec.process.env.contains("HOME=/home/nonroot"))
        #expect(spec.process.cwd == "/srv/app")
        #expect(FileSystem.isDirectory(bundle.rootfs + "/srv/app"))
        #expect(spec.process.noNewPrivileges && !spec.process.terminal)
        #expect(spec.process.capabilities.bounding.isEmpty && spec.process.capabilities.effective.isEmpty)
        #expect(Set(spec.linux.namespaces.map(\.type)) == ["pid", "network", "ipc", "uts", "mount"])
        #expect(spec.hostname == "harden-test")
        #expect(spec.root.readonly && spec.root.path == bundle.rootfs)
        #expect(spec.mounts.map(\.destination) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/tmp"])
        #expect(spec.linux.maskedPaths.contains("/proc/kcore") && spec.linux.readonlyPaths.contains("/proc/sys"))
    }

    @Test("/etc/passwd behind an absolute symlink is read inside the rootfs, never on the host")
    func passwdSymlinkStaysInside() throws {
        let directory = try TemporaryDirectory()
        let root = try Fixtures.makeRootfs(in: directory) { root in
            unlink(root + "/etc/passwd")
            try FileSystem.writeAtomically(root + "/etc/alt-passwd", bytes: Array("app:x:4321:4322::/srv:/bin/sh\n".utf8))
            symlink("/../../etc/alt-passwd", root + "/etc/passwd")
        }
        var image = DirectoryImage(root: root, architecture: Fixtures.architecture)
        image.user = "app"
        let layout = try ImageLayout.create(at: directory.path + "/layout")
        let manifest = try image.write(into: layout)
        let bundle = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        #expect(bundle.user == ResolvedUser(uid: 4321, gid: 4322, home: "/srv"))
    }

    @Test("User forms: name, uid, uid:gid, name:group, empty; unknown names are errors")
    func userResolution() throws {
        let passwd = Fixtures.passwd, group = Fixtures.group
        #expect(try ResolvedUser.resolve("", passwd: passwd, group: group) == ResolvedUser(uid: 0, gid: 0, home: "/root"))
        #expect(try ResolvedUser.resolve("nonroot", passwd: passwd, group: group)
                == ResolvedUser(uid: 65532, gid: 65532, additionalGids: [50], home: "/home/nonroot"))
        #expect(try ResolvedUser.resolve("65532", passwd: passwd, group: group).gid == 65532)
        #expect(try ResolvedUser.resolve("4242", passwd: passwd, group: group) == ResolvedUser(uid: 4242, gid: 0))
        #expect(try ResolvedUser.resolve("1000:2000", passwd: nil, group: nil) == ResolvedUser(uid: 1000, gid: 2000))
        #expect(try ResolvedUser.resolve("nonroot:nogroup", passwd: passwd, group: group).gid == 65534)
        #expect(try ResolvedUser.resolve("nobody:5", passwd: passwd, group: group).gid == 5)
        for bad in ["ghost", "nonroot:ghosts", ":5", "nonroot:", "ghost:0"] {
            #expect(throws: RuntimeError.self, "\(bad)") { try ResolvedUser.resolve(bad, passwd: passwd, group: group) }
        }
        #expect(throws: RuntimeError.self) { try ResolvedUser.resolve("nonroot", passwd: nil, group: nil) }
    }
}

/// A ustar header and data for a regular file, built by hand so the name can be anything.
func rawTarEntry(name: String, contents: [UInt8]) -> [UInt8] {
    var header = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, at offset: Int) {
        for (i, byte) in text.utf8.enumerated() { header[offset + i] = byte }
    }
    put(name, at: 0)
    put("0000644", at: 100)
    put("0000000", at: 108)
    put("0000000", at: 116)
    put(String(String(contents.count, radix: 8).reversed()).padding(toLength: 11, withPad: "0", startingAt: 0).reversed().map(String.init).joined(), at: 124)
    put("00000000000", at: 136)
    put("        ", at: 148)
    header[156] = UInt8(ascii: "0")
    put("ustar", at: 257)
    put("00", at: 263)
    let sum = header.reduce(0) { $0 + Int($1) }
    put(String(format: "%06o", sum), at: 148)
    header[154] = 0
    header[155] = UInt8(ascii: " ")
    let padding = (512 - contents.count % 512) % 512
    return header + contents + [UInt8](repeating: 0, count: padding)
}
