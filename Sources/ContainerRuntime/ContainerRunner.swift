import Archive
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// Runs tests of an image in real containers with runc.
///
/// Each run is one container with a unique id under a private runc state root:
/// `runc create` starts the container's init, which switches to the configured user and then
/// waits; its `/proc/<pid>/status` gives the uid it really has; `runc start` lets it exec the
/// program, whose exit status is collected with `waitpid` (this process becomes a child
/// subreaper, see `init`); a run past its timeout is killed; the container is always deleted.
public struct ContainerRunner: Sendable {
    /// The runc executable.
    public let runc: String
    /// runc's state directory (`runc --root`), private to this runner's containers.
    public let stateRoot: String

    /// Where runc is looked for when no path is given.
    public static let searchPath = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"]

    /// Finds runc (`runc` if given, else on PATH or in /usr/sbin) and makes `stateRoot` (mode 0700).
    ///
    /// Needs root. Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), so that the
    /// containers' processes, orphaned when `runc create` exits, are reparented here and their
    /// exit status can be collected; other orphaned descendants are reparented here too.
    public init(runc: String? = nil, stateRoot: String) throws {
        let candidates: [String]
        if let runc {
            candidates = [runc]
        } else {
            let path = getenv("PATH").map { String(cString: $0) } ?? ""
            let directories = path.split(separator: ":").map(String.init) + Self.searchPath
            var seen: Set<String> = []
            candidates = directories.filter { seen.insert($0).inserted }.map { $0 + "/runc" }
        }
        guard let found = candidates.first(where: { access($0, X_OK) == 0 && !FileSystem.isDirectory($0) }) else {
            throw RuntimeError.runcNotFound(searched: candidates)
        }
        guard geteuid() == 0 else { throw RuntimeError.requiresRoot }
        self.runc = found
        self.stateRoot = try RuntimeBundle.absolutePath(stateRoot)
        try wrapErrors { try FileSystem.createDirectory(self.stateRoot, mode: 0o700) }
        if chmod(self.stateRoot, 0o700) != 0 { throw RuntimeError.io(path: self.stateRoot, operation: "chmod", errno: errno) }
        guard HostProcess.becameSubreaper else {
            throw RuntimeError.io(path: "prctl", operation: "PR_SET_CHILD_SUBREAPER", errno: errno)
        }
    }

    /// Most bytes of a test's stdout or stderr kept (the rest is dropped and says so).
    public static let outputLimit = 4 << 20

    /// Seconds runc's own commands (create, start, delete) may take.
    static let runcTimeout = 60.0

    /// Runs one test in `bundle`: process args = test.command or Entrypoint+Cmd, env/cwd/user from the image config.
    ///
    /// A non-empty `test.command` is the process's argv as it is (`args[0]` is looked up on the
    /// image's PATH); an empty one runs the image's Entrypoint followed by its Cmd. The container
    /// has no network (a fresh network namespace with only `lo`) and a read-only root with a
    /// writable `/tmp`. A program that cannot start (missing entrypoint, bad format) gives a failed
    /// result, not an error; errors are for runc itself failing.
    ///
    /// Runs are independent: several may go at once, from different threads, on the same bundle.
    public func run(_ test: ImageTestCase, in bundle: RuntimeBundle) throws -> ImageTestResult {
        let began = HostProcess.now()
        var result = try execute(test, in: bundle)
        result.duration = HostProcess.now() - began
        return result
    }

    private func execute(_ test: ImageTestCase, in bundle: RuntimeBundle) throws -> ImageTestResult {
        var result = ImageTestResult(test: test, passed: false, status: -1, stdout: "", stderr: "",
                                     uid: bundle.user.uid, gid: bundle.user.gid, uidObserved: false, failure: nil)
        let args = test.command.isEmpty ? bundle.defaultCommand : test.command
        guard !args.isEmpty else {
            result.failure = "nothing to run: the test has no command and the image has no Entrypoint or Cmd"
            return result
        }

        // A private bundle per run: its config.json runs this test's command on the shared rootfs.
        let runDirectory = try wrapErrors { () throws -> String in
            try FileSystem.createDirectory(bundle.path + "/runs", mode: 0o700)
            return try Self.makeDirectory(in: bundle.path + "/runs")
        }
        defer { try? FileSystem.remove(runDirectory) }
        let specBytes = try wrapErrors { try CanonicalJSON.encode(bundle.spec(running: args)) }
        try wrapErrors { try FileSystem.writeAtomically(runDirectory + "/config.json", bytes: specBytes, mode: 0o600) }

        let stdoutPath = runDirectory + "/stdout", stderrPath = runDirectory + "/stderr"
        let runcLog = runDirectory + "/runc-output"
        let stdoutFD = try Self.createFile(stdoutPath)
        defer { close(stdoutFD) }
        let stderrFD = try Self.createFile(stderrPath)
        defer { close(stderrFD) }

        let id = "harden-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let pidFile = runDirectory + "/pid"
        defer { delete(id) }

        // 1. create: the init process switches to the user, then waits to be started. The
        //    container's stdio are runc's own, so the program writes straight into our files.
        let createOutcome = try HostProcess.run(
            runc, ["--root", stateRoot, "create", "--bundle", runDirectory, "--pid-file", pidFile, id],
            stdout: stdoutFD, stderr: stderrFD, timeout: Self.runcTimeout)
        guard createOutcome == .exited(0) else {
            result.stdout = Self.readOutput(stdoutPath)
            result.stderr = Self.readOutput(stderrPath)
            let reason = Self.runcMessage(result.stderr)
            result.failure = createOutcome == .timedOut
                ? "the container did not start within \(Int(Self.runcTimeout)) s"
                : "the container did not start: \(reason.isEmpty ? "runc create failed" : reason)"
            return result
        }
        guard let pidText = try? FileSystem.read(pidFile, limit: 64),
              let pid = pid_t(String(decoding: pidText, as: UTF8.self).trimmingWhitespace()), pid > 0 else {
            throw RuntimeError.runcFailed(command: "runc create \(id)", status: 0, message: "it wrote no pid file")
        }

        // 2. observe who the process really is, before it runs anything of the image.
        guard let identity = Self.observeIdentity(pid) else {
            HostProcess.kill(pid)
            throw RuntimeError.io(path: "/proc/\(pid)/status", operation: "read the container process's uid", errno: errno)
        }
        result.uid = identity.uid
        result.gid = identity.gid
        result.uidObserved = true

        // 3. start it and wait, within the test's timeout.
        let deadline = HostProcess.now() + Double(max(test.timeoutSeconds, 1))
        let logFD = try Self.createFile(runcLog)
        defer { close(logFD) }
        let startOutcome = try HostProcess.run(runc, ["--root", stateRoot, "start", id],
                                               stdout: logFD, stderr: logFD, timeout: Self.runcTimeout)
        guard startOutcome == .exited(0) else {
            HostProcess.kill(pid)
            let message = Self.runcMessage(Self.readOutput(runcLog))
            result.stdout = Self.readOutput(stdoutPath)
            result.stderr = Self.readOutput(stderrPath)
            result.failure = "the container did not start: \(message.isEmpty ? "runc start failed" : message)"
            return result
        }
        let outcome = HostProcess.wait(pid, until: deadline)
        switch outcome {
        case .exited(let status):
            result.status = status
        case .timedOut:
            HostProcess.kill(pid)
            result.status = 128 + SIGKILL
        case .notChild:
            throw RuntimeError.runcFailed(command: "runc start \(id)", status: 0,
                                          message: "the container's process is not a child of this process, so its exit status is lost")
        }
        result.stdout = Self.readOutput(stdoutPath)
        result.stderr = Self.readOutput(stderrPath)

        // 4. judge.
        var failures: [String] = []
        if outcome == .timedOut {
            failures.append("timed out after \(test.timeoutSeconds) s and was killed")
        } else if result.status != test.expectStatus {
            failures.append("exited with status \(result.status), expected \(test.expectStatus)")
        }
        if let expected = test.expectOutput, !result.stdout.contains(expected), !result.stderr.contains(expected) {
            failures.append("expected output \(Self.quote(expected)) not found; stdout was \(Self.quote(result.stdout))"
                            + (result.stderr.isEmpty ? "" : ", stderr was \(Self.quote(result.stderr))"))
        } else if !failures.isEmpty && outcome != .timedOut && !result.stderr.isEmpty {
            failures.append("stderr: \(Self.quote(result.stderr))")
        }
        result.passed = failures.isEmpty
        result.failure = failures.isEmpty ? nil : failures.joined(separator: "; ")
        return result
    }

    /// The ids of the containers runc knows under this runner's state root.
    public func containers() throws -> [String] {
        try wrapErrors { try FileSystem.listDirectory(stateRoot) }.filter { FileSystem.isDirectory(stateRoot + "/" + $0) }
    }

    /// `runc delete --force`: kills what is left of the container and removes its state.
    private func delete(_ id: String) {
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        _ = try? HostProcess.run(runc, ["--root", stateRoot, "delete", "--force", id],
                                 stdout: devNull, stderr: devNull, timeout: Self.runcTimeout)
    }

    // MARK: - Helpers

    /// Uid and gid (real ids; every one of real, effective, saved and fs must agree or the
    /// lowest, most privileged, is reported) from `/proc/<pid>/status`.
    static func observeIdentity(_ pid: pid_t) -> (uid: UInt32, gid: UInt32)? {
        guard let bytes = try? FileSystem.read("/proc/\(pid)/status", limit: 1 << 20) else { return nil }
        func ids(_ key: String) -> [UInt32]? {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(key + ":") {
                let values = line.dropFirst(key.count + 1).split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
                return values.isEmpty ? nil : values
            }
            return nil
        }
        guard let uids = ids("Uid"), let gids = ids("Gid"), let uid = uids.min(), let gid = gids.min() else { return nil }
        return (uid, gid)
    }

    static func makeDirectory(in parent: String) throws -> String {
        var template = Array("\(parent)/run-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let made else { throw RuntimeError.io(path: parent, operation: "mkdtemp", errno: errno) }
        return String(cString: made)
    }

    static func createFile(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw RuntimeError.io(path: path, operation: "create", errno: errno) }
        return fd
    }

    /// A file's text, cut at `outputLimit` bytes.
    static func readOutput(_ path: String) -> String {
        guard let source = try? FileSource(path: path) else { return "" }
        var bytes = [UInt8](repeating: 0, count: outputLimit)
        let count = (try? bytes.withUnsafeMutableBytes { try source.readFully(into: $0) }) ?? 0
        let more = ((try? source.size()) ?? 0) > Int64(count)
        return String(decoding: bytes[0..<count], as: UTF8.self) + (more ? "\n[output cut at \(outputLimit) bytes]" : "")
    }

    /// runc's error message from its output (plain or JSON log lines), without its prefixes.
    static func runcMessage(_ output: String) -> String {
        let lines = output.split(separator: "\n").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        guard var line = lines.last(where: { $0.contains("runc") || $0.contains("level=error") }) ?? lines.last else { return "" }
        if let range = line.firstRange(of: "msg=\"") {
            line = String(line[range.upperBound...])
            if line.hasSuffix("\"") { line.removeLast() }
            line = line.replacing("\\\"", with: "\"")
        }
        for prefix in ["runc create failed: ", "runc start failed: ", "runc run failed: "] where line.hasPrefix(prefix) {
            line.removeFirst(prefix.count)
        }
        return line
    }

    /// `text` in quotes, cut to a readable length.
    static func quote(_ text: String, limit: Int = 400) -> String {
        let cut = text.count > limit ? String(text.prefix(limit)) + "…" : text
        var escaped = ""
        for scalar in cut.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"" + escaped + "\""
    }
}
