import Archive
import Debian
import OCI

/// The conventional image a spec's users would otherwise take, to measure the hardening against:
/// debian:bookworm-slim's package set (every `Priority: required` package, and apt) with the
/// spec's packages on top, unhardened: root, a shell, apt and dpkg, setuid bits kept. It is
/// resolved from the same signed repositories and locked beside the spec, so it is reproducible
/// and, once its .debs are cached, builds offline.
public enum Baseline {
    /// `python.yaml` → `python.baseline.lock.json`.
    public static func lockPath(forSpec spec: String) -> String {
        String(LockFile.path(forSpec: spec).dropLast(".lock.json".count)) + ".baseline.lock.json"
    }

    /// The names of the packages Debian marks `Priority: required` for `architecture`.
    public static func required(in universe: PackageUniverse, architecture: String) -> [String] {
        universe.byName.compactMap { name, candidates in
            candidates.contains { $0.priority == "required" && ($0.architecture == architecture || $0.architecture == "all") } ? name : nil
        }.sorted()
    }

    /// What debootstrap and mmdebstrap add to the required set: apt, and usr-is-merged (the
    /// image is merged-/usr already; the alternative, usrmerge, would pull in perl to convert it).
    public static let additions = ["apt", "usr-is-merged"]

    /// The baseline's requests: `additions` (first, so that they settle alternatives such as
    /// `usrmerge | usr-is-merged`), the required set, and the spec's own packages (its
    /// exclusions dropped: a conventional image has no reason to leave anything out).
    public static func requests(_ spec: ImageSpec, required: [String]) -> [PackageRequest] {
        let own = spec.packages.filter { !$0.excluded }
        let base = (additions + required).filter { name in !own.contains { $0.name == name } }
        return base.map { PackageRequest(name: $0) } + own
    }
}

extension ImageBuilder {
    /// Builds the spec's baseline (`name:tag-baseline`) from its baseline lock, resolving and
    /// writing that lock first when it is missing or older than the spec.
    public func buildBaseline(specPath: String, into layout: ImageLayout) async throws -> BuiltImage {
        let specBytes: [UInt8]
        do { specBytes = try FileSystem.read(specPath, limit: 4 << 20) } catch {
            throw SpecError(file: specPath, line: nil, message: "cannot read: \(error)")
        }
        let spec = try ImageSpec(yaml: String(decoding: specBytes, as: UTF8.self), file: specPath)
        let lockFile = Baseline.lockPath(forSpec: specPath)
        var lock: LockFile?
        if FileSystem.exists(lockFile) {
            let existing = try LockFile.read(lockFile)
            if (try? existing.check(specSHA256: sha256Hex(specBytes), specPath: specPath)) != nil {
                lock = existing
                progress("using \(lockFile)")
            } else {
                progress("\(lockFile) is older than \(specPath): resolving the baseline again")
            }
        }
        if lock == nil {
            let fresh = try await PackageLocker(client: client).lockBaseline(spec, specPath: specPath, specBytes: specBytes, progress: progress)
            try fresh.write(to: lockFile)
            progress("wrote \(lockFile)")
            lock = fresh
        }
        guard let lock else { throw BuildError.noLock("no baseline lock") }
        for arch in spec.archs where lock.packages[arch] == nil { throw BuildError.missingArchitecture(arch) }
        let packages = spec.archs.map { ($0, lock.packages[$0] ?? []) }
        guard let image = try await assemble([(.baseline, packages)], spec: spec, lock: lock, into: layout).first else {
            throw BuildError.noLock("the baseline built no image")
        }
        return image
    }
}
