import Archive
import ContainerRuntime
import Foundation
import OCI
import TestSupport

/// Test images: a rootfs with Debian's static busybox and a passwd/group naming `nonroot` (65532).
enum Fixtures {
    /// Debian's static busybox, downloaded once (`apt-get download busybox-static`) and cached
    /// under $TMPDIR across runs.
    static let busybox: Result<String, any Error> = Result { try fetchBusybox() }

    private static func fetchBusybox() throws -> String {
        let base = (ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
        let cached = base + "/harden-test-busybox-static/busybox"
        if FileManager.default.isExecutableFile(atPath: cached) { return cached }
        let work = try TemporaryDirectory()
        // apt drops to the _apt user to download: let it write here.
        chmod(work.path, 0o777)
        let download = try run("apt-get", ["download", "busybox-static"], cwd: work.path)
        guard download.status == 0 else {
            throw TestSetupError(description: "apt-get download busybox-static failed (is the Debian mirror reachable?): \(download.stderr)")
        }
        guard let deb = try FileSystem.listDirectory(work.path).first(where: { $0.hasSuffix(".deb") }) else {
            throw TestSetupError(description: "apt-get download busybox-static left no .deb")
        }
        try runChecked("dpkg-deb", ["-x", work.path + "/" + deb, work.path + "/x"])
        let bytes = try FileSystem.read(work.path + "/x/bin/busybox", limit: 64 << 20)
        try FileSystem.createDirectory(FileSystem.parentPath(cached))
        try FileSystem.writeAtomically(cached, bytes: bytes, mode: 0o755)
        return cached
    }

    static let applets = ["sh", "echo", "id", "cat", "sleep", "pwd", "ls", "env", "ip", "true", "false", "stat", "hostname", "touch"]

    static let passwd = """
        root:x:0:0:root:/root:/bin/sh
        nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
        nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin

        """
    static let group = """
        root:x:0:
        tty:x:5:
        staff:x:50:nonroot
        nogroup:x:65534:
        nonroot:x:65532:

        """

    /// The host's architecture as OCI names it.
    static var architecture: String {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: info.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        switch machine {
        case "x86_64": return "amd64"
        case "aarch64": return "arm64"
        default: return machine
        }
    }

    /// Writes a busybox rootfs into `directory`/rootfs.
    static func makeRootfs(in directory: TemporaryDirectory, extra: (String) throws -> Void = { _ in }) throws -> String {
        let busybox = try Self.busybox.get()
        let root = directory.path + "/rootfs"
        try directory.write("rootfs/bin/busybox", try FileSystem.read(busybox, limit: 64 << 20), mode: 0o755)
        for applet in applets where symlink("busybox", root + "/bin/" + applet) != 0 {
            throw TestSetupError(description: "symlink \(applet): errno \(errno)")
        }
        try directory.write("rootfs/etc/passwd", Array(passwd.utf8))
        try directory.write("rootfs/etc/group", Array(group.utf8))
        try FileSystem.createDirectory(root + "/tmp")
        chmod(root + "/tmp", 0o1777)
        try FileSystem.createDirectory(root + "/home/nonroot")
        try extra(root)
        return root
    }

    /// A single-layer busybox image in a new layout under `directory`.
    static func image(in directory: TemporaryDirectory, user: String? = "nonroot", entrypoint: [String]? = nil,
                      cmd: [String]? = nil, env: [String]? = nil, workingDir: String? = nil) throws -> (ImageLayout, Descriptor) {
        let root = try makeRootfs(in: directory)
        var image = DirectoryImage(root: root, architecture: architecture, epoch: 1_700_000_000)
        image.user = user
        image.entrypoint = entrypoint
        image.cmd = cmd
        if let env { image.env = env }
        image.workingDir = workingDir
        let layout = try ImageLayout.create(at: directory.path + "/layout")
        let manifest = try image.write(into: layout)
        return (layout, manifest)
    }

    /// Runs `tests` on an image made with `image(...)`.
    static func test(_ tests: [ImageTestCase], user: String? = "nonroot", entrypoint: [String]? = nil, cmd: [String]? = nil,
                     env: [String]? = nil, workingDir: String? = nil, requireNonRoot: Bool = false) throws -> [ImageTestResult] {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try image(in: directory, user: user, entrypoint: entrypoint, cmd: cmd, env: env, workingDir: workingDir)
        return try ImageTester.run(tests, manifest: manifest, from: layout, requireNonRoot: requireNonRoot)
    }
}
