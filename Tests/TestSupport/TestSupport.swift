import Archive
import ContainerRuntime
import Foundation

/// The result of running an external program.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: String
    public var output: String { String(decoding: stdout, as: UTF8.self) }
}

/// Errors of the test helpers, with a message that says how to fix the machine.
public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Runs `tool` with `arguments`, capturing output through files (no pipe deadlocks).
@discardableResult
public func run(_ tool: String, _ arguments: [String], input: [UInt8]? = nil, cwd: String? = nil,
                environment: [String: String]? = nil) throws -> ProcessResult {
    let executable = try requireTool(tool)
    let dir = try FileSystem.makeTemporaryDirectory(prefix: "harden-run")
    defer { try? FileSystem.remove(dir) }
    let outPath = dir + "/out", errPath = dir + "/err", inPath = dir + "/in"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    _ = FileManager.default.createFile(atPath: inPath, contents: Data(input ?? []))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if let environment { process.environment = environment }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    try process.run()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: try FileSystem.read(outPath, limit: 1 << 30),
                         stderr: String(decoding: try FileSystem.read(errPath, limit: 1 << 30), as: UTF8.self))
}

/// `run` on a thread of its own, for async tests that wait on long programs: a blocking wait on
/// one of Swift Testing's few cooperative threads starves every other test (token lifetimes run
/// out while their tasks wait to be scheduled).
public func runOffPool(_ tool: String, _ arguments: [String], input: [UInt8]? = nil, cwd: String? = nil,
                       environment: [String: String]? = nil) async throws -> ProcessResult {
    try await onOwnThread { try run(tool, arguments, input: input, cwd: cwd, environment: environment) }
}

/// Runs blocking work on a thread of its own (see `runOffPool`) and returns its result.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Runs a program and fails with its stderr unless it exits 0; returns stdout as text.
@discardableResult
public func runChecked(_ tool: String, _ arguments: [String], input: [UInt8]? = nil, cwd: String? = nil,
                       environment: [String: String]? = nil) throws -> String {
    let result = try run(tool, arguments, input: input, cwd: cwd, environment: environment)
    guard result.status == 0 else {
        throw TestSetupError(description: "\(tool) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
    }
    return result.output
}

/// The full path of a program on PATH, or an error naming the install step.
public func requireTool(_ name: String) throws -> String {
    if name.hasPrefix("/") { return name }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
    for dir in dirs {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw TestSetupError(description: "'\(name)' is not installed: run 'make deps' (scripts/install-deps.sh) first")
}

/// A temporary directory removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String
    public init() throws { path = try FileSystem.makeTemporaryDirectory(prefix: "harden-test") }
    deinit { try? FileSystem.remove(path) }

    /// Writes `contents` at `relative` (creating parents) with `mode`.
    @discardableResult
    public func write(_ relative: String, _ contents: [UInt8], mode: Int = 0o644) throws -> String {
        let full = path + "/" + relative
        try FileSystem.createDirectory(FileSystem.parentPath(full))
        try FileSystem.writeAtomically(full, bytes: contents)
        chmod(full, mode_t(mode))
        return full
    }
}

/// Deterministic pseudo-random bytes (xorshift), for test data that compresses like real data.
public func pseudoRandomBytes(count: Int, seed: UInt64 = 0x9E3779B97F4A7C15, textLike: Bool = false) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    let words = Array("harden layer tar gzip zstd debian image package digest manifest ".utf8)
    for i in 0..<count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        out[i] = textLike ? words[Int(state % UInt64(words.count))] : UInt8(truncatingIfNeeded: state)
    }
    return out
}

/// A static HTTP server on loopback (Python's http.server) serving `directory`, stopped on release.
/// Spawned and reaped by this object alone (see `HarnessProcess`).
public final class LocalHTTPServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let pid: pid_t

    public init(directory: String) throws {
        self.directory = directory
        let python = try requireTool("python3")
        var lastError: Error = TestSetupError(description: "no free port")
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        for _ in 0..<20 {
            let port = Int.random(in: 20_000...60_000)
            let pid: pid_t
            do {
                pid = try HostProcess.spawn(python, ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory],
                                            stdout: devNull, stderr: devNull, environment: environment)
            } catch {
                lastError = error
                continue
            }
            // Wait until it accepts connections (or died because the port was taken).
            for _ in 0..<100 where isAlive(pid) {
                if LocalHTTPServer.canConnect(port: port) {
                    self.port = port
                    self.pid = pid
                    return
                }
                usleep(50_000)
            }
            HostProcess.kill(pid)
            lastError = TestSetupError(description: "python3 http.server did not start on port \(port)")
        }
        throw lastError
    }

    deinit { HostProcess.kill(pid) }

    /// The base URL, e.g. `http://127.0.0.1:34567`.
    public var url: String { "http://127.0.0.1:\(port)" }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// Builds a tar with Python's tarfile, which writes whatever names it is given.
public func pythonTar(_ members: [(name: String, type: String, link: String)]) throws -> [UInt8] {
    let spec = members.map { "(\"\($0.name)\", \"\($0.type)\", \"\($0.link)\")" }.joined(separator: ", ")
    let script = """
    import io, sys, tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, link in [\(spec)]:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, link
                tar.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = b"payload"
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    sys.stdout.buffer.write(buf.getvalue())
    """
    return try run("python3", ["-c", script]).stdout
}

/// Whether the child `pid` is running (a zombie, exited but not yet reaped, is not).
public func isAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? FileSystem.read("/proc/\(pid)/stat", limit: 4096),
          let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return false }
    return stat[close + 2] != UInt8(ascii: "Z") && stat[close + 2] != UInt8(ascii: "X")
}

/// Archives made to attack a reader, for the hostile-input tests.
public enum HostileArchives {
    /// A tar header (ustar with a PAX record when needed, as Python's tarfile writes it) for a
    /// regular file of `size` bytes; no data follows.
    public static func header(name: String, size: Int64) throws -> [UInt8] {
        let script = """
        import sys, tarfile
        info = tarfile.TarInfo(\"\(name)\")
        info.size = \(size)
        sys.stdout.buffer.write(info.tobuf(tarfile.PAX_FORMAT))
        """
        return try run("python3", ["-c", script]).stdout
    }

    /// A tar whose PAX header says its one file holds 2^62 bytes; a few bytes of data follow.
    public static func paxHugeSize(name: String = "usr/share/huge") throws -> [UInt8] {
        try header(name: name, size: 1 << 62) + [UInt8](repeating: 0x41, count: 512) + [UInt8](repeating: 0, count: 1024)
    }

    /// A gzip stream of `decompressed` bytes (a tar header for one file of nearly that many zeros,
    /// then the zeros)
    /// made of 1 MiB members, each compressed to about 1 KiB: 10 GiB of output from about 10 MiB.
    public static func gzipBomb(decompressed: Int64, name: String = "usr/share/bomb") throws -> [UInt8] {
        let member = 1 << 20
        func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
            let sink = MemorySink()
            let compressor = try GzipCompressor(sink, level: 9)
            try compressor.write(bytes)
            try compressor.finish()
            return sink.bytes
        }
        let first = try header(name: name, size: decompressed - 2048)
        var bomb = try gzip(first + [UInt8](repeating: 0, count: member - first.count))
        let zeros = try gzip([UInt8](repeating: 0, count: member))
        let count = Int(decompressed / Int64(member)) - 1
        bomb.reserveCapacity(bomb.count + zeros.count * count)
        for _ in 0..<count { bomb += zeros }
        return bomb
    }
}
