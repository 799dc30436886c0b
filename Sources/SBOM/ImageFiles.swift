import Archive
import OCI

/// Questions about the files of an image's merged filesystem (layers applied in order, whiteouts
/// and opaque directories honoured, symlinks followed), answered without unpacking it.
public enum ImageFiles {
    /// Which of `paths` (absolute or relative) are regular files in the image, through any
    /// symlinks along the way; in the order given. A layer with a hostile entry is an error.
    public static func existing(_ paths: [String], manifest: Descriptor, in reader: BlobReader) throws -> [String] {
        let files = try merged(manifest, in: reader, contents: [])
        return paths.filter { files.resolve(relative($0)) != nil }
    }

    /// The contents of the regular file at `path`, or nil when there is none (symlinks along the
    /// way are followed; a symlink at `path` itself reads as empty).
    public static func contents(of path: String, manifest: Descriptor, in reader: BlobReader) throws -> [UInt8]? {
        let wanted = relative(path)
        let files = try merged(manifest, in: reader, contents: [wanted])
        return files.file(wanted)
    }

    private static func relative(_ path: String) -> String { path.hasPrefix("/") ? String(path.dropFirst()) : path }

    /// The merged layers: every file and symlink, with the contents of the files in `contents` only.
    private static func merged(_ manifest: Descriptor, in reader: BlobReader, contents: Set<String>) throws -> LayerFiles {
        var files = LayerFiles()
        files.wanted = { _, kind in kind == .regular || kind == .symlink || kind == .hardlink }
        files.keepsContents = { contents.contains($0) }
        files.refusesHazards = true
        let imageManifest = try reader.readDocument(ImageManifest.self, try ImageGraph.manifest(for: nil, under: manifest, in: reader),
                                                    kind: "image manifest")
        for layer in imageManifest.layers { try files.apply(layer: layer, from: reader) }
        return files
    }
}
