import Archive
import Foundation
import OCI
import Registry
import Testing
import TestSupport

// MARK: - Fixtures

/// A multi-platform image in a fresh layout: per platform a config and layers of the given
/// sizes (pseudo-random, so gzip-like incompressible), tagged `v1`.
struct TestImage {
    let dir: TemporaryDirectory
    let layout: ImageLayout
    let root: Descriptor

    init(layerSizes: [Int] = [200_000, 3_200_000], platforms: [String] = ["amd64", "arm64"], seed: UInt64 = 1,
         compression: Compression = .none) throws {
        dir = try TemporaryDirectory()
        layout = try ImageLayout.create(at: dir.path + "/layout")
        var manifests: [Descriptor] = []
        for (p, architecture) in platforms.enumerated() {
            var layers: [StoredLayer] = []
            for (i, size) in layerSizes.enumerated() {
                let bytes = pseudoRandomBytes(count: size, seed: seed &+ UInt64(p * 100 + i + 1))
                layers.append(try layout.writeLayer(compression: compression) { tar in
                    try tar.append(.file("data/\(architecture)-\(i).bin", size: Int64(bytes.count)), bytes: bytes)
                })
            }
            let config = ImageConfiguration(architecture: architecture, config: .init(User: "65532"), rootfs: .init(diffIDs: []))
            manifests.append(try layout.writeImage(config: config, layers: layers))
        }
        root = manifests.count == 1 ? manifests[0] : try layout.writeIndex(of: manifests)
        try layout.tag(root, as: "v1")
    }

    /// Every digest reachable from the root.
    var digests: Set<Digest> { Set((try? ImageGraph.reachable(from: root, in: layout))?.map(\.digest) ?? []) }
}

/// Options with small chunks (so a 3 MB layer goes up in four PATCHes) and quick retries.
func testOptions(credential: (String, String)? = nil, host: String? = nil, config: String? = nil) -> RegistryOptions {
    var options = RegistryOptions()
    options.monolithicLimit = 1 << 20
    options.chunkSize = 1 << 20
    options.retry = RetryPolicy(attempts: 5, initialDelay: .milliseconds(50), maximumDelay: .seconds(2))
    options.dockerConfig = DockerConfig(path: config ?? NSTemporaryDirectory() + "/harden-no-docker-config-\(UUID().uuidString)/config.json")
    if let (user, password) = credential, let host { options.credentials[host] = Credential(username: user, secret: password) }
    return options
}

func reference(_ host: String, _ path: String) throws -> RegistryReference { try RegistryReference(parsing: "\(host)/\(path)") }

/// Runs `body`; a failure is reported with the registry's log, which says what it saw.
func logging<T>(_ registry: TestRegistry, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch {
        throw TestSetupError(description: "\(error)\n--- registry log:\n\(registry.log().suffix(4000))")
    }
}

/// The error's text, or nil when `body` did not throw.
func errorText(_ body: () async throws -> Void) async -> String? {
    do { try await body(); return nil } catch { return "\(error)" }
}

// MARK: - Tests

@Suite("Registry client against docker-registry 2.8")
struct RegistryClientTests {
    @Test("push and pull a multi-arch image: identical digests for every blob, manifest and index")
    func roundTrip() async throws {
        let registry = try TestRegistry()
        let image = try TestImage()
        let target = try reference(registry.host, "hardened/app:v1")
        let pulled = try TemporaryDirectory()
        let into = try ImageLayout.create(at: pulled.path + "/layout")
        let (pushReport, pulledRoot, pullReport) = try await RegistrySession.with(testOptions()) { session in
            let pushed = try await session.push(image.root, from: image.layout, to: target)
            let (root, report) = try await session.pull(target, into: into, tag: "copy")
            return (pushed, root, report)
        }
        #expect(pushReport.blobsUploaded == 6)  // 2 configs + 4 layers
        #expect(pushReport.manifests == 3)
        #expect(pulledRoot.digest == image.root.digest)
        #expect(pulledRoot.mediaType == MediaType.imageIndex)
        #expect(pullReport.blobsDownloaded == 6)
        let copy = Set(try ImageGraph.reachable(from: pulledRoot, in: into).map(\.digest))
        #expect(copy == image.digests)
        #expect(try into.verifyBlobs(from: pulledRoot).blobs == 9)
        #expect(try into.resolve(tag: "copy").digest == image.root.digest)
        // The registry keeps the exact bytes: the stored blob files are byte-identical.
        for digest in image.digests {
            #expect(try FileSystem.read(into.blobPath(digest), limit: 8 << 20) == FileSystem.read(image.layout.blobPath(digest), limit: 8 << 20))
        }
    }

    @Test("pull with a platform takes only that manifest")
    func platformSelection() async throws {
        let registry = try TestRegistry()
        let image = try TestImage()
        let target = try reference(registry.host, "multi/app:v1")
        let arm = try ImageGraph.manifest(for: try Platform(parsing: "linux/arm64"), under: image.root, in: image.layout)
        let pulled = try TemporaryDirectory()
        let into = try ImageLayout.create(at: pulled.path + "/layout")
        let (root, report) = try await RegistrySession.with(testOptions()) { session in
            try await session.push(image.root, from: image.layout, to: target)
            return try await session.pull(target, into: into, tag: nil, platform: try Platform(parsing: "linux/arm64"))
        }
        #expect(root.digest == arm.digest)
        #expect(report.blobsDownloaded == 3)
        #expect(try into.verifyBlobs(from: root).blobs == 4)
        let error = await errorText {
            try await RegistrySession.with(testOptions()) { session in
                _ = try await session.pull(target, into: into, tag: nil, platform: try Platform(parsing: "linux/s390x"))
            }
        }
        #expect(error?.contains("linux/s390x") == true && error?.contains("linux/amd64") == true)
    }

    @Test("a pull for inspecting fetches manifests and configs, no layer")
    func configsOnly() async throws {
        let registry = try TestRegistry()
        let image = try TestImage()
        let target = try reference(registry.host, "inspect/app:v1")
        let pulled = try TemporaryDirectory()
        let into = try ImageLayout.create(at: pulled.path + "/layout")
        let (root, report) = try await RegistrySession.with(testOptions()) { session in
            try await session.push(image.root, from: image.layout, to: target)
            return try await session.pull(target, into: into, tag: nil, blobs: .configs)
        }
        #expect(report.blobsDownloaded == 2 && report.manifests == 3)
        for manifest in try ImageGraph.manifests(under: root, in: into) {
            let parsed = try into.readDocument(ImageManifest.self, manifest, kind: "manifest")
            #expect(into.hasBlob(parsed.config.digest))
            #expect(parsed.layers.allSatisfy { !into.hasBlob($0.digest) })
        }
        #expect(try ImageInspection.inspect(root, in: into, reference: target.description).text().contains("arm64"))
    }

    @Test("a second push uploads no blob (counted at a proxy): HEAD answers for each")
    func secondPushUploadsNothing() async throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let image = try TestImage()
        let target = try reference(proxy.host, "again/app:v1")
        let first = try await RegistrySession.with(testOptions()) { try await $0.push(image.root, from: image.layout, to: target) }
        #expect(first.blobsUploaded == 6)
        try proxy.clearLog()
        let second = try await RegistrySession.with(testOptions()) { try await $0.push(image.root, from: image.layout, to: target) }
        #expect(second.blobsUploaded == 0 && second.blobsSkipped == 6 && second.bytesSent == 0)
        let requests = try proxy.requests()
        #expect(!requests.contains { $0.target.contains("/blobs/uploads") })
        #expect(requests.filter { $0.method == "HEAD" && $0.target.contains("/blobs/") }.count == 6)
        #expect(requests.filter { $0.method == "PUT" }.count == 3)  // the manifests, whose bytes are sent again
        #expect(requests.reduce(0) { $0 + $1.bodyBytes } < 10_000)
    }

    @Test("skopeo inspects and copies what we push; we pull what skopeo pushed")
    func skopeoInterop() async throws {
        let registry = try TestRegistry()
        // gzip layers: skopeo compresses uncompressed layers on their way to a registry.
        let image = try TestImage(layerSizes: [300_000], compression: .gzip)
        let target = try reference(registry.host, "interop/ours:v1")
        try await RegistrySession.with(testOptions()) { _ = try await $0.push(image.root, from: image.layout, to: target) }

        let raw = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/interop/ours:v1"])
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(raw.stdout == (try image.layout.readBlob(image.root)))
        let dir = try TemporaryDirectory()
        try runChecked("skopeo", ["copy", "--all", "--src-tls-verify=false", "docker://\(registry.host)/interop/ours:v1", "oci:\(dir.path)/skopeo:v1"])
        let theirs = try ImageLayout(opening: dir.path + "/skopeo")
        #expect(try theirs.resolve(tag: "v1").digest == image.root.digest)
        #expect(try theirs.verifyBlobs(from: try theirs.resolve(tag: "v1")).blobs == 7)

        // skopeo pushes a (single-platform) image of its own making; we pull it back whole.
        let single = try TestImage(layerSizes: [150_000, 90_000], platforms: ["amd64"], seed: 7, compression: .gzip)
        try runChecked("skopeo", ["copy", "--dest-tls-verify=false", "oci:\(single.dir.path)/layout:v1", "docker://\(registry.host)/interop/theirs:v2"])
        let pulled = try TemporaryDirectory()
        let into = try ImageLayout.create(at: pulled.path + "/layout")
        let (root, _) = try await RegistrySession.with(testOptions()) {
            try await $0.pull(try reference(registry.host, "interop/theirs:v2"), into: into, tag: "v2")
        }
        #expect(root.digest == single.root.digest)
        #expect(try into.verifyBlobs(from: root).blobs == 4)
    }

    @Test("faults: 500, 429 and a connection dropped between chunks; the upload resumes from the registry's offset")
    func faultsResume() async throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let image = try TestImage(layerSizes: [3_200_000], platforms: ["amd64"])
        try proxy.setRules([
            .init(method: "HEAD", pathContains: "/blobs/", times: 1, action: .status(429, retryAfter: 1)),
            .init(method: "PATCH", times: 1, action: .status(500, retryAfter: nil)),
            .init(method: "PATCH", skip: 1, times: 1, action: .dropAfterBodyBytes(0)),
            .init(method: "PUT", pathContains: "/manifests/", times: 1, action: .status(503, retryAfter: nil)),
        ])
        let target = try reference(proxy.host, "faults/app:v1")
        let report = try await RegistrySession.with(testOptions()) { try await $0.push(image.root, from: image.layout, to: target) }
        #expect(report.resumed == 2)
        #expect(report.restarted == 0)
        let requests = try proxy.requests()
        let layer = try image.layout.readDocument(ImageManifest.self, image.root, kind: "manifest").layers[0]
        // One upload session for the layer (one POST per blob: the layer and the config), never started over.
        #expect(requests.filter { $0.method == "POST" }.count == 2)
        let patched = requests.filter { $0.method == "PATCH" && $0.status == 202 }.reduce(0) { $0 + $1.bodyBytes }
        #expect(patched == Int(layer.size))
        #expect(requests.contains { $0.method == "GET" && $0.target.contains("/blobs/uploads/") && $0.status == 204 })
        #expect(requests.contains { $0.action == "dropAfterBodyBytes" })
        // What arrived is right.
        try await expectPullsBack(image, from: try reference(registry.host, "faults/app:v1"))
    }

    @Test("a connection dropped mid-chunk: the registry forgets the upload and it starts over, still correct")
    func faultsRestart() async throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let image = try TestImage(layerSizes: [2_500_000], platforms: ["amd64"])
        try proxy.setRules([.init(method: "PATCH", skip: 1, times: 1, action: .dropAfterBodyBytes(300_000))])
        let target = try reference(proxy.host, "restart/app:v1")
        let report = try await RegistrySession.with(testOptions()) { try await $0.push(image.root, from: image.layout, to: target) }
        #expect(report.restarted == 1)
        try await expectPullsBack(image, from: try reference(registry.host, "restart/app:v1"))
    }

    @Test("no tag ever names an incomplete image: a manifest that cannot be pushed leaves the tag absent")
    func tagLast() async throws {
        let registry = try TestRegistry()
        let proxy = try FaultProxy(upstream: registry.host)
        let image = try TestImage(layerSizes: [100_000])
        let arm = try ImageGraph.manifest(for: try Platform(parsing: "linux/arm64"), under: image.root, in: image.layout)
        try proxy.setRules([.init(method: "PUT", pathContains: "/manifests/\(arm.digest)", times: 100, action: .status(500, retryAfter: nil))])
        let target = try reference(proxy.host, "partial/app:v1")
        let error = await errorText { try await RegistrySession.with(testOptions()) { _ = try await $0.push(image.root, from: image.layout, to: target) } }
        #expect(error?.contains("registry \(proxy.host): pushing manifest \(arm.digest)") == true, "\(error ?? "no error")")
        #expect(error?.contains("HTTP 500") == true)
        let tag = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/partial/app:v1"])
        #expect(tag.status != 0)
        // In a successful push, every blob and child manifest is acknowledged before the tag is written.
        try proxy.setRules([])
        try proxy.clearLog()
        try await RegistrySession.with(testOptions()) { _ = try await $0.push(image.root, from: image.layout, to: target) }
        let requests = try proxy.requests()
        let tagPut = try #require(requests.lastIndex { $0.method == "PUT" && $0.target.hasSuffix("/manifests/v1") })
        #expect(tagPut == requests.count - 1)
        #expect(requests.filter { $0.method == "PUT" && $0.target.contains("/manifests/sha256:") }.count == 2)
    }

    @Test("attachments: the sha256-<hex> referrers tag is merged, not replaced, and comes back on pull")
    func referrersFallback() async throws {
        let registry = try TestRegistry()
        let image = try TestImage(layerSizes: [50_000], platforms: ["amd64"])
        let sbom = try image.layout.writeBlob(Array(#"{"spdxVersion":"SPDX-2.3"}"#.utf8), mediaType: MediaType.spdxJSON)
        try image.layout.attach(sbom, artifactType: MediaType.spdxJSON, to: image.root)
        let target = try reference(registry.host, "attached/app:v1")
        let first = try await logging(registry) { try await RegistrySession.with(testOptions()) { try await $0.push(image.root, from: image.layout, to: target) } }
        #expect(first.attachments == 1 && !first.referrersAPI)

        // Someone else attaches another artifact to the same image and pushes: ours must stay.
        let other = try TemporaryDirectory()
        let theirs = try ImageLayout.create(at: other.path + "/layout")
        try theirs.copyImage(image.root, from: image.layout, tag: "v1")
        let note = try theirs.writeBlob(Array("reviewed".utf8), mediaType: "text/plain")
        try theirs.attach(note, artifactType: "application/vnd.example.review", to: image.root)
        _ = try await logging(registry) { try await RegistrySession.with(testOptions()) { try await $0.push(image.root, from: theirs, to: target) } }

        let pulled = try TemporaryDirectory()
        let into = try ImageLayout.create(at: pulled.path + "/layout")
        let (_, report) = try await RegistrySession.with(testOptions()) { try await $0.pull(target, into: into, tag: "v1") }
        #expect(report.attachments == 1)
        let types = Set(try into.referrers(of: image.root.digest).compactMap(\.artifactType))
        #expect(types == [MediaType.spdxJSON, "application/vnd.example.review"])
        let artifacts = try into.referrers(of: image.root.digest)
        for artifact in artifacts { #expect(try into.verifyBlobs(from: artifact).blobs == 3) }
    }
}

@Suite("Registry auth against docker-registry 2.8")
struct RegistryAuthTests {
    @Test("Basic auth: the right password pushes; a wrong one names the registry and the step; none asks for login")
    func basic() async throws {
        let registry = try TestRegistry(auth: .basic(user: "alice", password: "s3cret"))
        let image = try TestImage(layerSizes: [60_000], platforms: ["amd64"])
        let target = try reference(registry.host, "team/app:v1")
        try await RegistrySession.with(testOptions(credential: ("alice", "s3cret"), host: registry.host)) {
            _ = try await $0.push(image.root, from: image.layout, to: target)
        }
        let wrong = await errorText {
            try await RegistrySession.with(testOptions(credential: ("alice", "Not-The-Passw0rd"), host: registry.host)) {
                _ = try await $0.push(image.root, from: image.layout, to: target)
            }
        }
        #expect(wrong?.hasPrefix("registry \(registry.host): checking blob") == true, "\(wrong ?? "no error")")
        #expect(wrong?.contains("credentials refused") == true)
        #expect(wrong?.contains("Not-The-Passw0rd") == false)  // the password never appears
        let none = await errorText {
            try await RegistrySession.with(testOptions()) { _ = try await $0.manifest(for: target) }
        }
        #expect(none?.contains("harden login \(registry.host)") == true, "\(none ?? "no error")")
    }

    @Test("token auth: tokens cached per scope (a push buys one), refreshed after expiry")
    func token() async throws {
        let lifetime = 60  // long enough that a starved cooperative pool (tests blocking in waitpid) does not outlive two tokens in a row
        let registry = try TestRegistry(auth: .token(user: "bob", password: "hunter2", ttl: lifetime))
        let image = try TestImage(layerSizes: [60_000, 1_500_000], platforms: ["amd64", "arm64"])
        let target = try reference(registry.host, "team/app:v1")
        let options = testOptions(credential: ("bob", "hunter2"), host: registry.host)
        try await RegistrySession.with(options) { session in
            let began = ContinuousClock.now
            _ = try await session.push(image.root, from: image.layout, to: target)
            let afterPush = try await session.client(for: registry.host).tokensFetched()
            // One token for the whole push (four transfers at once), unless the push outlived it (a loaded machine).
            if ContinuousClock.now - began < .seconds(lifetime * 8 / 10) { #expect(afterPush == 1) }
            // Past the token's lifetime the next request buys a new one and succeeds.
            try await Task.sleep(for: .seconds(lifetime + 1))
            _ = try await session.manifest(for: target)
            // (More than one when a loaded machine delays the request past the fresh token's lifetime too.)
            #expect(try await session.client(for: registry.host).tokensFetched() > afterPush)
        }
        #expect(try registry.tokensIssued() >= 2)
        let wrong = await errorText {
            try await RegistrySession.with(testOptions(credential: ("bob", "nope"), host: registry.host)) { _ = try await $0.manifest(for: target) }
        }
        #expect(wrong?.contains("registry \(registry.host): fetching a token from \(registry.tokenServer ?? "?")") == true, "\(wrong ?? "no error")")
        #expect(wrong?.contains("the token server refused user bob") == true)
    }

    @Test("a blob download redirected to another origin follows without the Authorization header")
    func redirectDropsAuthorization() async throws {
        let bytes = pseudoRandomBytes(count: 70_000, seed: 3)
        let server = try RedirectingRegistry(user: "dave", password: "op3n-sesame", blob: bytes)
        let descriptor = Descriptor(mediaType: MediaType.layerTar, digest: Digest.of(bytes), size: Int64(bytes.count))
        let dir = try TemporaryDirectory()
        let layout = try ImageLayout.create(at: dir.path + "/layout")
        try await RegistrySession.with(testOptions(credential: ("dave", "op3n-sesame"), host: server.host)) { session in
            try await session.client(for: server.host).pullBlob(descriptor, from: "team/app", into: layout)
        }
        #expect(try layout.readBlob(descriptor) == bytes)
        let requests = try server.requests()
        let front = requests.filter { $0.port != server.storagePort }
        let storage = requests.filter { $0.port == server.storagePort }
        #expect(front.contains { $0.status == 307 && $0.authorization })
        #expect(storage.count == 1)
        #expect(storage.allSatisfy { !$0.authorization })
    }

    @Test("an identity token (Docker's identitytoken) buys access tokens with the OAuth2 refresh grant")
    func identityToken() async throws {
        let lifetime = 600
        let registry = try TestRegistry(auth: .token(user: "erin", password: "pw-erin", ttl: lifetime))
        let server = try #require(registry.tokenServer)
        let answer = try runChecked("curl", ["-s", "-X", "POST", "--data",
                                             "grant_type=password&username=erin&password=pw-erin&access_type=offline&service=harden-registry&client_id=test",
                                             server + "/token"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
        let refresh = try #require(json["refresh_token"] as? String)
        let dir = try TemporaryDirectory()
        try dir.write("config.json", Array(#"{"auths":{"\#(registry.host)":{"identitytoken":"\#(refresh)"}}}"#.utf8))
        let image = try TestImage(layerSizes: [30_000], platforms: ["amd64"])
        let target = try reference(registry.host, "team/app:v1")
        let before = try registry.tokensIssued()
        let began = ContinuousClock.now
        try await RegistrySession.with(testOptions(config: dir.path + "/config.json")) {
            _ = try await $0.push(image.root, from: image.layout, to: target)
        }
        // One token for the push, unless a loaded machine made the push outlive it.
        let issued = try registry.tokensIssued() - before
        #expect(issued >= 1)
        if ContinuousClock.now - began < .seconds(lifetime * 8 / 10) { #expect(issued == 1, "\(registry.log())") }
        #expect(registry.log().contains("refresh_token"))
        try dir.write("config.json", Array(#"{"auths":{"\#(registry.host)":{"identitytoken":"not-a-refresh-token"}}}"#.utf8))
        let refused = await errorText {
            try await RegistrySession.with(testOptions(config: dir.path + "/config.json")) { _ = try await $0.manifest(for: target) }
        }
        #expect(refused?.contains("the token server refused") == true, "\(refused ?? "no error")")
    }

    @Test("an expired token is refused with a clear error")
    func expiredToken() async throws {
        let registry = try TestRegistry(auth: .token(user: "bob", password: "hunter2", ttl: -30))
        let target = try reference(registry.host, "team/app:v1")
        let error = await errorText {
            try await RegistrySession.with(testOptions(credential: ("bob", "hunter2"), host: registry.host)) { _ = try await $0.manifest(for: target) }
        }
        #expect(error?.contains("registry \(registry.host): fetching manifest team/app:v1") == true, "\(error ?? "no error")")
        #expect(error?.contains("refused the token") == true)
    }

    @Test("an unknown repository or tag gives an error naming it")
    func unknownRepository() async throws {
        let registry = try TestRegistry()
        let error = await errorText {
            try await RegistrySession.with(testOptions()) { _ = try await $0.manifest(for: try reference(registry.host, "no/such:tag")) }
        }
        #expect(error?.contains("registry \(registry.host): fetching manifest no/such:tag") == true, "\(error ?? "no error")")
        #expect(error?.contains("NAME_UNKNOWN") == true || error?.contains("MANIFEST_UNKNOWN") == true)
    }

    @Test("TLS: verified with the given CA; refused without it (no silent fallback to HTTP)")
    func tls() async throws {
        let registry = try TestRegistry(tls: true)
        let image = try TestImage(layerSizes: [40_000], platforms: ["amd64"])
        let target = try reference(registry.host.replacingOccurrences(of: "127.0.0.1", with: "localhost"), "secure/app:v1")
        var options = testOptions()
        options.caCertificates = [try #require(registry.caCertificatePath)]
        try await RegistrySession.with(options) { _ = try await $0.push(image.root, from: image.layout, to: target) }
        let untrusted = await errorText {
            try await RegistrySession.with(testOptions()) { _ = try await $0.manifest(for: target) }
        }
        #expect(untrusted?.contains("TLS failed") == true, "\(untrusted ?? "no error")")
    }
}

extension RegistrySession {
    /// The manifest a reference names (tests' shorthand).
    func manifest(for reference: RegistryReference) async throws -> FetchedManifest {
        try await client(for: reference.registry).manifest(reference.reference, in: reference.repository)
    }
}

/// Pulls `reference` into a fresh layout and checks it is `image`, byte for byte.
func expectPullsBack(_ image: TestImage, from reference: RegistryReference) async throws {
    let pulled = try TemporaryDirectory()
    let into = try ImageLayout.create(at: pulled.path + "/layout")
    let (root, _) = try await RegistrySession.with(testOptions()) { try await $0.pull(reference, into: into, tag: nil) }
    #expect(root.digest == image.root.digest)
    #expect(Set(try ImageGraph.reachable(from: root, in: into).map(\.digest)) == image.digests)
    _ = try into.verifyBlobs(from: root)
}
