import Archive
import ArgumentParser
import Debian
import Foundation
import ImageBuild
import Vulnerability

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-resolve specs against today's repositories and show what their locks would gain.",
        discussion: """
        Resolves each spec again (signed indexes verified, as 'harden lock' does) and compares
        the result with its lock: every package added, removed or upgraded, with the suite it
        now comes from and, from the vulnerability database, the CVEs the upgrade fixes. The
        locks are rewritten only with --write; a build from the new lock then picks the fixes up.

        Exit status: 0, whether or not there are updates (the output says); 1 on errors.

        Examples:
          harden update catalog/python.yaml
          harden update catalog --write          # every *.yaml spec in the directory
        """
    )

    @Argument(help: "Specs, or directories of specs (*.yaml with a .lock.json beside them).")
    var specs: [String]

    @Flag(help: "Write the new locks.")
    var write = false

    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let paths = try specs.flatMap { path -> [String] in
            guard FileSystem.isDirectory(path) else { return [path] }
            return try FileSystem.listDirectory(path).filter { $0.hasSuffix(".yaml") }.sorted().map { path + "/" + $0 }
        }
        guard !paths.isEmpty else { throw ValidationError("name at least one spec") }
        let vulnerabilities = FileSystem.exists(database.resolved) ? try VulnerabilityDatabase(path: database.resolved) : nil
        if vulnerabilities == nil { note("no vulnerability database at \(database.resolved): CVEs fixed are not shown ('harden db update')") }
        var changedSpecs = 0
        for path in paths {
            let lockPath = LockFile.path(forSpec: path)
            guard FileSystem.exists(lockPath) else { throw CLIError("\(path) has no lock (\(lockPath)): run 'harden lock \(path)' first") }
            let old = try LockFile.read(lockPath)
            let bytes = try FileSystem.read(path, limit: 4 << 20)
            let spec = try ImageSpec(yaml: String(decoding: bytes, as: UTF8.self), file: path)
            let new = try await PackageLocker().lock(spec, specPath: path, specBytes: bytes, progress: { _ in })
            let changes = old.changes(to: new)
            guard !changes.isEmpty else {
                print("\(path): up to date (\(old.packages.values.map(\.count).reduce(0, +)) packages)")
                continue
            }
            changedSpecs += 1
            print("\(path): \(changes.count) package change\(changes.count == 1 ? "" : "s")")
            for change in changes {
                print("  " + (try describe(change, release: spec.debian, database: vulnerabilities)))
            }
            if write {
                try new.write(to: lockPath)
                print("  wrote \(lockPath)")
            }
        }
        if changedSpecs > 0 && !write { note("\(changedSpecs) lock\(changedSpecs == 1 ? "" : "s") would change: run again with --write") }
    }

    /// `[minimal amd64] libssl3 3.0.11-1~deb12u2 -> 3.0.17-1~deb12u2 (bookworm-security): fixes CVE-…`.
    private func describe(_ change: LockChange, release: String, database: VulnerabilityDatabase?) throws -> String {
        let place = "[\(change.variant) \(change.architecture)] \(change.name)"
        switch (change.old, change.new) {
        case (let old?, let new?):
            var text = "\(place) \(old.version) -> \(new.version) (\(new.suite))"
            if old.version == new.version { text = "\(place) \(new.version): the .deb's digest changed (\(old.sha256.prefix(12)) -> \(new.sha256.prefix(12)))" }
            if let database {
                let advisories = try database.advisories(forSources: [new.source], release: release)
                let fixed = Matcher.fixes(from: old.sourceVersion, to: new.sourceVersion, in: advisories)
                text += fixed.isEmpty ? ": fixes no known CVE" : ": fixes " + fixed.map(\.cve).joined(separator: ", ")
            }
            return text
        case (nil, let new?):
            return "\(place) added: \(new.version) (\(new.suite))"
        case (let old?, nil):
            return "\(place) removed (was \(old.version))"
        default:
            return place
        }
    }
}
