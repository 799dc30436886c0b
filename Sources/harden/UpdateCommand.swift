import Archive
import ArgumentParser
import Debian
import Foundation
import ImageBuild
import Vulnerability

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Re-resolve specs against today's repositories and show what their locks would gain.",
        discussion: """
        Resolves each spec again (signed indexes verified, as 'harden lock'
        does) and compares the result with its lock: every package added,
        removed or upgraded, with the suite it now comes from and, from the
        vulnerability database, the CVEs the upgrade fixes. Locks are rewritten
        only with --write; a build from the new lock then picks the fixes up.

        With --security-only, an upgrade is taken only when its new version
        comes from a -security suite or fixes a CVE the database knows; every
        other package is held at its locked version (which must still be in the
        repositories) and listed as held back.

        Exit status: 0 whether or not there are updates (the output says);
        1 on errors.

        Examples:
          harden update catalog/python.yaml
          harden update catalog --write          # every *.yaml spec in the directory
          harden update catalog --security-only --write
        """
    )

    @Argument(help: "Specs, or directories of specs (*.yaml with a .lock.json beside them).")
    var specs: [String]

    @Flag(help: "Write the new locks.")
    var write = false

    @Flag(help: "Take only upgrades from a -security suite or that fix a known CVE; hold every other package at its locked version.")
    var securityOnly = false

    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let paths = try specs.flatMap { path -> [String] in
            guard FileSystem.isDirectory(path) else { return [path] }
            return try FileSystem.listDirectory(path).filter { $0.hasSuffix(".yaml") }.sorted().map { path + "/" + $0 }
        }
        guard !paths.isEmpty else { throw ValidationError("name at least one spec") }
        let vulnerabilities = usableDatabase(database.resolved)
        if vulnerabilities == nil { note("no vulnerability database at \(database.resolved): CVEs fixed are not shown ('harden db update')") }
        var changedSpecs = 0
        for path in paths {
            let lockPath = LockFile.path(forSpec: path)
            guard FileSystem.exists(lockPath) else { throw CLIError("\(path) has no lock (\(lockPath)): run 'harden lock \(path)' first") }
            let old = try LockFile.read(lockPath)
            let bytes = try FileSystem.read(path, limit: 4 << 20)
            let spec = try ImageSpec(yaml: String(decoding: bytes, as: UTF8.self), file: path)
            var new = try await PackageLocker().lock(spec, specPath: path, specBytes: bytes, progress: { _ in })
            var held: [String] = []
            if securityOnly {
                let holds: PackageLocker.Holds
                (holds, held) = try holdsForSecurityOnly(old.changes(to: new), release: spec.debian, database: vulnerabilities)
                if !holds.isEmpty {
                    do {
                        new = try await PackageLocker().lock(spec, specPath: path, specBytes: bytes, holding: holds, progress: { _ in })
                    } catch {
                        throw CLIError("\(path): --security-only cannot hold \(held.joined(separator: "; ")) at the locked versions: \(error)")
                    }
                }
            }
            let changes = old.changes(to: new)
            if changes.isEmpty {
                print("\(path): up to date (\(old.packages.values.map(\.count).reduce(0, +)) packages)")
            } else {
                print("\(path): \(changes.count) package change\(changes.count == 1 ? "" : "s")")
            }
            for change in changes {
                print("  " + (try describe(change, release: spec.debian, database: vulnerabilities)))
            }
            for line in held { print("  held back: \(line)") }
            guard !changes.isEmpty else { continue }
            changedSpecs += 1
            if write {
                try new.write(to: lockPath)
                print("  wrote \(lockPath)")
            }
        }
        if changedSpecs > 0 && !write { note("\(changedSpecs) lock\(changedSpecs == 1 ? "" : "s") would change: run again with --write") }
    }

    /// For --security-only: the packages whose upgrade neither comes from a -security suite nor
    /// fixes a known CVE, to hold at their locked versions, and a line describing each.
    private func holdsForSecurityOnly(_ changes: [LockChange], release: String, database: VulnerabilityDatabase?) throws
        -> (PackageLocker.Holds, [String]) {
        var holds: PackageLocker.Holds = [:]
        var held: [String] = []
        for change in changes {
            guard let old = change.old, let new = change.new, old.version != new.version else { continue }
            if new.suite.hasSuffix("-security") { continue }
            if let database {
                let advisories = try database.advisories(forSources: [new.source], release: release)
                if !Matcher.fixes(from: old.sourceVersion, to: new.sourceVersion, in: advisories).isEmpty { continue }
            }
            holds[change.variant, default: [:]][change.architecture, default: [:]][change.name] = try DebianVersion(old.version)
            held.append("[\(change.variant) \(change.architecture)] \(change.name) \(old.version) (\(new.version) in \(new.suite) fixes no known CVE)")
        }
        return (holds, held)
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
