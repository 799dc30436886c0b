import Archive
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `ImageLayout.check()` found: the figures, and every problem with the file it concerns.
public struct LayoutCheck: Sendable, Codable {
    /// Blob files whose bytes were hashed, and their total size.
    public var blobs = 0
    public var bytes: Int64 = 0
    /// Entries of `index.json`, and how many of them carry a tag.
    public var entries = 0
    public var tags = 0
    /// Blobs no entry of `index.json` reaches (harmless: garbage a later clean-up may remove).
    public var unreferenced = 0
    /// Temporary files, relative to the layout: with `removeStale`, those removed as stale;
    /// else every one found (a live writer's included).
    public var staleTemporaries: [String] = []
    /// Corrupt, missing or misnamed blobs, unreadable documents, incomplete images.
    public var problems: [String] = []

    /// Whether the layout is whole: every blob matches its name and every entry is complete.
    public var isIntact: Bool { problems.isEmpty }
}

extension ImageLayout {
    /// Removes the temporary files that writers killed mid-write left in the layout (see
    /// `FileSystem.removeStaleTemporaries`); returns their paths relative to the layout.
    @discardableResult
    public func removeStaleTemporaries() -> [String] {
        FileSystem.removeStaleTemporaries(in: path)
            + FileSystem.removeStaleTemporaries(in: path + "/blobs/sha256").map { "blobs/sha256/" + $0 }
    }

    /// Every temporary file in the layout (a live writer's too), relative to it.
    public func temporaries() -> [String] {
        ["", "blobs/sha256/"].flatMap { relative in
            ((try? FileSystem.listDirectory(path + "/" + relative)) ?? [])
                .filter { $0.hasPrefix(FileSystem.temporaryPrefix) }.map { relative + $0 }
        }
    }

    /// Checks the whole layout: `oci-layout` and `index.json` parse; every file in `blobs/sha256`
    /// is named by a digest and hashes to it (read on `threads` threads at once); every entry of
    /// `index.json`, tagged or not, reaches only blobs that are present with the sizes their
    /// descriptors give. With `removeStale`, stale temporary files are removed first.
    public func check(removeStale: Bool = false, threads: Int = 2) -> LayoutCheck {
        var result = LayoutCheck()
        result.staleTemporaries = removeStale ? removeStaleTemporaries() : temporaries()
        let blobDirectory = path + "/blobs/sha256"
        var names: [String]
        do {
            names = try FileSystem.listDirectory(blobDirectory)
        } catch {
            result.problems.append("blobs/sha256: \(error)")
            names = []
        }
        // Live writers' temporaries (and stale ones, when not removed) are not blobs.
        names.removeAll { $0.hasPrefix(FileSystem.temporaryPrefix) }

        var present: [Digest: Int64] = [:]
        let outcomes = Self.hashAll(names.map { blobDirectory + "/" + $0 }, threads: threads)
        for (name, outcome) in zip(names, outcomes) {
            guard let digest = try? Digest(hex: name) else {
                result.problems.append("blobs/sha256/\(name): not named by a SHA-256 digest")
                continue
            }
            switch outcome {
            case .success(let (hex, size)):
                result.blobs += 1
                result.bytes += size
                present[digest] = size
                if hex != name { result.problems.append("blobs/sha256/\(name): corrupt, its bytes hash to sha256:\(hex)") }
            case .failure(let error):
                result.problems.append("blobs/sha256/\(name): unreadable (\(error))")
            }
        }

        let index: ImageIndex
        do {
            index = try self.index()
        } catch {
            result.problems.append("index.json: \(error)")
            return result
        }
        result.entries = index.manifests.count
        var reached: Set<Digest> = []
        for entry in index.manifests {
            let tag = entry.annotations?[Descriptor.refNameAnnotation]
            if tag != nil { result.tags += 1 }
            let name = tag.map { "tag '\($0)'" } ?? "untagged entry \(entry.digest)"
            do {
                for descriptor in try ImageGraph.reachable(from: entry, in: self) {
                    reached.insert(descriptor.digest)
                    guard let size = present[descriptor.digest] else {
                        result.problems.append("\(name): blob \(descriptor.digest) (\(descriptor.mediaType)) is missing")
                        continue
                    }
                    if size != descriptor.size {
                        result.problems.append("\(name): blob \(descriptor.digest) has \(size) bytes, its descriptor says \(descriptor.size)")
                    }
                }
            } catch {
                result.problems.append("\(name): \(error)")
            }
        }
        result.unreferenced = present.keys.filter { !reached.contains($0) }.count
        return result
    }

    /// The SHA-256 (hex) and size of each file, hashed on `threads` threads.
    private static func hashAll(_ paths: [String], threads: Int) -> [Result<(String, Int64), Error>] {
        concurrentMap(paths.count, threads: threads) { i in
            Result {
                // A symlink or device in blobs/ (to /dev/zero, say) is not read: it would never end.
                var st = stat()
                guard lstat(paths[i], &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    throw OCIError.invalidDocument(kind: "blob", reason: "not a regular file (never read)")
                }
                let sink = HashingSink()
                _ = try FileSource(path: paths[i]).pump(into: sink)
                try sink.finish()
                return (sink.hexDigest ?? "", sink.count)
            }
        }
    }
}
