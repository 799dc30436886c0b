#if canImport(Glibc)
import Glibc
#endif
import Archive
import CLinux
import Foundation

/// A step of build isolation that failed, with the errno it failed with. Isolation never
/// continues past a failed step.
public struct IsolationError: Error, Sendable, CustomStringConvertible {
    /// What was being done, e.g. `mount /dev/null over /root/harden.key`.
    public var step: String
    /// The errno of the failed call, or 0 when the failure is not a system call's.
    public var errno: Int32
    /// More about the failure, when there is more to say.
    public var detail: String?

    public init(step: String, errno: Int32 = 0, detail: String? = nil) {
        self.step = step
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var text = "build isolation failed: \(step)"
        if let detail { text += ": \(detail)" }
        if errno != 0 { text += " (\(String(cString: strerror(errno))), errno \(errno))" }
        return text
    }
}

/// Isolation of the build steps from the signing key (SLSA Build L3): the control plane holds the
/// decrypted key in memory and runs the build (fetch, unpack, assemble, layer) in a child process
/// that reaches the key through nothing: not its environment, not its descriptors, not its view of
/// the file system, not the parent's memory.
///
/// Parent side: ``protectParent()`` before the key is read, ``scrubbed(_:)`` for the child's
/// environment, ``runChild(executable:arguments:environment:stdout:)`` to run it.
/// Child side: ``enter(hiding:writable:)`` first, then ``probe(hidden:secretEnvironment:)`` to
/// prove that nothing is reachable before any untrusted input is read.
///
/// Why `enter` re-executes the process: a Swift program is multi-threaded by the time any command
/// runs (an `AsyncParsableCommand`'s `run()` starts with 3 or more threads, off the main thread).
/// Linux keeps the mount namespace, capabilities, the bounding set and `no_new_privs` per thread:
/// `unshare(CLONE_NEWNS)` and `capset` in one thread leave every other thread (and any task that
/// later resumes on one) with the host's mounts and full capabilities, and `unshare(CLONE_NEWUSER)`
/// fails with EINVAL. So `enter` never changes a running multi-threaded image in place: it
/// re-executes the same binary with the same arguments, first through util-linux `unshare`
/// (which creates the user and mount namespaces while it is single-threaded), then, after covering the hidden paths, dropping every capability of the
/// calling thread and marking every descriptor close-on-exec, through `execve` again. Credentials
/// and namespaces of the thread that calls `execve` become those of the whole new image, and every
/// thread it ever starts inherits them. The process keeps its pid throughout, so the parent's
/// `waitpid` and signals see one child.
public enum BuildIsolation {
    /// Environment names a build child keeps; everything else (HARDEN_PASSWORD, tokens, ...) is dropped.
    public static let keptEnvironment: Set<String> = [
        "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "XDG_CACHE_HOME", "XDG_DATA_HOME",
        "HARDEN_STORE", "HARDEN_CACHE", "SOURCE_DATE_EPOCH",
        "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    ]

    /// `environment` with only the names in ``keptEnvironment``.
    public static func scrubbed(_ environment: [String: String]) -> [String: String] {
        environment.filter { keptEnvironment.contains($0.key) }
    }

    // MARK: - Parent side

    /// Parent side, before starting a child: this process adopts the child's orphaned descendants
    /// (PR_SET_CHILD_SUBREAPER), so ``killDescendants()`` can end every one of them.
    public static func adoptOrphans() throws {
        if csystem_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 { throw failure("prctl(PR_SET_CHILD_SUBREAPER)") }
    }

    /// Parent side, after the child exited: kills and reaps every process this one adopted or
    /// started that lives in another user namespace (what a build child forked: it runs in a user
    /// namespace of its own), since a child's forks do not die with it. This process's other
    /// children are left alone. Returns how many there were; throws if some would not die.
    @discardableResult
    public static func killDescendants() throws -> Int {
        let me = getpid()
        let ownNamespace = linkTarget("/proc/self/ns/user")
        var killed = 0
        for _ in 0..<64 {
            let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { (name: String) -> pid_t? in
                guard let pid = pid_t(name), let stat = readBytes("/proc/\(name)/stat", limit: 4096).bytes,
                      let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
                // After "pid (comm)": state, then the parent's pid.
                let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
                guard fields.count > 1, pid_t(String(decoding: fields[1], as: UTF8.self)) == me else { return nil }
                return linkTarget("/proc/\(name)/ns/user") != ownNamespace ? pid : nil
            }
            if children.isEmpty { return killed }
            for pid in children { _ = kill(pid, SIGKILL) }
            for pid in children {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && Glibc.errno == EINTR {}
            }
            killed += children.count
        }
        throw IsolationError(step: "kill what the build child left running", detail: "processes still appear after 64 rounds")
    }

    /// Parent side, before it holds a secret: PR_SET_DUMPABLE 0 so processes of the same uid without
    /// CAP_SYS_PTRACE cannot ptrace it or read /proc/PID/mem, environ, fds (nor its root, cwd or
    /// namespaces), and it dumps no core. It lasts until this process calls `execve` or changes
    /// its credentials; calling it again is harmless.
    public static func protectParent() throws {
        if csystem_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 { throw failure("prctl(PR_SET_DUMPABLE, 0)") }
        let dumpable = csystem_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
        guard dumpable == 0 else { throw IsolationError(step: "prctl(PR_GET_DUMPABLE)", detail: "still \(dumpable) after setting 0") }
    }

    /// Whether this process is protected by ``protectParent()`` (it is not dumpable).
    public static var isParentProtected: Bool { csystem_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 }

    /// Runs `executable` with `arguments` as a child: stdin /dev/null, stdout and stderr inherited
    /// (fds 1, 2; `stdout` replaces fd 1 when given), every other descriptor closed
    /// (`posix_spawn_file_actions_addclosefrom_np`, so a descriptor another thread opens without
    /// O_CLOEXEC at the same moment cannot leak either), environment exactly `environment`, no
    /// signal blocked and every signal at its default action (but glibc's two internal ones, 32
    /// and 33, which its posix_spawn leaves ignored and a glibc program takes over at start), in
    /// a new session (no controlling terminal: Ctrl-C reaches the parent, whose death kills the
    /// child). Waits and returns the exit status (128 + signal when killed).
    ///
    /// Blocking: it waits on the calling thread, which must stay alive until it returns, because the
    /// child's parent-death signal (set by ``enter(hiding:writable:)``) fires when the *thread*
    /// that spawned it ends. From async code use the async overload, which spawns and waits on a
    /// dedicated thread.
    public static func runChild(executable: String, arguments: [String], environment: [String: String],
                                stdout: Int32? = nil) throws -> Int32 {
        let pid = try spawn(executable: executable, arguments: arguments, environment: environment, stdout: stdout)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if Glibc.errno != EINTR { throw failure("waitpid \(pid)") }
        }
        return decode(status)
    }

    /// The async form of ``runChild(executable:arguments:environment:stdout:)``: the child is
    /// spawned and waited for on a dedicated thread (the cooperative pool is never blocked, and the
    /// spawning thread lives as long as the child, as its parent-death signal needs). Cancelling
    /// the task kills the child (SIGKILL; the status is then 137). If this process dies (SIGINT,
    /// SIGTERM at their default action, or a crash), the child gets SIGKILL from the kernel once it
    /// has called ``enter(hiding:writable:)``.
    public static func runChild(executable: String, arguments: [String], environment: [String: String],
                                stdout: Int32? = nil) async throws -> Int32 {
        let child = WaitedChild()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                let thread = Thread {
                    do {
                        let pid = try spawn(executable: executable, arguments: arguments, environment: environment, stdout: stdout)
                        continuation.resume(returning: child.wait(for: pid))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = "harden-build-child"
                thread.start()
            }
        } onCancel: {
            child.cancel()
        }
    }

    /// A child being waited for, so that cancellation can kill it without ever signalling a reused pid.
    private final class WaitedChild: @unchecked Sendable {
        private let lock = NSLock()
        private var pid: pid_t = 0
        private var exited = false
        private var cancelled = false

        /// Waits for `pid` to exit (left a zombie with WNOWAIT so its pid cannot be reused while
        /// `cancel` may still signal it), then reaps it and returns its status.
        func wait(for pid: pid_t) -> Int32 {
            lock.lock()
            self.pid = pid
            if cancelled { _ = Glibc.kill(pid, SIGKILL) }
            lock.unlock()
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && Glibc.errno == EINTR {}
            lock.lock()
            exited = true
            lock.unlock()
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && Glibc.errno == EINTR {}
            return BuildIsolation.decode(status)
        }

        func cancel() {
            lock.lock()
            defer { lock.unlock() }
            cancelled = true
            if pid > 0 && !exited { _ = Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Starts the child (see ``runChild(executable:arguments:environment:stdout:)``) and returns its pid.
    static func spawn(executable: String, arguments: [String], environment: [String: String], stdout: Int32?) throws -> pid_t {
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if devNull < 0 { throw failure("open /dev/null") }
        defer { close(devNull) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var result = posix_spawn_file_actions_adddup2(&actions, devNull, 0)
        if result == 0, let stdout { result = posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
        if result == 0 { result = csystem_spawn_addclosefrom(&actions, 3) }
        if result != 0 { throw IsolationError(step: "posix_spawn file actions for \(executable)", errno: result) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // A session of its own: no controlling terminal, so no TIOCSTI typing into the shell
        // that started the parent.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | Int32(csystem_POSIX_SPAWN_SETSID)))

        let argv = CStrings([executable] + arguments)
        let envp = CStrings(environment.map { "\($0.key)=\($0.value)" }.sorted())
        var pid: pid_t = 0
        result = posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        if result != 0 { throw IsolationError(step: "posix_spawn \(executable)", errno: result) }
        return pid
    }

    /// An exit status as a shell reports it: the exit code, or 128 + the signal that killed it.
    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    // MARK: - Child side

    /// Child side, first thing before any untrusted input is read. When it returns, this process
    /// (every thread of it, and everything it starts):
    ///
    /// - runs in its own user namespace (the current uid and gid mapped to themselves, so files
    ///   keep their owners; no nested user namespace can be created) and its own mount namespace,
    ///   with `/` recursively private, so nothing it mounts reaches the host;
    /// - sees every path in `hidden`, its realpath, and every other mount of the same file
    ///   system that shows the same inode, covered: a file by an empty read-only file (reads
    ///   give nothing, writes fail), a directory by an empty read-only tmpfs (a hidden file with other
    ///   hard links is refused, as those names cannot be found and covered); paths that do not
    ///   exist are skipped;
    /// - has a minimal /dev (null, zero, full, random, urandom, tty, fd, stdin, stdout, stderr,
    ///   a private shm), so no block device gives raw access to the disk the key is on, and
    ///   read-only /sys, /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs, so no
    ///   sysctl (core_pattern, modprobe) or uevent helper can make the kernel run a program as
    ///   full root;
    /// - when `writable` is given, sees `/` and everything under it read-only except those paths
    ///   (each must exist): then it cannot replace programs or libraries a privileged process runs
    ///   later either;
    /// - has no capability in any set (effective, permitted, inheritable, ambient, bounding),
    ///   securebits NOROOT and NO_CAP_AMBIENT_RAISE locked, `no_new_privs`, so uid 0 is only the
    ///   owner of root-owned files: it cannot unmount or remount a cover, ptrace, or override file
    ///   permissions, and no setuid program or exec gives capabilities back;
    /// - gets SIGKILL when its parent dies (PR_SET_PDEATHSIG), and has inherited no descriptor
    ///   beyond 0, 1 and 2.
    ///
    /// How: this call re-executes the process twice with the same arguments (see the type's
    /// documentation): through util-linux `unshare` into the new namespaces, then, covers mounted
    /// and capabilities dropped, into the isolated image, where the same call verifies the result
    /// and returns. So it must come before anything with effects beyond reading trusted input
    /// (the code before it runs three times), stdout is flushed before each re-execution, and
    /// `CommandLine.arguments` must be what the process was started with. Calling it again after
    /// it returned only verifies. Any failing step throws ``IsolationError``; a failure inside
    /// `unshare` makes the process exit with `unshare`'s status and message.
    ///
    /// Requires Linux >= 5.12 (mount_setattr), util-linux `unshare` (/usr/bin/unshare, Essential
    /// on Debian) and /proc.
    public static func enter(hiding hidden: [String], writable: [String]? = nil) throws {
        guard let stage = try Stage.current() else { try restartInNewNamespaces() }
        if stage.phase == 1 { try isolateAndRestart(stage, hiding: hidden, writable: writable) }
        try verifyIsolated(stage)
    }

    /// The variable that tells each re-execution of ``enter(hiding:writable:)`` where it is:
    /// `PHASE:OUTER_MOUNT_NAMESPACE_INODE:PARENT_PID`. It is never trusted: the last phase checks
    /// the namespace, the capabilities and `no_new_privs` themselves.
    static let stageVariable = "HARDEN_ISOLATION_STAGE"

    struct Stage {
        var phase: Int
        var outerNamespace: UInt64
        var parent: pid_t

        static func current() throws -> Stage? {
            guard let raw = getenv(stageVariable) else { return nil }
            return try Stage(parsing: String(cString: raw))
        }

        init(phase: Int, outerNamespace: UInt64, parent: pid_t) {
            self.phase = phase
            self.outerNamespace = outerNamespace
            self.parent = parent
        }

        init(parsing text: String) throws {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, let phase = Int(parts[0]), phase == 1 || phase == 2,
                  let namespace = UInt64(parts[1]), let parent = pid_t(parts[2]), parent > 0 else {
                throw IsolationError(step: "read \(stageVariable)", detail: "'\(text)' is not PHASE:NAMESPACE:PID")
            }
            self.init(phase: phase, outerNamespace: namespace, parent: parent)
        }

        var value: String { "\(phase):\(outerNamespace):\(parent)" }
    }

    /// Phase 0, in the parent's namespaces: re-executes through `unshare`.
    private static func restartInNewNamespaces() throws -> Never {
        try dieWithParent(expected: nil)
        let stage = Stage(phase: 1, outerNamespace: try mountNamespace(), parent: getppid())
        let executable = try ownExecutable()
        guard let unshare = (["/usr/bin/unshare", "/bin/unshare"] as [String]).first(where: { access($0, X_OK) == 0 }) else {
            throw IsolationError(step: "find util-linux unshare", errno: ENOENT, detail: "neither /usr/bin/unshare nor /bin/unshare is executable")
        }
        // A user namespace of its own even for root: uid and gid map to themselves (files keep
        // their owners), the capabilities it has there (kept across the exec as ambient ones)
        // rule only the new mount namespace, and two build children can never ptrace each other.
        let options = ["--user", "--map-current-user", "--keep-caps", "--mount", "--propagation", "private"]
        try reexecute(unshare, prefix: [unshare] + options + ["--", executable], stage: stage)
    }

    /// Phase 1, in the new mount namespace with CAP_SYS_ADMIN over it: covers, read-only mounts,
    /// minimal /dev, then drops every capability of this thread and re-executes.
    private static func isolateAndRestart(_ stage: Stage, hiding hidden: [String], writable: [String]?) throws -> Never {
        guard try mountNamespace() != stage.outerNamespace else {
            throw IsolationError(step: "check the mount namespace", detail: "still the parent's (mnt:[\(stage.outerNamespace)])")
        }
        try dieWithParent(expected: stage.parent)
        guard try capabilities().effective.has(capSysAdmin) else {
            throw IsolationError(step: "check CAP_SYS_ADMIN in the new namespaces", errno: EPERM)
        }
        let lastCapability = try readLastCapability()
        try mountCall("make / recursively private", nil, "/", nil, UInt(MS_REC | MS_PRIVATE))
        // No nested user namespaces (the limit is this user namespace's own): less kernel to attack.
        try writeText("/proc/sys/user/max_user_namespaces", "0")

        // Everything is resolved before anything is mounted.
        let workingDirectory = FileManager.default.currentDirectoryPath.isEmpty ? nil : FileManager.default.currentDirectoryPath
        let mountTable = try Mounts.read()
        let covers = try coverTargets(hidden, mounts: mountTable)
        let keepWritable = try (writable ?? []).map { path -> String in
            guard let real = realPath(absolute(path)) else { throw failure("resolve writable path \(path)") }
            return real
        }
        let devices = try openDevices()

        if writable != nil {
            for path in keepWritable {
                try mountCall("bind \(path) onto itself", path, path, nil, UInt(MS_BIND | MS_REC))
            }
            try setAttributes("make / read-only", "/", recursive: true, set: UInt64(MOUNT_ATTR_RDONLY))
            for path in keepWritable {
                try setAttributes("keep \(path) writable", path, recursive: true, clear: UInt64(MOUNT_ATTR_RDONLY))
            }
        }
        let coverSource = try replaceDev(devices)
        for path in ["/sys", "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"] {
            var info = stat()
            if lstat(path, &info) != 0 { continue }
            try mountCall("bind \(path) onto itself", path, path, nil, UInt(MS_BIND | MS_REC))
            try setAttributes("make \(path) read-only", path, recursive: true,
                              set: UInt64(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC))
        }
        for cover in covers {
            // Gone from this view (under the new /dev): nothing to cover.
            var info = stat()
            if lstat(cover.path, &info) != 0 && Glibc.errno == ENOENT { continue }
            if cover.directory {
                try mountCall("mount an empty read-only tmpfs over \(cover.path)", "tmpfs", cover.path, "tmpfs",
                              UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), "size=4k,nr_inodes=2,mode=0555")
            } else {
                try mountCall("mount an empty read-only file over \(cover.path)", "/proc/self/fd/\(coverSource.fd)", cover.path, nil, UInt(MS_BIND))
                try setAttributes("make the cover of \(cover.path) read-only", cover.path, recursive: false,
                                  set: UInt64(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC))
            }
        }
        // The covers keep the empty file; its name goes, and /dev becomes read-only.
        if unlink(coverSource.path) != 0 { throw failure("remove \(coverSource.path)") }
        try setAttributes("make /dev read-only", "/dev", recursive: false, set: UInt64(MOUNT_ATTR_RDONLY))
        // The working directory still points into the mounts as they were: look it up again, so
        // relative paths see the writable binds and the covers.
        if let directory = workingDirectory, chdir(directory) != 0 { throw failure("chdir \(directory)") }

        // Capabilities are per thread: these drop this thread's, and the exec below makes them
        // the whole new image's (the other threads of this one end with it).
        if csystem_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 { throw failure("prctl(PR_SET_NO_NEW_PRIVS)") }
        if csystem_prctl(PR_SET_SECUREBITS, UInt(csystem_SECURE_NOROOT_LOCKED_NOAMBIENT), 0, 0, 0) != 0 {
            throw failure("prctl(PR_SET_SECUREBITS)")
        }
        for capability in 0...lastCapability {
            if csystem_prctl(PR_CAPBSET_DROP, UInt(capability), 0, 0, 0) != 0 { throw failure("prctl(PR_CAPBSET_DROP, \(capability))") }
        }
        if csystem_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0) != 0 { throw failure("prctl(PR_CAP_AMBIENT_CLEAR_ALL)") }
        if csystem_capset_none() != 0 { throw failure("capset (no capabilities)") }
        let left = try capabilities()
        guard left.effective == 0, left.permitted == 0, left.inheritable == 0 else {
            throw IsolationError(step: "check the capabilities are dropped", detail: "\(left) remain")
        }
        try reexecute("/proc/self/exe", prefix: nil, stage: Stage(phase: 2, outerNamespace: stage.outerNamespace, parent: stage.parent))
    }

    /// Phase 2, the isolated image: checks what phase 1 did (and again on later calls).
    private static func verifyIsolated(_ stage: Stage) throws {
        try dieWithParent(expected: stage.parent)
        guard try mountNamespace() != stage.outerNamespace else {
            throw IsolationError(step: "check the mount namespace", detail: "still the parent's (mnt:[\(stage.outerNamespace)])")
        }
        let status = processStatus()
        let sets = try capabilities()
        for name in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            guard let value = status[name], let bits = UInt64(value, radix: 16) else {
                throw IsolationError(step: "read \(name) in /proc/self/status")
            }
            guard bits == 0 else { throw IsolationError(step: "check the capabilities are dropped", detail: "\(name) is \(value)") }
        }
        guard sets.effective == 0, sets.permitted == 0, sets.inheritable == 0 else {
            throw IsolationError(step: "check the capabilities are dropped", detail: "\(sets) remain")
        }
        guard csystem_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 else {
            throw IsolationError(step: "check no_new_privs", detail: "it is not set")
        }
    }

    // MARK: Isolation steps

    /// Sets PR_SET_PDEATHSIG SIGKILL; with `expected`, fails if the parent is no longer that
    /// process (it died before the signal was armed).
    private static func dieWithParent(expected: pid_t?) throws {
        if csystem_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0) != 0 { throw failure("prctl(PR_SET_PDEATHSIG, SIGKILL)") }
        if let expected, getppid() != expected {
            throw IsolationError(step: "check the parent", errno: ESRCH, detail: "parent \(expected) has exited")
        }
    }

    /// Re-executes `path` with `prefix` (nil: this process's own argv[0]) followed by this process's
    /// arguments, in this environment with the stage variable set; every descriptor beyond 2 is
    /// made close-on-exec first. Returns only by throwing.
    private static func reexecute(_ path: String, prefix: [String]?, stage: Stage) throws -> Never {
        var arguments: [UnsafeMutablePointer<CChar>?] = []
        var owned: [UnsafeMutablePointer<CChar>?] = []
        defer { owned.forEach { free($0) } }
        let raw = CommandLine.unsafeArgv
        if let prefix {
            for item in prefix { owned.append(strdup(item)); arguments.append(owned.last!) }
        } else {
            arguments.append(raw[0])
        }
        for index in stride(from: 1, to: Int(CommandLine.argc), by: 1) { arguments.append(raw[index]) }
        arguments.append(nil)

        var environment: [UnsafeMutablePointer<CChar>?] = []
        let marker = stageVariable + "="
        var entry: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        while let current = entry, let item = current.pointee {
            if strncmp(item, marker, marker.utf8.count) != 0 { environment.append(item) }
            entry = current + 1
        }
        owned.append(strdup(marker + stage.value))
        environment.append(owned.last!)
        environment.append(nil)

        try closeInherited()
        fflush(nil)
        execve(path, arguments, environment)
        throw failure("execve \(path)")
    }

    /// Marks every descriptor beyond 0-2 close-on-exec.
    private static func closeInherited() throws {
        if csystem_close_range(3, UInt32.max, UInt32(csystem_CLOSE_RANGE_CLOEXEC)) == 0 { return }
        // Linux < 5.11: one by one.
        guard let directory = opendir("/proc/self/fd") else { throw failure("list /proc/self/fd") }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = FileSystem.entryName(entry)
            guard let fd = Int32(name), fd > 2, fd != own else { continue }
            if fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 { throw failure("mark descriptor \(fd) close-on-exec") }
        }
    }

    /// A path to cover: what `enter` mounts over.
    struct Cover: Equatable {
        var path: String
        var directory: Bool
    }

    /// The covers for `hidden`: each path's realpath, and the same inode's path in every other
    /// mount of its file system; deepest first, so a cover never hides where another goes.
    static func coverTargets(_ hidden: [String], mounts: Mounts) throws -> [Cover] {
        var covers: [Cover] = []
        for path in hidden {
            let full = absolute(path)
            var info = stat()
            if lstat(full, &info) != 0 {
                if Glibc.errno == ENOENT { continue }
                throw failure("stat hidden path \(path)")
            }
            guard let real = realPath(full) else {
                if Glibc.errno == ENOENT { continue } // a dangling symlink: nothing to read
                throw failure("resolve hidden path \(path)")
            }
            if stat(real, &info) != 0 { throw failure("stat hidden path \(real)") }
            let directory = (info.st_mode & S_IFMT) == S_IFDIR
            if !directory && info.st_nlink > 1 {
                throw IsolationError(step: "hide \(path)", detail: "it has \(info.st_nlink) hard links, and the other names cannot be covered")
            }
            for candidate in [real] + mounts.aliases(of: real) {
                var other = stat()
                guard stat(candidate, &other) == 0, other.st_dev == info.st_dev, other.st_ino == info.st_ino else { continue }
                let cover = Cover(path: candidate, directory: directory)
                if !covers.contains(cover) { covers.append(cover) }
            }
        }
        return covers.sorted { $0.path.utf8.count > $1.path.utf8.count }
    }

    /// The device nodes of the minimal /dev, opened O_PATH before /dev is replaced.
    private static func openDevices() throws -> [String: Int32] {
        var devices: [String: Int32] = [:]
        for name in ["null", "zero", "full", "random", "urandom", "tty"] {
            let fd = open("/dev/" + name, Int32(csystem_O_PATH) | O_CLOEXEC)
            if fd >= 0 { devices[name] = fd } else if name == "null" { throw failure("open /dev/null") }
        }
        return devices
    }

    /// Mounts a fresh tmpfs on /dev with binds of `devices`, the usual symlinks and a private shm,
    /// and an empty file (mode 0444) the covers of hidden files are binds of.
    private static func replaceDev(_ devices: [String: Int32]) throws -> (path: String, fd: Int32) {
        try mountCall("mount a tmpfs on /dev", "tmpfs", "/dev", "tmpfs", UInt(MS_NOSUID | MS_NOEXEC), "mode=0755,size=64k,nr_inodes=64")
        for (name, fd) in devices.sorted(by: { $0.key < $1.key }) {
            let path = "/dev/" + name
            let file = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o666)
            if file < 0 { throw failure("create \(path)") }
            close(file)
            try mountCall("bind the device \(path)", "/proc/self/fd/\(fd)", path, nil, UInt(MS_BIND))
        }
        let links: [(name: String, target: String)] = [
            ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
        ]
        for link in links {
            if symlink(link.target, "/dev/" + link.name) != 0 { throw failure("symlink /dev/\(link.name)") }
        }
        if mkdir("/dev/shm", 0o755) != 0 { throw failure("mkdir /dev/shm") }
        try mountCall("mount a tmpfs on /dev/shm", "tmpfs", "/dev/shm", "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), "mode=1777,size=16m")
        let cover = "/dev/.harden-cover"
        let created = open(cover, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o444)
        if created < 0 { throw failure("create \(cover)") }
        close(created)
        let fd = open(cover, Int32(csystem_O_PATH) | O_CLOEXEC)
        if fd < 0 { throw failure("open \(cover)") }
        return (cover, fd)
    }

    private static func writeText(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw failure("open \(path)") }
        defer { close(fd) }
        let written = text.withCString { write(fd, $0, strlen($0)) }
        if written != text.utf8.count { throw failure("write '\(text)' to \(path)") }
    }

    private static func mountCall(_ step: String, _ source: String?, _ target: String, _ type: String?, _ flags: UInt,
                                  _ data: String? = nil) throws {
        let result: Int32 = if let data {
            data.withCString { mount(source, target, type, flags, $0) }
        } else {
            mount(source, target, type, flags, nil)
        }
        if result != 0 { throw failure(step) }
    }

    private static func setAttributes(_ step: String, _ path: String, recursive: Bool, set: UInt64 = 0, clear: UInt64 = 0) throws {
        var attributes = mount_attr()
        attributes.attr_set = set
        attributes.attr_clr = clear
        let flags = recursive ? UInt32(csystem_AT_RECURSIVE) : 0
        if mount_setattr(AT_FDCWD, path, flags, &attributes, MemoryLayout<mount_attr>.size) != 0 { throw failure(step) }
    }

    // MARK: - Probe

    /// What a process can still reach of the given secrets: tries to read each hidden path (and
    /// its realpath, and through /proc/PPID/root and /proc/1/root), looks for each secret
    /// environment name in its environment (current and initial), lists descriptors beyond 0-2
    /// (/proc/self/fd; one not close-on-exec, or one open on a hidden path, counts as reached),
    /// tries to read /proc/PPID/environ, /proc/PPID/mem (pread at an address from
    /// /proc/PPID/maps), the parent's memory with process_vm_readv, its descriptors and its mount
    /// namespace, tries umount2 and a read-write remount of each cover, checks the capabilities
    /// (of every thread too), `no_new_privs`, whether user namespaces can be created and whether
    /// it has a controlling terminal, tries
    /// writing /proc/sys/kernel/core_pattern, opening the block device of each mounted file system
    /// and mknod of one, and connecting to the sockets of services that obey uid 0 (D-Bus,
    /// systemd, Docker, containerd, Podman, SSH agents, tmux, screen).
    ///
    /// Returns one ``Attempt`` per try; the child refuses to build if any is `reached`. Unmounts,
    /// remounts and mknod are not tried by a process that has CAP_SYS_ADMIN (or CAP_MKNOD): they
    /// would work, so they are reported as reached, and trying them outside isolation would change
    /// the host. Nothing read is ever put in a detail.
    public static func probe(hidden: [String], secretEnvironment: [String]) -> [Attempt] {
        var attempts: [Attempt] = []
        let parent = getppid()
        var paths: [String] = []
        for path in hidden {
            let full = absolute(path)
            if !paths.contains(full) { paths.append(full) }
            if let real = realPath(full), !paths.contains(real) { paths.append(real) }
        }

        for path in paths { attempts.append(tryRead(path, as: path)) }
        for path in paths {
            attempts.append(tryRead("/proc/\(parent)/root\(path)", as: "\(path) through /proc/\(parent)/root"))
            if parent != 1 { attempts.append(tryRead("/proc/1/root\(path)", as: "\(path) through /proc/1/root")) }
        }

        let initial = readBytes("/proc/self/environ", limit: 1 << 20).bytes ?? []
        let initialNames = Set(initial.split(separator: 0).map { entry in String(decoding: entry.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self) })
        for name in secretEnvironment {
            let now = getenv(name) != nil, atStart = initialNames.contains(name)
            attempts.append(Attempt(target: "environment \(name)", reached: now || atStart,
                                    detail: now ? "set" : atStart ? "in the initial environment (/proc/self/environ)" : "not set"))
        }

        attempts.append(descriptors(hidden: paths))

        attempts.append(tryRead("/proc/\(parent)/environ", as: "/proc/\(parent)/environ (parent's environment)"))
        attempts.append(parentMemory(parent))
        attempts.append(parentDescriptors(parent))
        let namespace = open("/proc/\(parent)/ns/mnt", O_RDONLY | O_CLOEXEC)
        if namespace >= 0 { close(namespace) }
        attempts.append(Attempt(target: "/proc/\(parent)/ns/mnt (parent's mount namespace)", reached: namespace >= 0,
                                detail: namespace >= 0 ? "opened: setns could join it" : "open: \(errorText())"))

        let sets = (try? capabilities()) ?? CapabilitySets(effective: .max, permitted: .max, inheritable: .max)
        let status = processStatus()
        let others = ["CapBnd", "CapAmb"].map { ($0, status[$0] ?? "?") }
        let anyCapability = sets.effective != 0 || sets.permitted != 0 || sets.inheritable != 0 || others.contains { UInt64($0.1, radix: 16) != 0 }
        attempts.append(Attempt(target: "capabilities", reached: anyCapability,
                                detail: "\(sets), " + others.map { "\($0.0) \($0.1)" }.joined(separator: ", ")))
        attempts.append(threads())
        let noNewPrivileges = csystem_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1
        attempts.append(Attempt(target: "no_new_privs", reached: !noNewPrivileges,
                                detail: noNewPrivileges ? "set: no exec can raise privileges" : "not set: a setuid program could raise privileges"))

        let terminal = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        if terminal >= 0 { close(terminal) }
        attempts.append(Attempt(target: "controlling terminal", reached: terminal >= 0,
                                detail: terminal >= 0 ? "/dev/tty opens: TIOCSTI could type into the shell that started the build"
                                                      : "none (/dev/tty: \(errorText()))"))

        let canMount = sets.effective.has(capSysAdmin)
        for path in paths {
            attempts.append(mountAttempt("umount \(path)", allowed: canMount) { umount2(path, 0) })
            attempts.append(mountAttempt("remount \(path) read-write", allowed: canMount) {
                mount(nil, path, nil, UInt(MS_REMOUNT | MS_BIND), nil)
            })
        }

        let namespaces = readBytes("/proc/sys/user/max_user_namespaces", limit: 64).bytes.map { String(decoding: $0, as: UTF8.self) }?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        attempts.append(Attempt(target: "user namespaces", reached: namespaces != "0",
                                detail: namespaces == "0" ? "none can be created (max_user_namespaces 0)" : "max_user_namespaces is \(namespaces ?? "unreadable")"))

        let pattern = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC)
        if pattern >= 0 { close(pattern) }
        attempts.append(Attempt(target: "/proc/sys/kernel/core_pattern (write)", reached: pattern >= 0,
                                detail: pattern >= 0 ? "opened for writing: a core dump could run any program as full root" : "open: \(errorText())"))
        attempts += blockDevices(canCreate: sets.effective.has(capMknod))
        attempts.append(serviceSockets())
        return attempts
    }

    /// Every thread of this process: isolation done in place by one thread leaves the others with
    /// the host's mounts and their capabilities, so each must have no capability, `no_new_privs`
    /// and this thread's mount namespace.
    private static func threads() -> Attempt {
        var mine = stat()
        let namespace = stat("/proc/thread-self/ns/mnt", &mine) == 0 ? UInt64(mine.st_ino) : 0
        let tasks = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).sorted()
        var problems: [String] = []
        for task in tasks {
            let base = "/proc/self/task/\(task)"
            var info = stat()
            if stat(base + "/ns/mnt", &info) != 0 || UInt64(info.st_ino) != namespace { problems.append("\(task): another mount namespace") }
            guard let bytes = readBytes(base + "/status", limit: 1 << 16).bytes else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let fields = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count == 2 else { continue }
                if ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].contains(fields[0]), UInt64(fields[1], radix: 16) != 0 {
                    problems.append("\(task): \(fields[0]) \(fields[1])")
                } else if fields[0] == "NoNewPrivs", fields[1] != "1" {
                    problems.append("\(task): no_new_privs not set")
                }
            }
        }
        if tasks.isEmpty { problems.append("cannot list /proc/self/task") }
        return Attempt(target: "threads", reached: !problems.isEmpty,
                       detail: problems.isEmpty ? "all \(tasks.count) isolated alike" : problems.prefix(6).joined(separator: "; "))
    }

    /// Unix sockets of services that do anything uid 0 asks (start a unit, run a container, sign
    /// with an agent's keys, type into a root shell): connecting to one is a way out, since the
    /// child is still uid 0 to them. One attempt: reached when any of them accepts a connection.
    private static func serviceSockets() -> Attempt {
        var candidates = ["/run/dbus/system_bus_socket", "/run/systemd/private", "/run/user/0/bus", "/run/user/0/systemd/private",
                          "/run/docker.sock", "/run/containerd/containerd.sock", "/run/podman/podman.sock", "/run/crio/crio.sock",
                          "/run/snapd.socket", "/var/run/dbus/system_bus_socket", "/var/run/docker.sock"]
        func entries(_ directory: String, _ matching: (String) -> Bool) -> [String] {
            guard let handle = opendir(directory) else { return [] }
            defer { closedir(handle) }
            var names: [String] = []
            while let entry = readdir(handle) {
                let name = FileSystem.entryName(entry)
                if name != "." && name != ".." && matching(name) { names.append(directory + "/" + name) }
            }
            return names
        }
        for agents in entries("/tmp", { $0.hasPrefix("ssh-") }) { candidates += entries(agents, { $0.hasPrefix("agent.") }) }
        candidates += entries("/tmp/tmux-\(getuid())", { _ in true }) + entries("/run/screen/S-root", { _ in true })

        var seen: Set<String> = []
        var results: [String] = []
        var reached = false
        for path in candidates {
            var info = stat()
            guard lstat(path, &info) == 0 || stat(path, &info) == 0, let real = realPath(path), !seen.contains(real) else { continue }
            seen.insert(real)
            guard stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { continue }
            let (connected, error) = connectUnix(real)
            if connected { reached = true }
            results.append("\(path): " + (connected ? "accepts connections" : errorText(error)))
        }
        return Attempt(target: "service sockets (D-Bus, systemd, container engines, SSH agents, tmux, screen)", reached: reached,
                       detail: results.isEmpty ? "none present" : results.joined(separator: "; "))
    }

    /// Connects to the Unix stream socket at `path` (without blocking) and closes the connection.
    private static func connectUnix(_ path: String) -> (connected: Bool, errno: Int32) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        if fd < 0 { return (false, Glibc.errno) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return (false, ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let error = Glibc.errno
        // EAGAIN: a listener whose backlog is full is still a listener.
        return (result == 0 || error == EINPROGRESS || error == EAGAIN, result == 0 ? 0 : error)
    }

    /// One try of ``probe(hidden:secretEnvironment:)``.
    public struct Attempt: Sendable, Codable, Equatable {
        /// What was tried, e.g. `/root/harden.key` or `/proc/1234/mem`.
        public var target: String
        /// Whether it worked: anything but `false` everywhere means the process is not isolated.
        public var reached: Bool
        /// What happened (an errno text when denied); never the secret itself.
        public var detail: String

        public init(target: String, reached: Bool, detail: String) {
            self.target = target
            self.reached = reached
            self.detail = detail
        }
    }

    private static func tryRead(_ path: String, as target: String) -> Attempt {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        if fd < 0 { return Attempt(target: target, reached: false, detail: "open: \(errorText())") }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            guard let directory = fdopendir(fd) else {
                close(fd)
                return Attempt(target: target, reached: false, detail: "list: \(errorText())")
            }
            defer { closedir(directory) }
            var entries = 0
            while let entry = readdir(directory) {
                let name = FileSystem.entryName(entry)
                if name != "." && name != ".." { entries += 1 }
            }
            return Attempt(target: target, reached: entries > 0,
                           detail: entries > 0 ? "directory lists \(entries) entries" : "an empty directory (covered)")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(fd, &buffer, buffer.count)
        if count < 0 { return Attempt(target: target, reached: false, detail: "opens, read: \(errorText())") }
        return Attempt(target: target, reached: count > 0, detail: count > 0 ? "read \(count) bytes" : "opens, reads nothing (covered)")
    }

    private static func descriptors(hidden: [String]) -> Attempt {
        guard let directory = opendir("/proc/self/fd") else {
            return Attempt(target: "descriptors beyond 0-2", reached: true, detail: "cannot list /proc/self/fd: \(errorText())")
        }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var reached = false
        var seen: [String] = []
        while let entry = readdir(directory) {
            let name = FileSystem.entryName(entry)
            guard let fd = Int32(name), fd != own else { continue }
            let target = linkTarget("/proc/self/fd/\(fd)") ?? "?"
            let onHidden = hidden.contains(target)
            if fd <= 2 {
                if onHidden { reached = true; seen.append("\(fd) -> \(target) (a hidden path)") }
                continue
            }
            let inheritable = fcntl(fd, F_GETFD) & FD_CLOEXEC == 0
            if inheritable || onHidden { reached = true }
            seen.append("\(fd) -> \(target)" + (onHidden ? " (a hidden path)" : inheritable ? " (not close-on-exec: inherited or leaking)" : " (close-on-exec, opened by this process)"))
        }
        return Attempt(target: "descriptors beyond 0-2", reached: reached, detail: seen.isEmpty ? "none" : seen.joined(separator: "; "))
    }

    private static func parentMemory(_ parent: pid_t) -> Attempt {
        let target = "/proc/\(parent)/mem (parent's memory)"
        var address: UInt = 0
        if let maps = readBytes("/proc/\(parent)/maps", limit: 4096).bytes,
           let first = maps.split(separator: UInt8(ascii: "-")).first {
            address = UInt(String(decoding: first, as: UTF8.self), radix: 16) ?? 0
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        let fd = open("/proc/\(parent)/mem", O_RDONLY | O_CLOEXEC)
        var detail: String
        var reached = false
        if fd < 0 {
            detail = "open: \(errorText())"
        } else {
            let count = pread(fd, &buffer, buffer.count, off_t(Int(bitPattern: address)))
            detail = count > 0 ? "read \(count) bytes at 0x\(String(address, radix: 16))" : "opened (pread: \(errorText()))"
            reached = true
            close(fd)
        }
        // process_vm_readv checks permission before the address: EFAULT means it was allowed.
        let copied = buffer.withUnsafeMutableBytes { csystem_process_vm_read(parent, $0.baseAddress, 16, address == 0 ? 0x10000 : address) }
        let vmError = Glibc.errno
        if copied >= 0 || vmError == EFAULT {
            reached = true
            detail += "; process_vm_readv " + (copied >= 0 ? "read \(copied) bytes" : "was allowed (EFAULT at the address)")
        } else {
            detail += "; process_vm_readv: \(errorText(vmError))"
        }
        return Attempt(target: target, reached: reached, detail: detail)
    }

    private static func parentDescriptors(_ parent: pid_t) -> Attempt {
        let target = "/proc/\(parent)/fd (parent's descriptors)"
        guard let directory = opendir("/proc/\(parent)/fd") else {
            return Attempt(target: target, reached: false, detail: "list: \(errorText())")
        }
        defer { closedir(directory) }
        var opened: [String] = []
        var denied = ""
        while let entry = readdir(directory) {
            let name = FileSystem.entryName(entry)
            guard Int32(name) != nil else { continue }
            let path = "/proc/\(parent)/fd/\(name)"
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
            if fd >= 0 {
                close(fd)
                opened.append(name)
            } else if linkTarget(path) != nil {
                opened.append(name + " (name only)")
            } else if denied.isEmpty {
                denied = errorText()
            }
        }
        if opened.isEmpty { return Attempt(target: target, reached: false, detail: denied.isEmpty ? "listed, nothing open" : "open: \(denied)") }
        return Attempt(target: target, reached: true, detail: "opened \(opened.count): " + opened.prefix(8).joined(separator: ", "))
    }

    private static func mountAttempt(_ target: String, allowed: Bool, _ body: () -> Int32) -> Attempt {
        if allowed { return Attempt(target: target, reached: true, detail: "has CAP_SYS_ADMIN (not tried)") }
        if body() == 0 { return Attempt(target: target, reached: true, detail: "succeeded") }
        let error = Glibc.errno
        if error == EINVAL { return Attempt(target: target, reached: false, detail: "not a mount point (nothing covers it): \(errorText(error))") }
        return Attempt(target: target, reached: false, detail: errorText(error))
    }

    /// Opening the block device of every mounted file system (the one the key is on among them),
    /// and making a node for one with mknod.
    private static func blockDevices(canCreate: Bool) -> [Attempt] {
        var attempts: [Attempt] = []
        var seen: Set<String> = []
        let entries = (try? Mounts.read().entries) ?? []
        for entry in entries where !entry.device.hasPrefix("0:") && !seen.contains(entry.device) {
            seen.insert(entry.device)
            guard let uevent = readBytes("/sys/dev/block/\(entry.device)/uevent", limit: 4096).bytes,
                  let name = String(decoding: uevent, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("DEVNAME=") })?.dropFirst(8)
            else { continue }
            let device = "/dev/\(name)"
            let fd = open(device, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            attempts.append(Attempt(target: "\(device) (block device \(entry.device))", reached: fd >= 0,
                                    detail: fd >= 0 ? "opened: the raw disk is readable" : "open: \(errorText())"))
            if attempts.count > 2 { continue }
            let numbers = entry.device.split(separator: ":").compactMap { UInt32($0) }
            guard numbers.count == 2 else { continue }
            if canCreate {
                attempts.append(Attempt(target: "mknod block device \(entry.device)", reached: true, detail: "has CAP_MKNOD (not tried)"))
                continue
            }
            let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
            let node = "\(directory)/.harden-probe-\(getpid())"
            let made = mknod(node, S_IFBLK | 0o600, csystem_makedev(numbers[0], numbers[1])) == 0
            let error = Glibc.errno
            if made { unlink(node) }
            attempts.append(Attempt(target: "mknod block device \(entry.device)", reached: made,
                                    detail: made ? "made the node" : errorText(error)))
        }
        return attempts
    }

    // MARK: - Helpers

    static let capSysAdmin: UInt64 = 21
    static let capMknod: UInt64 = 27

    struct CapabilitySets: CustomStringConvertible {
        var effective: UInt64
        var permitted: UInt64
        var inheritable: UInt64
        var description: String {
            "effective \(String(effective, radix: 16)), permitted \(String(permitted, radix: 16)), inheritable \(String(inheritable, radix: 16))"
        }
    }

    /// The calling thread's capability sets.
    static func capabilities() throws -> CapabilitySets {
        var effective: UInt64 = 0, permitted: UInt64 = 0, inheritable: UInt64 = 0
        if csystem_capget(&effective, &permitted, &inheritable) != 0 { throw failure("capget") }
        return CapabilitySets(effective: effective, permitted: permitted, inheritable: inheritable)
    }

    private static func readLastCapability() throws -> Int {
        guard let bytes = readBytes("/proc/sys/kernel/cap_last_cap", limit: 64).bytes,
              let last = Int(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              (0..<64).contains(last) else {
            throw failure("read /proc/sys/kernel/cap_last_cap")
        }
        return last
    }

    /// The inode of this process's mount namespace.
    static func mountNamespace() throws -> UInt64 {
        var info = stat()
        if stat("/proc/self/ns/mnt", &info) != 0 { throw failure("stat /proc/self/ns/mnt") }
        return UInt64(info.st_ino)
    }

    /// The absolute path of this process's executable, checked to be the running file.
    /// This program's executable, checked to still be the running one.
    public static func ownExecutable() throws -> String {
        guard let path = linkTarget("/proc/self/exe") else { throw failure("readlink /proc/self/exe") }
        var running = stat(), named = stat()
        guard stat("/proc/self/exe", &running) == 0, stat(path, &named) == 0,
              running.st_dev == named.st_dev, running.st_ino == named.st_ino else {
            throw IsolationError(step: "find this executable", errno: ENOENT, detail: "\(path) is no longer the running program (replaced or deleted)")
        }
        return path
    }

    /// /proc/self/status as name: value.
    private static func processStatus() -> [String: String] {
        guard let bytes = readBytes("/proc/self/status", limit: 1 << 16).bytes else { return [:] }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    static func readBytes(_ path: String, limit: Int) -> (bytes: [UInt8]?, errno: Int32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        if fd < 0 { return (nil, Glibc.errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = read(fd, &buffer, min(buffer.count, limit - bytes.count))
            if count < 0 { return (nil, Glibc.errno) }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return (bytes, 0)
    }

    private static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func failure(_ step: String) -> IsolationError { IsolationError(step: step, errno: Glibc.errno) }

    private static func errorText(_ code: Int32 = Glibc.errno) -> String { "\(String(cString: strerror(code))) (errno \(code))" }
}

/// The mount table of this process's namespace (/proc/self/mountinfo).
struct Mounts {
    struct Entry {
        var device: String
        var root: String
        var point: String
    }

    var entries: [Entry]

    static func read() throws -> Mounts {
        let (bytes, error) = BuildIsolation.readBytes("/proc/self/mountinfo", limit: 16 << 20)
        guard let bytes else { throw IsolationError(step: "read /proc/self/mountinfo", errno: error) }
        return Mounts(parsing: String(decoding: bytes, as: UTF8.self))
    }

    init(parsing text: String) {
        entries = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 5 else { return nil }
            return Entry(device: String(fields[2]), root: Self.unescape(fields[3]), point: Self.unescape(fields[4]))
        }
    }

    /// Where else the file at `path` (a realpath) shows: the same place of its file system under
    /// every other mount of that file system whose root contains it.
    func aliases(of path: String) -> [String] {
        // The visible mount holding `path`: the longest mount point containing it, the last one there.
        var holder: Entry?
        for entry in entries where Self.contains(entry.point, path) {
            if holder == nil || entry.point.utf8.count >= holder!.point.utf8.count { holder = entry }
        }
        guard let holder else { return [] }
        let inFileSystem = Self.join(holder.root, Self.relative(path, to: holder.point))
        var aliases: [String] = []
        for entry in entries where entry.device == holder.device && Self.contains(entry.root, inFileSystem) {
            let alias = Self.join(entry.point, Self.relative(inFileSystem, to: entry.root))
            if alias != path && !aliases.contains(alias) { aliases.append(alias) }
        }
        return aliases
    }

    static func contains(_ directory: String, _ path: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    static func relative(_ path: String, to directory: String) -> String {
        directory == "/" ? String(path.dropFirst()) : String(path.dropFirst(directory.utf8.count + 1))
    }

    static func join(_ directory: String, _ relative: String) -> String {
        if relative.isEmpty { return directory }
        return directory == "/" ? "/" + relative : directory + "/" + relative
    }

    /// Mountinfo escapes space, tab, newline and backslash as \\ooo.
    static func unescape(_ field: Substring) -> String {
        let utf8 = Array(field.utf8)
        guard utf8.contains(UInt8(ascii: "\\")) else { return String(field) }
        func octal(_ byte: UInt8) -> UInt8? { (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) ? byte - UInt8(ascii: "0") : nil }
        var bytes: [UInt8] = []
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let a = octal(utf8[index + 1]), let b = octal(utf8[index + 2]), let c = octal(utf8[index + 3]), a < 4 {
                bytes.append(a << 6 | b << 3 | c)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A NULL-terminated array of C strings (argv, envp), freed with the value.
private final class CStrings {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}

private extension UInt64 {
    func has(_ capability: UInt64) -> Bool { self & (1 << capability) != 0 }
}
