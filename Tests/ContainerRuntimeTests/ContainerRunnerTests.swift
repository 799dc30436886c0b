import Archive
import ContainerRuntime
import Foundation
import OCI
import TestSupport
import Testing

@Suite("Running images with runc")
struct ContainerRunnerTests {
    @Test("a non-root image (User: name) runs as 65532, observed, and passes requireNonRoot")
    func nonRootByName() throws {
        let results = try Fixtures.test([ImageTestCase(name: "uid", command: ["id", "-u"], expectOutput: "65532")],
                                        user: "nonroot", requireNonRoot: true)
        let result = try #require(results.first)
        #expect(result.passed, "\(result.failure ?? "")")
        #expect(result.status == 0)
        #expect(result.uidObserved)
        #expect(result.uid == 65532)
        #expect(result.gid == 65532)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "65532")
    }

    @Test("a non-root image (User: uid:gid) runs as 65532:65532 with supplementary groups from /etc/group")
    func nonRootNumeric() throws {
        let results = try Fixtures.test([
            ImageTestCase(name: "uid", command: ["id", "-u"], expectOutput: "65532"),
            ImageTestCase(name: "gid", command: ["id", "-g"], expectOutput: "65532"),
            ImageTestCase(name: "groups", command: ["cat", "/proc/self/status"], expectOutput: "Groups:\t50"),
        ], user: "65532:65532", requireNonRoot: true)
        #expect(results.count == 3)
        for result in results {
            #expect(result.passed, "\(result.test.name): \(result.failure ?? "")")
            #expect(result.uid == 65532 && result.uidObserved)
        }
    }

    @Test("the same image with User root fails requireNonRoot with a clear message")
    func rootFailsRequireNonRoot() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try Fixtures.image(in: directory, user: "root")
        var lines: [String] = []
        let results = try ImageTester.run([ImageTestCase(name: "uid", command: ["id", "-u"], expectOutput: "0")],
                                          manifest: manifest, from: layout, requireNonRoot: true) { lines.append($0) }
        let result = try #require(results.first)
        #expect(lines.contains { $0.hasPrefix("FAIL uid: ran as root") }, "\(lines)")
        #expect(!result.passed)
        #expect(result.uid == 0 && result.uidObserved)
        #expect(result.status == 0)
        #expect(result.failure?.contains("ran as root (uid 0)") == true, "\(result.failure ?? "")")
        // Without the policy the same test passes.
        let relaxed = try Fixtures.test([ImageTestCase(name: "uid", command: ["id", "-u"], expectOutput: "0")], user: "")
        #expect(relaxed.first?.passed == true)
    }

    @Test("root keeps runc's default capabilities; a non-root user has none and no new privileges")
    func capabilities() throws {
        let status = ImageTestCase(name: "status", command: ["cat", "/proc/self/status"])
        let root = try #require(try Fixtures.test([status], user: "0").first)
        let nonRoot = try #require(try Fixtures.test([status], user: "nonroot").first)
        #expect(root.stdout.contains("CapEff:\t0000000020000420"), "\(root.stdout)")
        #expect(nonRoot.stdout.contains("CapEff:\t0000000000000000"))
        #expect(nonRoot.stdout.contains("CapBnd:\t0000000000000000"))
        #expect(nonRoot.stdout.contains("NoNewPrivs:\t1"))
    }

    @Test("exit status expectations")
    func exitStatus() throws {
        let results = try Fixtures.test([
            ImageTestCase(name: "three", command: ["sh", "-c", "exit 3"], expectStatus: 3),
            ImageTestCase(name: "wrong", command: ["sh", "-c", "echo oops >&2; exit 3"]),
        ])
        #expect(results.count == 2)
        #expect(results[0].passed, "\(results[0].failure ?? "")")
        #expect(results[0].status == 3)
        #expect(!results[1].passed)
        #expect(results[1].status == 3)
        #expect(results[1].failure?.contains("exited with status 3, expected 0") == true, "\(results[1].failure ?? "")")
        #expect(results[1].failure?.contains("oops") == true)
    }

    @Test("an output mismatch fails, quoting what was expected and what came out")
    func outputMismatch() throws {
        let results = try Fixtures.test([
            ImageTestCase(name: "hello", command: ["echo", "hello from the container"], expectOutput: "goodbye"),
            ImageTestCase(name: "stderr counts", command: ["sh", "-c", "echo on-stderr >&2"], expectOutput: "on-stderr"),
        ])
        let mismatch = try #require(results.first)
        #expect(!mismatch.passed)
        #expect(mismatch.status == 0)
        let failure = mismatch.failure ?? ""
        #expect(failure.contains("\"goodbye\""), "\(failure)")
        #expect(failure.contains("\"hello from the container\\n\""), "\(failure)")
        #expect(results.last?.passed == true)
    }

    @Test("no network: only lo in a fresh network namespace; hostname and writable /tmp")
    func isolation() throws {
        let results = try Fixtures.test([
            ImageTestCase(name: "netdev", command: ["cat", "/proc/net/dev"]),
            ImageTestCase(name: "hostname", command: ["hostname"], expectOutput: "harden-test"),
            ImageTestCase(name: "tmp", command: ["sh", "-c", "echo x > /tmp/f && cat /tmp/f"], expectOutput: "x"),
            ImageTestCase(name: "read-only root", command: ["sh", "-c", "touch /etc/x"], expectStatus: 1),
        ])
        #expect(results.allSatisfy { $0.passed }, "\(results.compactMap(\.failure))")
        let netdev = try #require(results.first)
        let interfaces = netdev.stdout.split(separator: "\n").dropFirst(2).compactMap { line in
            line.split(separator: ":").first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        #expect(interfaces == ["lo"], "\(netdev.stdout)")
    }

    @Test("Env, WorkingDir and Entrypoint + Cmd from the image config are honoured")
    func imageConfigIsHonoured() throws {
        let results = try Fixtures.test([
            ImageTestCase(name: "default command", expectOutput: "hello-harden\n/work/dir\n"),
            ImageTestCase(name: "argv as is", command: ["sh", "-c", "echo $GREETING $HOME"], expectOutput: "hello-harden /home/nonroot"),
        ], user: "nonroot", entrypoint: ["/bin/sh", "-c"], cmd: ["echo $GREETING; pwd"],
           env: ["PATH=/bin", "GREETING=hello-harden"], workingDir: "/work/dir")
        #expect(results[0].passed, "\(results[0].failure ?? "")")
        #expect(results[0].stdout == "hello-harden\n/work/dir\n")
        #expect(results[1].passed, "\(results[1].failure ?? "")")
    }

    @Test("a missing entrypoint is a failed test, not an error")
    func missingEntrypoint() throws {
        let results = try Fixtures.test([
            ImageTestCase(name: "missing", command: []),
            ImageTestCase(name: "missing argv", command: ["/usr/bin/not-there"]),
        ], entrypoint: ["/nope/server"])
        #expect(results.count == 2)
        for result in results {
            #expect(!result.passed)
            #expect(!result.uidObserved)
            #expect(result.failure?.contains("did not start") == true, "\(result.failure ?? "")")
            #expect(result.failure?.contains("no such file") == true, "\(result.failure ?? "")")
        }
        // A file that is there but cannot be executed fails too, with runc's reason.
        let notExecutable = try #require(try Fixtures.test([ImageTestCase(name: "passwd", command: ["/etc/passwd"])]).first)
        #expect(!notExecutable.passed)
        #expect(notExecutable.failure?.contains("permission denied") == true, "\(notExecutable.failure ?? "")")
    }

    @Test("an unknown user name is a typed error naming the user")
    func unknownUser() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try Fixtures.image(in: directory, user: "ghost")
        #expect {
            try ImageTester.run([ImageTestCase(name: "x", command: ["true"])], manifest: manifest, from: layout, requireNonRoot: true)
        } throws: { error in
            guard case RuntimeError.unknownUser(let user, _) = error else { return false }
            return user == "ghost" && "\(error)".contains("no user 'ghost'")
        }
    }

    @Test("a test past its timeout is killed, fails, and leaves no container behind")
    func timeout() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try Fixtures.image(in: directory)
        let bundle = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        let runner = try ContainerRunner(stateRoot: directory.path + "/state")
        let began = Date()
        let result = try runner.run(ImageTestCase(name: "sleep", command: ["sleep", "30"], timeoutSeconds: 2), in: bundle)
        let elapsed = Date().timeIntervalSince(began)
        #expect(!result.passed)
        #expect(result.failure?.contains("timed out after 2 s") == true, "\(result.failure ?? "")")
        #expect(result.status == 137)
        #expect(elapsed >= 2 && elapsed < 10, "took \(elapsed) s")
        #expect(try runner.containers().isEmpty)
        let list = try runChecked(runner.runc, ["--root", runner.stateRoot, "list", "-q"])
        #expect(list.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(list)")
        // The bundle is still usable afterwards.
        let again = try runner.run(ImageTestCase(name: "echo", command: ["echo", "ok"], expectOutput: "ok"), in: bundle)
        #expect(again.passed, "\(again.failure ?? "")")
    }

    @Test("runs on one bundle can go at once")
    func concurrentRuns() throws {
        let directory = try TemporaryDirectory()
        let (layout, manifest) = try Fixtures.image(in: directory)
        let bundle = try RuntimeBundle.create(manifest: manifest, from: layout, at: directory.path + "/bundle")
        let runner = try ContainerRunner(stateRoot: directory.path + "/state")
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            let test = ImageTestCase(name: "n\(i)", command: ["sh", "-c", "echo run-\(i); exit \(i)"], expectOutput: "run-\(i)", expectStatus: Int32(i))
            results.append(Result { try runner.run(test, in: bundle) })
        }
        let all = try results.values.map { try $0.get() }
        #expect(all.count == 6)
        for result in all {
            #expect(result.passed, "\(result.test.name): \(result.failure ?? "")")
            #expect(result.duration > 0 && result.duration < 30)
        }
        #expect(try runner.containers().isEmpty)
    }

    @Test("runc that is not there is an error naming the install step")
    func runcMissing() throws {
        let directory = try TemporaryDirectory()
        #expect {
            _ = try ContainerRunner(runc: "/nonexistent/runc", stateRoot: directory.path + "/state")
        } throws: { error in
            guard case RuntimeError.runcNotFound = error else { return false }
            return "\(error)".contains("apt-get install runc")
        }
    }
}

/// Results collected from several threads.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Result<ImageTestResult, any Error>] = []
    func append(_ value: Result<ImageTestResult, any Error>) { lock.withLock { stored.append(value) } }
    var values: [Result<ImageTestResult, any Error>] { lock.withLock { stored } }
}
