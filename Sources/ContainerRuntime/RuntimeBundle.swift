import Archive
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// An OCI runtime bundle made from an image: `rootfs/` and `config.json` in one directory.
///
/// The directory is made mode 0700, so that host users cannot reach the image's setuid programs
/// through it. The root file system is shared, read-only, by every container run from the bundle.
public struct RuntimeBundle: Sendable {
    /// The bundle directory (absolute) with `rootfs/` and `config.json`.
    public let path: String
    /// The image's runtime defaults (`User`, `Env`, `Entrypoint`, `Cmd`, `WorkingDir`).
    public let imageConfig: ImageConfiguration.Container
    /// The identity processes run with, resolved from `User` against the rootfs.
    public let user: ResolvedUser
    /// The `config.json` written in the bundle, whose process is the image's Entrypoint + Cmd.
    public let spec: RuntimeSpec

    /// The root file system directory.
    public var rootfs: String { path + "/rootfs" }

    /// Entrypoint followed by Cmd: what the image runs by default (empty when it declares neither).
    public var defaultCommand: [String] { (imageConfig.Entrypoint ?? []) + (imageConfig.Cmd ?? []) }

    /// Unpacks the image `manifest` (layers in order, whiteouts `.wh.*` and opaque `.wh..wh..opq` applied, every
    /// blob verified through the BlobReader, hostile tar entries refused) into `directory`/rootfs and writes config.json.
    ///
    /// `directory` is created; it must not hold a rootfs already. An index with a single image is
    /// accepted in place of its manifest. Each layer's uncompressed digest is checked against the
    /// config's `diff_ids`. On failure the directory is removed again.
    public static func create(manifest: Descriptor, from reader: BlobReader, at directory: String) throws -> RuntimeBundle {
        let path = try absolutePath(directory)
        let existed = FileSystem.exists(path)
        if existed && FileSystem.exists(path + "/rootfs") {
            throw RuntimeError.invalidImage("'\(path)' already holds a rootfs; choose a new directory")
        }
        do {
            try wrapErrors {
                try FileSystem.createDirectory(path)
                try FileSystem.createDirectory(path + "/rootfs")
            }
            if chmod(path, 0o700) != 0 { throw RuntimeError.io(path: path, operation: "chmod", errno: errno) }
            if chmod(path + "/rootfs", 0o755) != 0 { throw RuntimeError.io(path: path + "/rootfs", operation: "chmod", errno: errno) }
            return try build(manifest: manifest, reader: reader, path: path)
        } catch {
            if existed {
                try? FileSystem.remove(path + "/rootfs")
                try? FileSystem.remove(path + "/config.json")
            } else {
                try? FileSystem.remove(path)
            }
            throw error
        }
    }

    private static func build(manifest descriptor: Descriptor, reader: BlobReader, path: String) throws -> RuntimeBundle {
        let manifestDescriptor = try wrapErrors { try ImageGraph.manifest(for: nil, under: descriptor, in: reader) }
        let manifest = try wrapErrors { try reader.readDocument(ImageManifest.self, manifestDescriptor, kind: "image manifest") }
        guard manifest.config.mediaType == MediaType.imageConfig || manifest.config.mediaType == MediaType.dockerConfig else {
            throw RuntimeError.invalidImage("manifest \(manifestDescriptor.digest) is not a container image (config type \(manifest.config.mediaType))")
        }
        let config = try wrapErrors { try reader.readDocument(ImageConfiguration.self, manifest.config, kind: "image config") }
        guard config.os == "linux" else {
            throw RuntimeError.invalidImage("the image is for '\(config.os)'; runc runs linux images")
        }
        let diffIDs = config.rootfs.diff_ids
        guard diffIDs.count == manifest.layers.count else {
            throw RuntimeError.invalidImage("the config lists \(diffIDs.count) diff_ids for \(manifest.layers.count) layers")
        }

        let rootfs = path + "/rootfs"
        var unpacker = LayerUnpacker(root: rootfs)
        for (layer, diffID) in zip(manifest.layers, diffIDs) {
            try apply(layer, diffID: diffID, reader: reader, unpacker: &unpacker)
        }
        unpacker.finish()

        let imageConfig = config.config ?? ImageConfiguration.Container()
        let root = RootPath(root: rootfs)
        // Mount points runc would otherwise create in the shared rootfs at every start.
        for mountPoint in ["proc", "dev", "sys", "tmp"] { try root.ensureDirectory(mountPoint) }
        var cwd = imageConfig.WorkingDir.map { $0.trimmingWhitespace() } ?? ""
        if cwd.isEmpty { cwd = "/" }
        if !cwd.hasPrefix("/") { cwd = "/" + cwd }
        try root.ensureDirectory(cwd)

        let passwd = try root.readFile("/etc/passwd").map { String(decoding: $0, as: UTF8.self) }
        let group = try root.readFile("/etc/group").map { String(decoding: $0, as: UTF8.self) }
        let user = try ResolvedUser.resolve(imageConfig.User ?? "", passwd: passwd, group: group)

        var env = (imageConfig.Env ?? []).filter { $0.contains("=") && !$0.hasPrefix("=") }
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.insert("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0)
        }
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=" + user.home) }
        if !env.contains(where: { $0.hasPrefix("HOSTNAME=") }) { env.append("HOSTNAME=harden-test") }

        let defaultCommand = (imageConfig.Entrypoint ?? []) + (imageConfig.Cmd ?? [])
        let spec = RuntimeSpec.locked(args: defaultCommand, env: env, cwd: cwd, user: user, rootPath: rootfs)
        let bytes = try wrapErrors { try CanonicalJSON.encode(spec) }
        try wrapErrors { try FileSystem.writeAtomically(path + "/config.json", bytes: bytes, mode: 0o600) }
        return RuntimeBundle(path: path, imageConfig: imageConfig, user: user, spec: spec)
    }

    /// Streams one layer blob (verified) through its decompressor into the unpacker and checks its diff ID.
    private static func apply(_ layer: Descriptor, diffID: Digest, reader: BlobReader, unpacker: inout LayerUnpacker) throws {
        guard MediaType.layerCompression(layer.mediaType) != nil else {
            throw RuntimeError.invalidImage("layer \(layer.digest) has media type '\(layer.mediaType)', which is not a tar layer")
        }
        let blob = PeekableSource(try wrapErrors { try reader.openBlob(layer) })
        let compression = Compression.detect(try wrapErrors { try blob.peek(6) })
        let tar = HashingSource(try wrapErrors { try compression.decompressing(blob) })
        try unpacker.apply(tar, layer: layer.digest.short)
        try wrapErrors {
            // Read to the very end: the tar's trailing padding counts in the diff ID, and the
            // blob's digest is only checked once all of its bytes have been read.
            try tar.skipToEnd()
            try blob.skipToEnd()
        }
        let actual = "sha256:" + tar.hexDigest()
        guard actual == diffID.description else {
            throw RuntimeError.diffIDMismatch(layer: layer.digest.short, expected: diffID.description, actual: actual)
        }
    }

    /// A copy of `spec` running `args` instead of the image's default command, on the rootfs at its absolute path.
    public func spec(running args: [String]) -> RuntimeSpec {
        var copy = spec
        copy.process.args = args
        return copy
    }

    /// Deletes the bundle directory.
    public func remove() throws {
        try wrapErrors { try FileSystem.remove(path) }
    }

    static func absolutePath(_ path: String) throws -> String {
        var clean = path
        while clean.count > 1 && clean.hasSuffix("/") { clean.removeLast() }
        if clean.hasPrefix("/") { return clean }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else {
            throw RuntimeError.io(path: path, operation: "getcwd", errno: errno)
        }
        let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (cwd == "/" ? "" : cwd) + "/" + clean
    }
}

extension ByteSource {
    /// Reads and discards everything left in the stream.
    func skipToEnd() throws {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while try buffer.withUnsafeMutableBytes({ try read(into: $0) }) > 0 {}
    }
}
