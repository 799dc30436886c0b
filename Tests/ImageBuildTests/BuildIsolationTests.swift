import Archive
import Foundation
@testable import ImageBuild
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the isolated child (``BuildIsolationTests/isolatedChildSide()``, run in a re-executed copy
/// of this test bundle) is asked to do, passed as JSON in its environment.
struct IsolationChildRequest: Codable {
    static let variable = "HARDEN_ISOLATION_TEST_CHILD"
    var hidden: [String]
    var writable: [String]?
    /// Paths the child probes besides `hidden` (aliases of hidden files the child found itself).
    var alsoProbe: [String]
    var secretEnvironment: [String]
    /// Files the child tries to create: reported as reached when it could.
    var tryCreating: [String]
    /// Sleep after the report (so the test can kill the child's parent).
    var pauseAfterReport = false
}

struct IsolationChildReport: Codable {
    static let marker = "ISOLATION-RESULT "
    var attempts: [BuildIsolation.Attempt]
    var created: [BuildIsolation.Attempt]
    var uid: UInt32
    var threads: Int
    var pid: Int32
    var parent: Int32
}

/// Serialized: ``probeFindsAListeningAgentSocket()`` listens where the isolated children look.
@Suite(.serialized) struct BuildIsolationTests {
    // MARK: Environment

    @Test func scrubbedKeepsOnlyTheListedNames() {
        let environment = [
            "PATH": "/usr/bin:/bin", "HOME": "/root", "HARDEN_PASSWORD": "hunter2", "GITHUB_TOKEN": "ghp_x",
            "https_proxy": "http://proxy:3128", "NO_PROXY": "localhost", "SOURCE_DATE_EPOCH": "1700000000",
            "SSH_AUTH_SOCK": "/tmp/agent", "LD_PRELOAD": "/tmp/evil.so", "HARDEN_STORE": "/srv/store",
        ]
        #expect(BuildIsolation.scrubbed(environment) == [
            "PATH": "/usr/bin:/bin", "HOME": "/root", "https_proxy": "http://proxy:3128", "NO_PROXY": "localhost",
            "SOURCE_DATE_EPOCH": "1700000000", "HARDEN_STORE": "/srv/store",
        ])
        #expect(!BuildIsolation.keptEnvironment.contains("HARDEN_PASSWORD"))
        #expect(!BuildIsolation.keptEnvironment.contains(BuildIsolation.stageVariable))
    }

    @Test func childEnvironmentIsExactlyTheGivenOne() throws {
        let output = try runCapturing("/usr/bin/env", [], environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "A": "b=c"])
        #expect(output.status == 0)
        #expect(output.text.split(separator: "\n").sorted() == ["A=b=c", "LANG=C.UTF-8", "PATH=/usr/bin:/bin"])
    }

    // MARK: Descriptors, stdin, signals

    @Test func childInheritsNoOtherDescriptor() throws {
        let dir = try TemporaryDirectory()
        let secret = try dir.write("leaky.key", Array("secret".utf8), mode: 0o600)
        // Not close-on-exec, and at a high number: posix_spawn alone would pass it on. (F_DUPFD takes
        // the lowest free number from 57 up; dup2 onto a fixed number would close whatever another
        // test running in this process holds there, a network socket say.)
        let opened = open(secret, O_RDONLY)
        try #require(opened >= 0)
        let leaked = fcntl(opened, F_DUPFD, 57)
        close(opened)
        defer { close(leaked) }
        try #require(leaked >= 57 && fcntl(leaked, F_GETFD) & FD_CLOEXEC == 0)

        let output = try runCapturing("/bin/ls", ["-l", "/proc/self/fd"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(output.status == 0)
        let numbers = output.text.split(separator: "\n").compactMap { line -> Int? in
            guard let arrow = line.range(of: " -> ") else { return nil }
            return Int(line[..<arrow.lowerBound].split(separator: " ").last ?? "")
        }
        // 0, 1, 2 and the directory ls itself opened to list them.
        #expect(numbers.sorted() == [0, 1, 2, 3], "ls saw \(numbers): \(output.text)")
        #expect(!output.text.contains(secret))
    }

    @Test func childHasDevNullStdinCleanSignalsAndItsOwnSession() throws {
        // Block a signal on this thread and ignore none: the child must start with nothing blocked.
        var block = sigset_t(), previous = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR1)
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let output = try runCapturing("/bin/sh", ["-c", "readlink /proc/self/fd/0; grep -E '^Sig(Blk|Ign)' /proc/self/status; ps -o sid= -p $$; echo $$"],
                                      environment: ["PATH": "/usr/bin:/bin"])
        let lines = output.text.split(separator: "\n").map { String($0).replacingOccurrences(of: "\t", with: " ") }
        #expect(lines.count == 5 && lines.first == "/dev/null" && lines.dropFirst().first == "SigBlk: 0000000000000000", "\(output.text)")
        // Its own session: the session id is its pid.
        #expect(lines.count == 5 && lines[3].trimmingCharacters(in: .whitespaces) == lines[4], "\(output.text)")
        // glibc's posix_spawn leaves its two internal signals (32, 33: thread cancellation and
        // setxid) ignored, and a glibc program installs its own handlers for them at startup; every
        // other signal is at its default action.
        let ignored = UInt64(lines.count > 2 ? lines[2].split(separator: " ").last ?? "" : "", radix: 16)
        #expect(ignored.map { $0 & ~UInt64(0x1_8000_0000) } == 0, "\(output.text)")
    }

    // MARK: Exit status

    @Test func exitStatusIsDecodedLikeAShell() throws {
        let path = ["PATH": "/usr/bin:/bin"]
        #expect(try BuildIsolation.runChild(executable: "/bin/true", arguments: [], environment: path) == 0)
        #expect(try BuildIsolation.runChild(executable: "/bin/false", arguments: [], environment: path) == 1)
        #expect(try BuildIsolation.runChild(executable: "/bin/sh", arguments: ["-c", "exit 7"], environment: path) == 7)
        #expect(try BuildIsolation.runChild(executable: "/bin/sh", arguments: ["-c", "kill -TERM $$"], environment: path) == 128 + SIGTERM)
        #expect(try BuildIsolation.runChild(executable: "/bin/sh", arguments: ["-c", "kill -KILL $$"], environment: path) == 128 + SIGKILL)
    }

    @Test func missingExecutableThrows() {
        #expect {
            try BuildIsolation.runChild(executable: "/nonexistent/harden", arguments: [], environment: [:])
        } throws: { error in
            (error as? IsolationError)?.errno == ENOENT
        }
    }

    @Test(.timeLimit(.minutes(2))) func asyncRunWaitsOffThePoolAndCancellationKills() async throws {
        let path = ["PATH": "/usr/bin:/bin"]
        // More children than the cooperative pool has threads, all waiting at once. Each records
        // when it started and ended; if waiting blocked a pool thread, no more than the pool's
        // threads (the cores) could ever run together. Counted, not timed, so a loaded machine
        // does not change the answer.
        let dir = try TemporaryDirectory()
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for code in 0..<16 {
                let log = dir.path + "/\(code)"
                group.addTask {
                    try await BuildIsolation.runChild(executable: "/bin/sh", arguments: ["-c", "date +%s.%N > \(log); sleep 1; date +%s.%N >> \(log); exit \(code)"],
                                                      environment: path)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.sorted() == Array(0..<16))
        let spans = try (0..<16).map { code -> (Double, Double) in
            let times = String(decoding: try FileSystem.read(dir.path + "/\(code)"), as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
            return (times.first ?? 0, times.last ?? 0)
        }
        let together = spans.map { span in spans.filter { $0.0 <= span.0 && $0.1 > span.0 }.count }.max() ?? 0
        #expect(together > max(ProcessInfo.processInfo.activeProcessorCount, 1), "at most \(together) children ran at once")

        // Cancelling the task kills the child: it ends by SIGKILL, not by sleeping out its 30 s.
        let sleeper = Task { try await BuildIsolation.runChild(executable: "/bin/sleep", arguments: ["30"], environment: path) }
        try await Task.sleep(for: .milliseconds(200))
        sleeper.cancel()
        #expect(try await sleeper.value == 128 + SIGKILL)
    }

    // MARK: Parent protection

    /// This makes the whole test process non-dumpable: no core dumps, and processes of the same
    /// uid without CAP_SYS_PTRACE cannot ptrace it or read its /proc entries. The tests run as
    /// root, so nothing they do is affected (SignedBuild calls it in this process as well).
    @Test func protectParentMakesThisProcessNotDumpable() throws {
        try BuildIsolation.protectParent()
        #expect(BuildIsolation.isParentProtected)
        try BuildIsolation.protectParent()
        #expect(BuildIsolation.isParentProtected)
    }

    // MARK: Probe and covers without isolation

    @Test func probeOfAnUnisolatedProcessReachesTheSecret() throws {
        let dir = try TemporaryDirectory()
        let secret = try dir.write("signing.key", Array("-----BEGIN ENCRYPTED PRIVATE KEY-----".utf8), mode: 0o600)
        let link = dir.path + "/link.key"
        try #require(symlink(secret, link) == 0)
        let attempts = BuildIsolation.probe(hidden: [link], secretEnvironment: ["PATH", "HARDEN_NOT_SET_ANYWHERE"])
        let byTarget = Dictionary(attempts.map { ($0.target, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byTarget[link]?.reached == true)
        #expect(byTarget[secret]?.reached == true, "the realpath is probed too")
        #expect(byTarget[secret]?.detail.contains("BEGIN") == false, "the detail never carries the secret")
        #expect(byTarget["environment PATH"]?.reached == true)
        #expect(byTarget["environment HARDEN_NOT_SET_ANYWHERE"]?.reached == false)
        // This process is root with every capability: mounts are reported, never tried.
        #expect(byTarget["capabilities"]?.reached == true)
        #expect(byTarget["threads"]?.reached == true)
        #expect(byTarget["umount \(secret)"] == BuildIsolation.Attempt(target: "umount \(secret)", reached: true, detail: "has CAP_SYS_ADMIN (not tried)"))
        #expect(attempts.contains { $0.target.hasPrefix("/proc/") && $0.target.hasSuffix("(parent's memory)") && $0.reached })
    }

    @Test func probeFindsAListeningAgentSocket() throws {
        // Where ssh-agent puts its socket: a process of the same uid could use the agent's keys.
        let template = Array("/tmp/ssh-hardentestXXXXXX".utf8CString)
        var buffer = template
        let dir = try #require(buffer.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { try? FileSystem.remove(dir) }
        let path = dir + "/agent.\(getpid())"
        let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(server >= 0)
        defer { close(server) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0 && listen(server, 4) == 0)
        let sockets = try #require(BuildIsolation.probe(hidden: [], secretEnvironment: []).first { $0.target.hasPrefix("service sockets") })
        #expect(sockets.reached)
        #expect(sockets.detail.contains(path + ": accepts connections"), "\(sockets.detail)")
    }

    @Test func coversResolveSymlinksSkipMissingPathsAndRefuseHardLinks() throws {
        let dir = try TemporaryDirectory()
        let real = try #require(BuildIsolation.realPath(dir.path))
        let secret = try dir.write("keys/signing.key", Array("k".utf8))
        let symlinked = dir.path + "/link.key"
        try #require(symlink(secret, symlinked) == 0)
        let mounts = try Mounts.read()
        let covers = try BuildIsolation.coverTargets([symlinked, dir.path + "/keys", dir.path + "/missing"], mounts: mounts)
        #expect(covers == [
            BuildIsolation.Cover(path: real + "/keys/signing.key", directory: false),
            BuildIsolation.Cover(path: real + "/keys", directory: true),
        ])
        try #require(link(secret, dir.path + "/second-name") == 0)
        #expect(throws: IsolationError.self) { try BuildIsolation.coverTargets([secret], mounts: mounts) }
    }

    @Test func aliasesFollowEveryMountOfTheSameFileSystem() {
        let mounts = Mounts(parsing: """
            27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
            40 27 254:0 /srv/keys /mnt/keys\\040copy rw,relatime - ext4 /dev/vda rw
            41 27 254:0 /home /home rw,relatime - ext4 /dev/vda rw
            42 27 0:30 / /tmp rw - tmpfs tmpfs rw
            """)
        #expect(mounts.entries[1].point == "/mnt/keys copy")
        #expect(mounts.aliases(of: "/srv/keys/signing.key") == ["/mnt/keys copy/signing.key"])
        #expect(mounts.aliases(of: "/mnt/keys copy/signing.key") == ["/srv/keys/signing.key"])
        #expect(mounts.aliases(of: "/home/u/.key") == [])
        #expect(mounts.aliases(of: "/tmp/x") == [])
    }

    @Test func stageVariableIsParsedStrictly() throws {
        let stage = try BuildIsolation.Stage(parsing: "2:4026531832:1234")
        #expect(stage.phase == 2 && stage.outerNamespace == 4026531832 && stage.parent == 1234)
        for bad in ["", "3:1:1", "1:x:1", "1:1", "1:1:0", "2:1:1:1"] {
            #expect(throws: IsolationError.self) { try BuildIsolation.Stage(parsing: bad) }
        }
    }

    // MARK: Isolation, end to end in a re-executed copy of this test bundle

    /// As root: the child isolates itself (three executions of this bundle), then can reach none
    /// of a hidden key file (given through a symlink), a hidden directory, the same directory
    /// bind-mounted elsewhere, a secret variable, the parent's memory or environment; it cannot
    /// remove a cover, and it can write only where it was allowed to.
    @Test(.timeLimit(.minutes(2))) func isolatedChildReachesNothing() async throws {
        let setup = try ChildSetup()
        // The child runs in a mount namespace of its own where `keys` is also bind-mounted at
        // `alias`, so the cover of that second mount is tested without touching the host's.
        let request = setup.request(hidden: [setup.link, setup.keys], alsoProbe: [setup.keys + "/release.key", setup.alias + "/release.key", setup.alias])
        let report = try await setup.run(request, through: ["/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                                                           "/bin/sh", "-c", "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"", "sh",
                                                           setup.keys, setup.alias])
        #expect(report.uid == 0)
        setup.check(report, request)
        let umount = report.attempts.first { $0.target == "umount \(setup.realKeys)" }
        #expect(umount?.reached == false && umount?.detail.hasSuffix("(errno \(EPERM))") == true, "\(String(describing: umount))")
    }

    /// Without `writable`, the file system stays writable where it was, but /proc/sys, /sys and
    /// /dev are still closed, and the covers the same.
    @Test(.timeLimit(.minutes(2))) func isolatedChildWithAWritableFileSystem() async throws {
        let setup = try ChildSetup()
        var request = setup.request(hidden: [setup.link, setup.keys], alsoProbe: [setup.keys + "/release.key"])
        request.writable = nil
        request.tryCreating = [setup.work + "/allowed", setup.dir.path + "/also-allowed", setup.key, setup.keys + "/new.key"]
        let report = try await setup.run(request, through: [])
        setup.check(report, request, created: [true, true, false, false])
        #expect(report.attempts.first { $0.target == "/proc/sys/kernel/core_pattern (write)" }?.detail.contains("errno \(EROFS)") == true)
    }

    /// As an unprivileged user (uid 65534, no capabilities): `enter` goes through a user
    /// namespace, and the result is the same.
    @Test(.timeLimit(.minutes(2))) func isolatedUnprivilegedChildReachesNothing() async throws {
        let setup = try ChildSetup()
        try #require(chown(setup.work, 65534, 65534) == 0)
        let request = setup.request(hidden: [setup.link, setup.keys], alsoProbe: [setup.keys + "/release.key"])
        let report = try await setup.run(request, through: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        #expect(report.uid == 65534)
        setup.check(report, request)
    }

    /// The child side of the two tests above; skipped unless this bundle runs as that child.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[IsolationChildRequest.variable] != nil))
    func isolatedChildSide() throws {
        let text = try #require(ProcessInfo.processInfo.environment[IsolationChildRequest.variable])
        let request = try JSONDecoder().decode(IsolationChildRequest.self, from: Data(text.utf8))
        try BuildIsolation.enter(hiding: request.hidden, writable: request.writable)
        try BuildIsolation.enter(hiding: request.hidden, writable: request.writable) // again: only verifies
        let attempts = BuildIsolation.probe(hidden: request.hidden + request.alsoProbe, secretEnvironment: request.secretEnvironment)
        let created = request.tryCreating.map { path -> BuildIsolation.Attempt in
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            let error = errno
            if fd >= 0 { close(fd) }
            return BuildIsolation.Attempt(target: path, reached: fd >= 0, detail: fd >= 0 ? "created" : String(cString: strerror(error)))
        }
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
        let report = IsolationChildReport(attempts: attempts, created: created, uid: getuid(), threads: threads, pid: getpid(), parent: getppid())
        let line = IsolationChildReport.marker + String(decoding: try JSONEncoder().encode(report), as: UTF8.self) + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        if request.pauseAfterReport { sleep(60) }
    }

    /// The child is isolated below a shell; when the shell is killed, the kernel kills the child
    /// (PR_SET_PDEATHSIG, armed by `enter`), so a build never outlives its control plane.
    @Test(.timeLimit(.minutes(2))) func childDiesWithItsParent() async throws {
        let setup = try ChildSetup()
        var request = setup.request(hidden: [setup.key], alsoProbe: [])
        request.pauseAfterReport = true
        let (running, output) = try setup.start(request, through: ["/bin/sh", "-c", "\"$@\"; exit 3", "sh"])
        var report: IsolationChildReport?
        for _ in 0..<600 where report == nil {
            try await Task.sleep(for: .milliseconds(50))
            report = try? ChildSetup.report(in: String(decoding: try FileSystem.read(output), as: UTF8.self))
        }
        let child = try #require(report, "the child wrote no report")
        #expect(child.attempts.filter(\.reached).isEmpty)
        #expect(kill(child.parent, SIGKILL) == 0)
        #expect(try await running.value == 128 + SIGKILL, "the shell was killed")
        var gone = false
        for _ in 0..<100 where !gone {
            // Gone, or a zombie waiting for whichever process adopted it.
            let stat = (try? FileSystem.read("/proc/\(child.pid)/stat")).map { String(decoding: $0, as: UTF8.self) }
            gone = stat.map { $0.split(separator: ")").last?.split(separator: " ").first == "Z" } ?? true
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        var status: Int32 = 0
        _ = waitpid(child.pid, &status, WNOHANG) // reaps it if this process adopted it (a subreaper)
        #expect(gone, "the child \(child.pid) outlived its parent")
    }
}

/// Runs `executable` through ``BuildIsolation/runChild(executable:arguments:environment:stdout:)``
/// with its stdout in a file, and returns the status and that output.
private func runCapturing(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, text: String) {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/stdout"
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw TestSetupError(description: "open \(path)") }
    let status: Int32
    do {
        defer { close(fd) }
        status = try BuildIsolation.runChild(executable: executable, arguments: arguments, environment: environment, stdout: fd)
    }
    return (status, String(decoding: try FileSystem.read(path), as: UTF8.self))
}

/// Files for an isolated child: a key reached through a symlink, a directory of keys, a work
/// directory it may write, all readable by anyone before isolation (so covers are what stops it).
private struct ChildSetup {
    let dir: TemporaryDirectory
    let key: String
    let realKey: String
    let link: String
    let keys: String
    let realKeys: String
    let alias: String
    let work: String

    init() throws {
        dir = try TemporaryDirectory()
        chmod(dir.path, 0o755)
        key = try dir.write("signing.key", Array("-----BEGIN ENCRYPTED PRIVATE KEY-----".utf8), mode: 0o644)
        link = dir.path + "/link.key"
        guard symlink(key, link) == 0 else { throw TestSetupError(description: "symlink \(link)") }
        keys = dir.path + "/keys"
        try dir.write("keys/release.key", Array("release".utf8), mode: 0o644)
        chmod(keys, 0o755)
        guard let realKeys = BuildIsolation.realPath(keys), let realKey = BuildIsolation.realPath(key) else {
            throw TestSetupError(description: "realpath \(keys)")
        }
        self.realKeys = realKeys
        self.realKey = realKey
        alias = dir.path + "/alias"
        work = dir.path + "/work"
        try FileSystem.createDirectory(alias)
        try FileSystem.createDirectory(work)
    }

    /// What a build child should hide besides the key on any host: /run (D-Bus, systemd,
    /// container engines), and SSH agent and tmux sockets in /tmp.
    static var serviceSocketPaths: [String] {
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        return (["/run"] + tmp.filter { $0.hasPrefix("ssh-") || $0.hasPrefix("tmux-") }.map { "/tmp/" + $0 }).filter { FileSystem.exists($0) }
    }

    func request(hidden: [String], alsoProbe: [String]) -> IsolationChildRequest {
        IsolationChildRequest(hidden: hidden + Self.serviceSocketPaths, writable: [work], alsoProbe: alsoProbe, secretEnvironment: ["HARDEN_PASSWORD"],
                              tryCreating: [work + "/allowed", dir.path + "/not-allowed", "/etc/harden-isolation-test"])
    }

    /// Starts this test bundle as the child, through `launcher` (arguments before the bundle's
    /// path), with a scrubbed environment (HARDEN_PASSWORD set here, so scrubbing is what drops
    /// it); returns the waiting task and the file its stdout goes to.
    func start(_ request: IsolationChildRequest, through launcher: [String]) throws -> (Task<Int32, any Error>, String) {
        guard let bundle = BuildIsolation.realPath("/proc/self/exe") else { throw TestSetupError(description: "realpath /proc/self/exe") }
        var environment = BuildIsolation.scrubbed(ProcessInfo.processInfo.environment.merging(["HARDEN_PASSWORD": "hunter2"]) { $1 })
        environment[IsolationChildRequest.variable] = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        let output = dir.path + "/child.out"
        let fd = open(output, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestSetupError(description: "open \(output)") }
        let command = launcher + [bundle, "--testing-library", "swift-testing", "--filter", "isolatedChildSide"]
        let task = Task {
            defer { close(fd) }
            return try await BuildIsolation.runChild(executable: command[0], arguments: Array(command.dropFirst()), environment: environment, stdout: fd)
        }
        return (task, output)
    }

    static func report(in text: String) throws -> IsolationChildReport? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(IsolationChildReport.marker) }) else { return nil }
        return try JSONDecoder().decode(IsolationChildReport.self, from: Data(line.dropFirst(IsolationChildReport.marker.count).utf8))
    }

    /// Runs the child to its end and returns its report.
    func run(_ request: IsolationChildRequest, through launcher: [String]) async throws -> IsolationChildReport {
        let (task, output) = try start(request, through: launcher)
        let status = try await task.value
        let text = String(decoding: try FileSystem.read(output), as: UTF8.self)
        guard status == 0, let report = try Self.report(in: text) else {
            throw TestSetupError(description: "the isolated child exited \(status):\n\(text)")
        }
        return report
    }

    func check(_ report: IsolationChildReport, _ request: IsolationChildRequest, created: [Bool] = [true, false, false]) {
        if ProcessInfo.processInfo.environment["HARDEN_ISOLATION_TEST_SHOW"] != nil {
            for attempt in report.attempts + report.created { print("  \(attempt.reached ? "REACHED" : "denied ") \(attempt.target): \(attempt.detail)") }
        }
        let reached = report.attempts.filter(\.reached)
        #expect(reached.isEmpty, "reached: \(reached)")
        let targets = report.attempts.map(\.target)
        // Every kind of try was made.
        for expected in [link, realKey, realKeys, "environment HARDEN_PASSWORD", "descriptors beyond 0-2",
                         "capabilities", "threads", "no_new_privs", "user namespaces", "controlling terminal", "/proc/sys/kernel/core_pattern (write)",
                         "service sockets (D-Bus, systemd, container engines, SSH agents, tmux, screen)", "umount \(realKey)", "remount \(realKey) read-write"]
            + request.alsoProbe {
            #expect(targets.contains(expected), "no attempt on \(expected): \(targets)")
        }
        for suffix in ["(parent's environment)", "(parent's memory)", "(parent's descriptors)", "(parent's mount namespace)"] {
            #expect(targets.contains { $0.hasSuffix(suffix) }, "no attempt \(suffix)")
        }
        #expect(report.attempts.first { $0.target == realKey }?.detail == "opens, reads nothing (covered)")
        #expect(report.attempts.first { $0.target == realKeys }?.detail == "an empty directory (covered)")
        #expect(report.threads > 1, "the child was multi-threaded (Swift Testing), as a harden command is")
        #expect(report.attempts.first { $0.target == "threads" }?.detail == "all \(report.threads) isolated alike")
        #expect(report.created.map(\.reached) == created, "\(report.created)")
        // Read-only mounts, or (opening a cover, mode 0444) no write permission.
        let refusals = [EROFS, EACCES].map { String(cString: strerror($0)) }
        #expect(report.created.filter { !$0.reached }.allSatisfy { refusals.contains($0.detail) }, "\(report.created)")
    }
}
