import Archive
import Foundation
import OCI
import Testing
import TestSupport
import Vulnerability

/// Faults while writing: builds and imports killed at random moments, and a full disk. What was
/// there before stays intact, and what the killed run left is cleaned by the next one.
@Suite(.serialized) struct StoreFaultTests {
    /// A work directory with nodejs's spec and committed lock, and the CLI's cache pointed at the
    /// tests' shared mirror cache.
    struct Work {
        let dir: TemporaryDirectory
        let spec: String
        let harden: String

        init() throws {
            dir = try TemporaryDirectory()
            for name in ["nodejs.yaml", "nodejs.lock.json"] {
                _ = try dir.write(name, try FileSystem.read(CatalogBuilds.shared.catalog + "/" + name))
            }
            spec = dir.path + "/nodejs.yaml"
            try CatalogBuilds.linkSharedCache(into: dir.path + "/xdg")
            try FileSystem.createDirectory(dir.path + "/tmp")
            harden = try hardenBinary()
        }

        func environment(store: String, epoch: Int) -> [String: String] {
            ProcessInfo.processInfo.environment.merging([
                "HARDEN_STORE": store, "XDG_CACHE_HOME": dir.path + "/xdg", "TMPDIR": dir.path + "/tmp",
                "SOURCE_DATE_EPOCH": String(epoch),
            ]) { $1 }
        }

        /// One minimal amd64 image of nodejs (22 packages, 38 MiB compressed): several layers, a few seconds.
        var buildArguments: [String] { ["build", spec, "--variant", "minimal", "--arch", "amd64"] }

        func build(store: String, epoch: Int) throws -> Descriptor {
            let result = try run(harden, buildArguments, environment: environment(store: store, epoch: epoch))
            guard result.status == 0 else { throw TestSetupError(description: "build failed: \(result.stderr)") }
            return try ImageLayout(opening: store).resolve(tag: "nodejs:latest")
        }
    }

    /// Starts `arguments`, sends `signal` after `delay` seconds, and waits for it.
    static func interrupt(_ executable: String, _ arguments: [String], environment: [String: String],
                          after delay: Double, with signal: Int32) throws -> Process.TerminationReason {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationReason
    }

    @Test("a build killed at 20 random moments leaves an intact store whose tag is the old image or the new one; the next run cleans up")
    func killedBuilds() async throws {
        try await onOwnThread {
            let work = try Work()
            let previousStore = work.dir.path + "/previous"
            let previous = try work.build(store: previousStore, epoch: 1_700_000_000)
            let started = Date()
            let complete = try work.build(store: work.dir.path + "/reference", epoch: 1_700_000_001)
            let duration = Date().timeIntervalSince(started)
            #expect(previous.digest != complete.digest)

            var outcomes: [String] = []
            var temporariesSeen = 0
            var directoriesLeft = 0
            for attempt in 0..<20 {
                let store = work.dir.path + "/killed-\(attempt)"
                try runChecked("cp", ["-a", previousStore, store])
                let signal = [SIGKILL, SIGKILL, SIGTERM, SIGINT].randomElement()!
                let delay = Double.random(in: 0.05...duration)
                let before = Set(try FileSystem.listDirectory(work.dir.path + "/tmp"))
                let reason = try Self.interrupt(work.harden, work.buildArguments, environment: work.environment(store: store, epoch: 1_700_000_001),
                                                after: delay, with: signal)
                let layout = try ImageLayout(opening: store)
                let check = layout.check()
                let tagged = try layout.resolve(tag: "nodejs:latest").digest
                let which = tagged == previous.digest ? "old" : tagged == complete.digest ? "new" : "OTHER \(tagged)"
                outcomes.append(String(format: "signal %d after %.2f s: %@, tag %@, %d temporaries", signal, delay,
                                       reason == .uncaughtSignal ? "killed" : "exited", which, check.staleTemporaries.count))
                temporariesSeen += check.staleTemporaries.count
                // The build works in a staging layout under TMPDIR; what a killed one leaves there
                // is removed when the next build opens the store.
                directoriesLeft += try FileSystem.listDirectory(work.dir.path + "/tmp").filter { !before.contains($0) }.count
                #expect(check.isIntact, "attempt \(attempt) (signal \(signal) after \(delay) s): \(check.problems)")
                #expect(which == "old" || which == "new", "attempt \(attempt): \(which)")
                // What users run: harden store verify passes, and removes the dead writer's files.
                let verify = try run(work.harden, ["store", "verify", "--store", store], environment: work.environment(store: store, epoch: 0))
                #expect(verify.status == 0, "attempt \(attempt): \(String(decoding: verify.stdout, as: UTF8.self))")
                #expect(try ImageLayout(opening: store).temporaries().isEmpty)
            }
            print("killed builds (\(String(format: "%.1f", duration)) s uninterrupted):\n  " + outcomes.joined(separator: "\n  ")
                  + "\n  temporary files left in the stores by the killed writers: \(temporariesSeen); staging directories left in TMPDIR: \(directoriesLeft)")

            // The next build into a killed store completes, and leaves nothing temporary anywhere.
            let last = work.dir.path + "/killed-19"
            let rebuilt = try work.build(store: last, epoch: 1_700_000_001)
            #expect(rebuilt.digest == complete.digest)
            #expect(try ImageLayout(opening: last).check().isIntact)
            #expect(try ImageLayout(opening: last).temporaries().isEmpty)
            let left = try FileSystem.listDirectory(work.dir.path + "/tmp")
            #expect(left.isEmpty, "temporary directories of killed builds are removed by the next run: \(left)")
        }
    }

    @Test("a full disk fails the build with a clear message; the image already under the tag stays whole")
    func fullDisk() async throws {
        guard getuid() == 0 else {
            Issue.record("mounting a small tmpfs needs root (CI runs as root)")
            return
        }
        try await onOwnThread {
            let work = try Work()
            let store = work.dir.path + "/store"
            try FileSystem.createDirectory(store)
            // 80 MiB, of which the first image takes about 39 and a filler 20: too little for a second one.
            try runChecked("unshare", ["--mount", "--propagation", "private", "sh", "-c", """
                set -e
                mount -t tmpfs -o size=80m tmpfs '\(store)'
                '\(work.harden)' build '\(work.spec)' --variant minimal --arch amd64 > '\(work.dir.path)/first.out' 2>&1
                '\(work.harden)' images --format json > '\(work.dir.path)/before.json'
                dd if=/dev/zero of='\(store)/filler' bs=1M count=20 2>/dev/null
                status=0
                SOURCE_DATE_EPOCH=1700000009 '\(work.harden)' build '\(work.spec)' --variant minimal --arch amd64 > '\(work.dir.path)/second.out' 2>&1 || status=$?
                echo $status > '\(work.dir.path)/second.status'
                rm '\(store)/filler'
                '\(work.harden)' images --format json > '\(work.dir.path)/after.json'
                '\(work.harden)' store verify --store '\(store)' > '\(work.dir.path)/verify.out' 2>&1 || echo $? > '\(work.dir.path)/verify.status'
                ls -a '\(store)/blobs/sha256' | grep '^\\.tmp-' > '\(work.dir.path)/temporaries' || true
                """], environment: work.environment(store: store, epoch: 1_700_000_000))
            let second = String(decoding: try FileSystem.read(work.dir.path + "/second.out"), as: UTF8.self)
            let status = String(decoding: try FileSystem.read(work.dir.path + "/second.status"), as: UTF8.self)
            #expect(status.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(second)")
            #expect(second.contains("No space left on device"), "\(second)")
            print("full disk: " + (second.split(separator: "\n").last.map(String.init) ?? ""))
            #expect(!second.contains("Fatal error") && !second.contains("Backtrace"))
            #expect(try FileSystem.read(work.dir.path + "/before.json") == FileSystem.read(work.dir.path + "/after.json"),
                    "the tag still names the first image")
            #expect(!FileSystem.exists(work.dir.path + "/verify.status"),
                    "\(String(decoding: (try? FileSystem.read(work.dir.path + "/verify.out")) ?? [], as: UTF8.self))")
            #expect(try FileSystem.read(work.dir.path + "/temporaries").isEmpty, "the failed write removed its temporary file")
        }
    }

    @Test("a vulnerability-database import killed at random moments leaves the old database readable and whole")
    func killedImports() async throws {
        try await onOwnThread {
            let work = try Work()
            let db = work.dir.path + "/db/vulnerabilities.db"
            let small = try work.dir.write("small.json", Array(#"{"zlib":{"CVE-2099-0001":{"releases":{"bookworm":{"status":"open","urgency":"high"}}}}}"#.utf8))
            // A synthetic feed in the tracker's format, large enough that an import takes a while.
            var feed = "{"
            for i in 0..<20_000 {
                feed += (i == 0 ? "" : ",") + #""pkg\#(i)":{"CVE-2099-\#(10_000 + i)":{"description":"synthetic \#(i)","releases":{"bookworm":{"status":"resolved","fixed_version":"1.\#(i)-1","urgency":"low"}}}}"#
            }
            let big = try work.dir.write("big.json", Array((feed + "}").utf8))
            let started = Date()
            try runChecked(work.harden, ["db", "import", big, "--db", work.dir.path + "/reference.db"])
            let duration = Date().timeIntervalSince(started)
            var outcomes: [Int: Int] = [:]
            var stagingLeft = 0
            for attempt in 0..<10 {
                try runChecked(work.harden, ["db", "import", small, "--db", db])
                let delay = Double.random(in: 0.02...duration)
                _ = try Self.interrupt(work.harden, ["db", "import", big, "--db", db], environment: ProcessInfo.processInfo.environment,
                                       after: delay, with: SIGKILL)
                stagingLeft += try FileSystem.listDirectory(work.dir.path + "/db").filter { $0.hasPrefix(FileSystem.temporaryPrefix) }.count
                // Killed before the rename: the old database; after it: the new one, whole.
                let database = try VulnerabilityDatabase(path: db)
                let advisories = try database.feeds().map(\.advisories)
                #expect(advisories == [1] || advisories == [20_000], "attempt \(attempt) after \(delay) s: \(advisories)")
                let found = try database.advisories(forSources: ["zlib", "pkg19999"], release: "bookworm").count
                #expect(found == 1, "attempt \(attempt): the database reads back")
                outcomes[advisories.first ?? 0, default: 0] += 1
            }
            print("killed imports (\(String(format: "%.1f", duration)) s uninterrupted): old database kept \(outcomes[1] ?? 0) times, new one complete \(outcomes[20_000] ?? 0) times, staging files left \(stagingLeft)")
            try runChecked(work.harden, ["db", "import", small, "--db", db])
            let left = try FileSystem.listDirectory(work.dir.path + "/db").filter { $0.hasPrefix(".tmp-") }
            #expect(left.isEmpty, "the next import removes what killed imports left: \(left)")
        }
    }
}
