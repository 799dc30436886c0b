import Archive
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// One declared test of an image (from the spec's `tests:` list).
public struct ImageTestCase: Sendable, Equatable {
    public var name: String
    /// The argv to run as is; empty runs the image's Entrypoint + Cmd.
    public var command: [String]
    /// Text that must appear in stdout (or stderr) when set.
    public var expectOutput: String?
    /// The exit status the program must end with.
    public var expectStatus: Int32
    /// Seconds after which the container is killed and the test fails.
    public var timeoutSeconds: Int

    public init(name: String, command: [String] = [], expectOutput: String? = nil, expectStatus: Int32 = 0, timeoutSeconds: Int = 60) {
        self.name = name
        self.command = command
        self.expectOutput = expectOutput
        self.expectStatus = expectStatus
        self.timeoutSeconds = timeoutSeconds
    }
}

/// What happened when a test ran.
public struct ImageTestResult: Sendable {
    public var test: ImageTestCase
    public var passed: Bool
    /// The exit status; 128 + N when killed by signal N; -1 when the program never started.
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The uid the process actually ran with (read from /proc of the container's process). When
    /// `uidObserved` is false the process never started and this is the configured uid.
    public var uid: UInt32
    /// The gid the process actually ran with (same rules as `uid`).
    public var gid: UInt32
    /// Whether `uid` and `gid` were read from the running container's process.
    public var uidObserved: Bool
    /// Why it failed, for people.
    public var failure: String?
    /// Wall-clock seconds the run took, from `runc create` to the container's deletion.
    public var duration: Double

    public init(test: ImageTestCase, passed: Bool, status: Int32, stdout: String, stderr: String,
                uid: UInt32, gid: UInt32, uidObserved: Bool, failure: String?, duration: Double = 0) {
        self.test = test
        self.passed = passed
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.uid = uid
        self.gid = gid
        self.uidObserved = uidObserved
        self.failure = failure
        self.duration = duration
    }
}

/// Runs an image's declared tests in real containers.
public enum ImageTester {
    /// Unpacks once, runs every test, returns results. With `requireNonRoot`, a test whose process ran as uid 0 fails.
    ///
    /// The bundle and runc state live in a private temporary directory removed at the end. Tests
    /// run one after another, in order. `progress` gets a line per test as it starts and ends.
    /// Throws when runc is missing, the image cannot be unpacked, or its `User` is unknown.
    public static func run(_ tests: [ImageTestCase], manifest: Descriptor, from reader: BlobReader, requireNonRoot: Bool,
                           progress: (String) -> Void = { _ in }) throws -> [ImageTestResult] {
        let scratch = try wrapErrors { try FileSystem.makeTemporaryDirectory(prefix: "harden-runtime") }
        defer { try? FileSystem.remove(scratch) }
        if chmod(scratch, 0o700) != 0 { throw RuntimeError.io(path: scratch, operation: "chmod", errno: errno) }
        let runner = try ContainerRunner(stateRoot: scratch + "/state")
        progress("unpacking \(manifest.digest.short) into a runtime bundle")
        let bundle = try RuntimeBundle.create(manifest: manifest, from: reader, at: scratch + "/bundle")
        var results: [ImageTestResult] = []
        for test in tests {
            progress("running \(test.name)")
            var result = try runner.run(test, in: bundle)
            if requireNonRoot, result.uidObserved, result.uid == 0 {
                result.passed = false
                let rootFailure = "ran as root (uid 0), but the image must run as a non-root user: set a non-root User in the image config"
                result.failure = result.failure.map { rootFailure + "; " + $0 } ?? rootFailure
            }
            progress("\(result.passed ? "PASS" : "FAIL") \(test.name)\(result.failure.map { ": " + $0 } ?? "")")
            results.append(result)
        }
        return results
    }
}
