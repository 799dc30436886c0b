import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Starting and collecting host programs (runc, and the servers tests run) with `posix_spawn`,
/// output going to files. The caller reaps what it starts (Foundation's `Process` is not
/// involved, so nothing else ever waits for these pids), and no descriptor but 0, 1 and 2
/// reaches the child.
public enum HostProcess {
    /// The environment runc runs with: nothing from the caller leaks into it.
    public static let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    /// Starts `program` with `arguments` and `environment` (`NAME=value`; default: a bare PATH);
    /// its stdin is /dev/null and its stdout and stderr are the given descriptors (inherited by a
    /// container that runc creates).
    public static func spawn(_ program: String, _ arguments: [String], stdout: Int32, stderr: Int32,
                             environment: [String] = HostProcess.environment) throws -> pid_t {
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if devNull < 0 { throw RuntimeError.io(path: "/dev/null", operation: "open", errno: errno) }
        defer { close(devNull) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, devNull, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        csystem_spawn_addclosefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A clean signal state: nothing blocked, every signal at its default action.
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) }
        let envp = environment.map { strdup($0) }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvPointer in
            (envp + [nil]).withUnsafeBufferPointer { envPointer in
                guard let argvBase = argvPointer.baseAddress, let envBase = envPointer.baseAddress else { return EINVAL }
                return posix_spawn(&pid, program, &actions, &attributes,
                                   UnsafeMutablePointer(mutating: argvBase), UnsafeMutablePointer(mutating: envBase))
            }
        }
        if result != 0 { throw RuntimeError.spawnFailed(program: program, errno: result) }
        return pid
    }

    /// How a waited-for process ended.
    public enum Outcome: Equatable, Sendable {
        /// Exit status, or 128 + signal number for a process killed by a signal (as shells report it).
        case exited(Int32)
        case timedOut
        /// `pid` is not a child of this process (so its status cannot be collected).
        case notChild
    }

    /// Waits for the child `pid` until `deadline` (seconds on the monotonic clock); nil waits forever.
    public static func wait(_ pid: pid_t, until deadline: Double?) -> Outcome {
        var pause: UInt32 = 1_000
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if result == pid { return .exited(decode(status)) }
            if result < 0 {
                if errno == EINTR { continue }
                return .notChild
            }
            if let deadline, now() >= deadline { return .timedOut }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Kills and reaps the child `pid`.
    public static func kill(_ pid: pid_t) {
        _ = Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Runs `program` to completion (or `timeout` seconds), output to the given descriptors.
    static func run(_ program: String, _ arguments: [String], stdout: Int32, stderr: Int32, timeout: Double) throws -> Outcome {
        let pid = try spawn(program, arguments, stdout: stdout, stderr: stderr)
        let outcome = wait(pid, until: now() + timeout)
        if outcome == .timedOut { kill(pid) }
        return outcome
    }

    /// Seconds on the monotonic clock.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), once. A container's init
    /// process is a child of `runc create`, which exits at once; as a subreaper this process
    /// inherits it and can collect its exit status with `waitpid`, as containerd's shim does.
    static let becameSubreaper: Bool = {
        // prctl is variadic in C, which Swift does not import; it takes five machine words on
        // every Linux ABI Swift supports, so it is called through a fixed-arity pointer.
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else { return false }
        let prctl = unsafeBitCast(symbol, to: Prctl.self)
        let setChildSubreaper: Int32 = 36 // PR_SET_CHILD_SUBREAPER (linux/prctl.h)
        return prctl(setChildSubreaper, 1, 0, 0, 0) == 0
    }()
}
