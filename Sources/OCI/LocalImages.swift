import Archive
import Foundation

/// An image opened from a local transport. An oci-archive is unpacked (verified) into a
/// temporary layout; a docker-archive with uncompressed layers is read where it lies, and
/// imported into a temporary layout only when `layout` is asked for. Temporary layouts are
/// removed when this value is released.
public final class OpenedImage: @unchecked Sendable {
    /// The image's top descriptor: a manifest or an index.
    public let root: Descriptor
    /// Reads the image's blobs, verified: from its layout, or from the archive itself.
    public let reader: BlobReader
    private let importer: (@Sendable (String) throws -> ImageLayout)?
    private let lock = NSLock()
    private var stored: ImageLayout?
    private var temporaryDirectory: String?

    /// `temporaryDirectory`, when given, is removed with this value.
    public init(layout: ImageLayout, root: Descriptor, temporaryDirectory: String?) {
        self.root = root
        reader = layout
        stored = layout
        importer = nil
        self.temporaryDirectory = temporaryDirectory
    }

    /// An image read in place by `reader`; `importer` copies it into a new layout at the path it
    /// is given, when `layout` is first asked for.
    init(reader: BlobReader, root: Descriptor, importer: @escaping @Sendable (String) throws -> ImageLayout) {
        self.root = root
        self.reader = reader
        self.importer = importer
    }

    /// The layout holding the image (for an archive read in place, imported on first use).
    public var layout: ImageLayout {
        get throws {
            try lock.withLock {
                if let stored { return stored }
                guard let importer else { throw OCIError.notFound("a layout for \(root.digest)") }
                let scratch = try wrapArchive { try FileSystem.makeTemporaryDirectory(prefix: "harden-import") }
                temporaryDirectory = scratch
                let layout = try importer(scratch + "/layout")
                stored = layout
                return layout
            }
        }
    }

    /// The layout, only when the image is in one already (nothing is imported).
    public var existingLayout: ImageLayout? { lock.withLock { stored } }

    deinit { if let temporaryDirectory { try? FileSystem.remove(temporaryDirectory) } }
}

/// Reading and writing images through the local transports (`oci:`, `oci-archive:`, `docker-archive:`).
public enum LocalImages {
    /// Opens the image at `reference`.
    public static func open(_ reference: ImageReference) throws -> OpenedImage {
        switch reference {
        case .layout(let path, let tag):
            let layout = try ImageLayout(opening: path)
            return OpenedImage(layout: layout, root: try layout.resolve(tag: tag), temporaryDirectory: nil)
        case .ociArchive(let path, let tag):
            guard FileSystem.exists(path) else { throw OCIError.notFound("archive \(path)") }
            let scratch = try wrapArchive { try FileSystem.makeTemporaryDirectory(prefix: "harden-oci-archive") }
            do {
                let layout = try OCIArchive.extract(path, into: scratch + "/layout")
                return OpenedImage(layout: layout, root: try layout.resolve(tag: tag), temporaryDirectory: scratch)
            } catch {
                try? FileSystem.remove(scratch)
                throw error
            }
        case .dockerArchive(let path, let name):
            guard FileSystem.exists(path) else { throw OCIError.notFound("archive \(path)") }
            if let (reader, manifest) = try DockerArchive.openInPlace(path, name: name) {
                return OpenedImage(reader: reader, root: manifest) { directory in
                    let layout = try ImageLayout.create(at: directory)
                    _ = try DockerArchive.importImage(from: path, name: name, into: layout)
                    return layout
                }
            }
            let scratch = try wrapArchive { try FileSystem.makeTemporaryDirectory(prefix: "harden-docker-archive") }
            do {
                let layout = try ImageLayout.create(at: scratch + "/layout")
                let root = try DockerArchive.importImage(from: path, name: name, into: layout)
                return OpenedImage(layout: layout, root: root, temporaryDirectory: scratch)
            } catch {
                try? FileSystem.remove(scratch)
                throw error
            }
        case .registry(let registry):
            throw OCIError.notFound("\(registry): a registry image is opened through the Registry module (harden pull)")
        }
    }

    /// Writes the image `root` (with its blobs from `source`) to `destination`. A docker-archive
    /// holds one platform: `platform` picks it from an index. From a layout, what is attached to
    /// the image (SBOMs, signatures, attestations) goes with it to layouts and oci-archives.
    public static func store(_ root: Descriptor, from source: BlobReader, to destination: ImageReference, platform: Platform? = nil) throws {
        switch destination {
        case .layout(let path, let tag):
            let target = try ImageLayout.create(at: path)
            try target.copyImage(root, from: source, tag: tag)
            if let layout = source as? ImageLayout { try target.copyAttachments(of: root, from: layout) }
        case .ociArchive(let path, let tag):
            let attached = try (source as? ImageLayout)?.attachmentTags(of: root).map { ($0.descriptor, Optional($0.name)) } ?? []
            try OCIArchive.write([(root, tag)] + attached, from: source, to: path)
        case .dockerArchive(let path, let name):
            let manifest = try ImageGraph.manifest(for: platform, under: root, in: source)
            let tags = try name.map { [try RegistryReference(parsing: $0).familiarName] } ?? []
            try DockerArchive.write(manifest, from: source, repoTags: tags, to: path)
        case .registry(let registry):
            throw OCIError.notFound("\(registry): a registry image is written through the Registry module (harden push)")
        }
    }
}

extension RegistryReference {
    /// The short form Docker shows (`nginx:latest`, `registry.example/team/app:1`).
    public var familiarName: String {
        var name = repository
        if registry == Self.defaultRegistry {
            if name.hasPrefix("library/") { name.removeFirst(8) }
        } else {
            name = registry + "/" + name
        }
        return name + ":" + (tag ?? "latest")
    }
}
