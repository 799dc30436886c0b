import Archive
import ArgumentParser
import Foundation
import ImageBuild
import OCI
import Registry

/// Flags every command that may talk to a registry takes.
struct RegistryFlags: ParsableArguments {
    @Option(name: .customLong("insecure-registry"), help: "Allow plain HTTP to this registry host[:port] when it does not speak TLS (repeatable; loopback always may).")
    var insecureRegistries: [String] = []

    @Option(name: .customLong("registry-ca"), help: "Trust this CA certificate (PEM) for registry TLS, besides the system's (repeatable).")
    var registryCAs: [String] = []

    var options: RegistryOptions {
        var options = RegistryOptions()
        options.insecureHosts = Set(insecureRegistries)
        options.caCertificates = registryCAs
        return options
    }
}

/// Progress of a transfer on standard error, redrawn in place on a terminal; silent otherwise.
func withTransferProgress<T: Sendable>(_ verb: String, _ body: (TransferProgress) async throws -> T) async throws -> T {
    let progress = TransferProgress()
    guard isatty(2) == 1 else { return try await body(progress) }
    let drawer = Task {
        while true {
            try? await Task.sleep(for: .milliseconds(250))
            if Task.isCancelled { return }
            let s = progress.snapshot
            guard s.blobs > 0 else { continue }
            FileHandle.standardError.write(Data("\r\u{1B}[K  \(verb) \(s.blobsDone)/\(s.blobs) blobs, \(formatBytes(s.bytesDone)) of \(formatBytes(s.bytes))".utf8))
        }
    }
    // The line is cleared only once the drawer has stopped, so nothing is drawn after it.
    func stop() async {
        drawer.cancel()
        await drawer.value
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
    do {
        let result = try await body(progress)
        await stop()
        return result
    } catch {
        await stop()
        throw error
    }
}

/// One line on what a transfer did.
func summary(_ report: TransferReport) -> String {
    let moved = [report.bytesSent > 0 || report.blobsUploaded > 0 ? "\(formatBytes(report.bytesSent)) sent" : nil,
                 report.blobsDownloaded > 0 ? "\(formatBytes(report.bytesReceived)) received" : nil].compactMap { $0 }
    var parts = ["\(report.blobsUploaded + report.blobsDownloaded) blobs moved" + (moved.isEmpty ? "" : " (\(moved.joined(separator: ", ")))"),
                 "\(report.blobsSkipped) already there"]
    if report.blobsMounted > 0 { parts.append("\(report.blobsMounted) mounted") }
    parts.append("\(report.manifests) manifests")
    if report.attachments > 0 { parts.append("\(report.attachments) attachment sets (\(report.referrersAPI ? "referrers API" : "sha256-<digest> tags"))") }
    if report.resumed > 0 || report.restarted > 0 { parts.append("\(report.resumed) resumed, \(report.restarted) restarted uploads") }
    return parts.joined(separator: ", ")
}

/// Opens any image reference, pulling registry images (with their attachments; `blobs` may
/// leave out the layers) into a temporary layout; a bare NAME:TAG that the local store holds is
/// taken from there.
func openImage(_ text: String, registry: RegistryFlags = RegistryFlags(), platform: Platform? = nil,
               blobs: RegistrySession.BlobSelection = .all) async throws -> OpenedImage {
    if let store = try storeHolding(text) { return try LocalImages.open(.layout(path: store.path, tag: text)) }
    let reference = try ImageReference(parsing: text)
    guard case .registry(let remote) = reference else { return try LocalImages.open(reference) }
    let scratch = try FileSystem.makeTemporaryDirectory(prefix: "harden-pull")
    do {
        let layout = try ImageLayout.create(at: scratch + "/layout")
        let (root, _) = try await RegistrySession.with(registry.options) { session in
            try await withTransferProgress("pulling") { progress in
                try await session.pull(remote, into: layout, tag: nil, platform: platform, blobs: blobs, progress: progress)
            }
        }
        return OpenedImage(layout: layout, root: root, temporaryDirectory: scratch)
    } catch {
        try? FileSystem.remove(scratch)
        throw error
    }
}

/// Copies an image between any two transports, attachments included where the destination
/// can hold them. Returns the root digest and, for registry legs, what the transfer did.
func copyImage(from source: ImageReference, to destination: ImageReference, registry: RegistryFlags,
               platform: Platform?) async throws -> (digest: Digest, report: TransferReport?) {
    switch (source, destination) {
    case (.registry(let remote), .layout(let path, let tag)):
        // Straight into the destination layout: verified blobs, the tag written last.
        let layout = try ImageLayout.create(at: path)
        let (root, report) = try await RegistrySession.with(registry.options) { session in
            try await withTransferProgress("pulling") { try await session.pull(remote, into: layout, tag: tag, platform: platform, progress: $0) }
        }
        return (root.digest, report)
    case (.registry(let from), .registry(let remote)):
        let (root, report) = try await RegistrySession.with(registry.options) { session in
            try await withTransferProgress("copying") { try await session.copy(from, to: remote, platform: platform, progress: $0) }
        }
        return (root.digest, report)
    case (_, .registry(let remote)):
        let opened = try await openImage(source.description, registry: registry, platform: platform)
        let report = try await RegistrySession.with(registry.options) { session in
            try await withTransferProgress("pushing") { try await session.push(opened.root, from: opened.layout, to: remote, progress: $0) }
        }
        return (opened.root.digest, report)
    default:
        let opened = try await openImage(source.description, registry: registry, platform: platform)
        try LocalImages.store(opened.root, from: opened.layout, to: destination, platform: platform)
        return (opened.root.digest, nil)
    }
}

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push an image, with its signatures, attestations and SBOMs, to a registry.",
        discussion: """
        Blobs the registry already has are skipped (a second push sends none); the rest go up in
        parallel, large ones in chunks that resume after a dropped connection. Manifests go up
        children first and the tag last, so the tag never names an incomplete image. What is
        attached to the image goes too: referrers (the referrers API when the registry has it,
        else the sha256-<digest> tag) and cosign's sha256-<digest>.sig/.att tags, so cosign,
        trivy and grype find the signatures.

        Credentials come from the Docker config (~/.docker/config.json, or $DOCKER_CONFIG): auths,
        credsStore and credHelpers; 'harden login' writes them there.

        Examples:
          harden push python:latest registry.example.com/hardened/python:3.11
          harden push oci:out/base:latest localhost:5000/base:latest
          harden push oci-archive:app.tar ghcr.io/acme/app:1.0
        """
    )

    @Argument(help: "The image: NAME:TAG in the local store, oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE.")
    var source: String

    @Argument(help: "Where to: REGISTRY/REPOSITORY[:TAG].")
    var destination: String

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        guard case .registry = try ImageReference(parsing: destination) else {
            throw ValidationError("the destination must be a registry reference (REGISTRY/REPOSITORY[:TAG]); for local copies use 'harden copy'")
        }
        let from = try sourceReference(source)
        if case .registry = from, !source.contains("/") {
            throw CLIError("\(source) is not in the local store (see 'harden images'); name a registry image in full, e.g. docker.io/library/\(source)")
        }
        let (digest, report) = try await copyImage(from: from, to: try ImageReference(parsing: destination), registry: registry, platform: nil)
        print("\(digest)  \(destination)")
        if let report { note(summary(report)) }
    }
}

struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image, with its signatures, attestations and SBOMs, from a registry.",
        discussion: """
        Every manifest and blob is checked against its digest before it is stored; the tag is
        written last. An index comes whole, or with --platform only the manifest for it.
        Without a destination the image goes to the local store under its repository's last
        name and tag (see 'harden images').

        Examples:
          harden pull registry.example.com/hardened/python:3.11
          harden pull localhost:5000/base:latest oci:out/base:latest
          harden pull --platform linux/arm64 ghcr.io/acme/app@sha256:... oci-archive:app-arm64.tar
        """
    )

    @Argument(help: "The image: REGISTRY/REPOSITORY[:TAG|@DIGEST].")
    var source: String

    @Argument(help: "Where to (default: the local store): oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE.")
    var destination: String?

    @Option(help: "Only this platform of a multi-platform index (os/arch[/variant]).")
    var platform: String?

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        guard case .registry(let remote) = try ImageReference(parsing: source) else {
            throw ValidationError("the source must be a registry reference (REGISTRY/REPOSITORY[:TAG|@DIGEST]); for local copies use 'harden copy'")
        }
        let target: ImageReference
        if let destination {
            target = try ImageReference(parsing: destination)
        } else {
            let name = String(remote.repository.split(separator: "/").last ?? "image") + ":" + (remote.tag ?? "latest")
            target = .layout(path: try LocalStore.open().path, tag: name)
        }
        let (digest, report) = try await copyImage(from: .registry(remote), to: target, registry: registry,
                                                   platform: try platform.map { try Platform(parsing: $0) })
        print("\(digest)  \(target)")
        if let report { note(summary(report)) }
    }
}

/// A source reference; a bare NAME:TAG held by the local store names it there.
func sourceReference(_ text: String) throws -> ImageReference {
    if let store = try storeHolding(text) { return .layout(path: store.path, tag: text) }
    return try ImageReference(parsing: text)
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check credentials against a registry and save them in the Docker config.",
        discussion: """
        The credentials are tried first (a token is fetched, or /v2/ answered with Basic auth);
        only working ones are saved: in the credential helper the Docker config names
        (credsStore, credHelpers), else base64 in its 'auths' (the file is written mode 0600).
        The password is read from standard input with --password-stdin, else from a no-echo prompt;
        it is never taken from the command line.

        Examples:
          echo "$TOKEN" | harden login ghcr.io -u octocat --password-stdin
          harden login localhost:5000 -u admin
        """
    )

    @Argument(help: "The registry host[:port].")
    var server: String

    @Option(name: .shortAndLong, help: "User name.")
    var username: String

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    @OptionGroup var registry: RegistryFlags

    func run() async throws {
        let password: String
        if passwordStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        } else {
            guard isatty(0) == 1 else { throw ValidationError("no terminal to ask for the password: use --password-stdin") }
            guard let typed = getpass("Password for \(username)@\(server): ") else { throw CLIError("could not read the password") }
            password = String(cString: typed)
        }
        guard !password.isEmpty else { throw ValidationError("empty password") }
        let host = RegistryReference.normalizedRegistry(server)
        let credential = Credential(username: username, secret: password)
        var options = registry.options
        options.credentials[host] = credential
        try await RegistrySession.with(options) { session in
            try await session.client(for: host).checkCredentials()
        }
        let place = try options.dockerConfig.store(credential, for: host)
        print("Login succeeded: \(username) at \(host) (saved in \(place))")
    }
}

struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Remove a registry's saved credentials from the Docker config.")

    @Argument(help: "The registry host[:port].")
    var server: String

    func run() throws {
        let host = RegistryReference.normalizedRegistry(server)
        let config = DockerConfig()
        if try config.erase(for: host) {
            print("Removed the credentials for \(host) from \(config.path)")
        } else {
            print("No credentials for \(host) in \(config.path)")
        }
    }
}
