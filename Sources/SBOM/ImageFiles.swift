import Archive
import OCI

/// Questions about the files of an image's merged filesystem (layers applied in order, whiteouts
/// and opaque directories honoured, symlinks followed), answered without unpacking it.
public enum ImageFiles {
    /// Which of `paths` (absolute or relative) are regular files in the image, through any
    /// symlinks along the way; in the order given.
    public static func existing(_ paths: [String], manifest: Descriptor, in reader: BlobReader) throws -> [String] {
        let clean = paths.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
        // Every file's presence and every symlink (a path may lead through any of them), no contents.
        var files = LayerFiles()
        files.wanted = { _, kind in kind == .regular || kind == .symlink || kind == .hardlink }
        files.keepsContents = false
        let imageManifest = try reader.readDocument(ImageManifest.self, try ImageGraph.manifest(for: nil, under: manifest, in: reader),
                                                    kind: "image manifest")
        for layer in imageManifest.layers { try files.apply(layer: layer, from: reader) }
        return zip(paths, clean).compactMap { original, path in files.resolve(path) != nil ? original : nil }
    }
}
