import Foundation
import OCI
import Testing

@Suite struct DigestTests {
    @Test func validDigestsParse() throws {
        let hex = String(repeating: "ab", count: 32)
        let digest = try Digest("sha256:" + hex)
        #expect(digest.hex == hex)
        #expect(digest.description == "sha256:" + hex)
        #expect(digest.short == String(hex.prefix(12)))
        #expect(Digest.of(Array("{}".utf8)).description == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    }

    @Test(arguments: [
        "", "sha256:", "sha256:abc", "sha512:" + String(repeating: "a", count: 64),
        "sha256:" + String(repeating: "A", count: 64), "sha256:" + String(repeating: "g", count: 64),
        "sha256:" + String(repeating: "a", count: 65), String(repeating: "a", count: 64),
    ])
    func invalidDigestsAreRefused(text: String) {
        #expect(throws: OCIError.invalidDigest(text)) { try Digest(text) }
    }

    @Test func invalidDigestInsideADocumentNamesIt() {
        let json = #"{"mediaType":"x","digest":"sha256:XYZ","size":1}"#
        #expect(throws: OCIError.invalidDocument(kind: "descriptor", reason: "invalid digest 'sha256:XYZ': expected sha256: and 64 lowercase hex digits")) {
            try CanonicalJSON.decode(Descriptor.self, from: Array(json.utf8), kind: "descriptor")
        }
    }
}

@Suite struct CanonicalJSONTests {
    @Test func keysAreSortedAndSlashesUnescaped() throws {
        let descriptor = Descriptor(mediaType: MediaType.layerGzip, digest: Digest.of([1]), size: 1,
                                    annotations: ["z": "a/b", "a": "x"])
        let text = String(decoding: try CanonicalJSON.encode(descriptor), as: UTF8.self)
        #expect(text == #"{"annotations":{"a":"x","z":"a/b"},"digest":"\#(Digest.of([1]))","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1}"#)
    }

    /// Keys sort by UTF-8 bytes (not case-insensitively or numerically), whatever the toolchain does.
    @Test func keysSortByBytes() throws {
        let text = String(decoding: try CanonicalJSON.encode(["B": 1, "a": 1, "x9": 1, "x10": 1, "Z": 1, "_": 1]), as: UTF8.self)
        #expect(text == #"{"B":1,"Z":1,"_":1,"a":1,"x10":1,"x9":1}"#)
    }

    @Test func manifestRoundTripsToTheSameBytes() throws {
        let config = Descriptor(mediaType: MediaType.imageConfig, digest: Digest.of([2]), size: 10)
        let manifest = ImageManifest(config: config, layers: [config], annotations: ["k": "v"], subject: config, artifactType: "application/x")
        let bytes = try CanonicalJSON.encode(manifest)
        let back = try CanonicalJSON.decode(ImageManifest.self, from: bytes, kind: "manifest")
        #expect(back == manifest)
        #expect(try CanonicalJSON.encode(back) == bytes)
    }

    @Test func malformedDocumentsGiveClearErrors() {
        #expect(throws: OCIError.invalidDocument(kind: "manifest", reason: "not valid JSON")) {
            try CanonicalJSON.decode(ImageManifest.self, from: Array("{not json".utf8), kind: "manifest")
        }
        #expect(throws: OCIError.invalidDocument(kind: "manifest", reason: "missing 'layers'")) {
            try CanonicalJSON.decode(ImageManifest.self, from: Array(#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"\#(Digest.of([1]))","size":1}}"#.utf8), kind: "manifest")
        }
    }

    @Test func rfc3339MatchesKnownInstants() {
        #expect(rfc3339(0) == "1970-01-01T00:00:00Z")
        #expect(rfc3339(1_700_000_000) == "2023-11-14T22:13:20Z")
        #expect(rfc3339(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(rfc3339(4_102_444_799) == "2099-12-31T23:59:59Z")
    }
}

@Suite struct ReferenceTests {
    @Test(arguments: [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx:1.25"),
        ("team/app", "docker.io/team/app:latest"),
        ("localhost:5000/app:v1", "localhost:5000/app:v1"),
        ("registry.example/a/b/c:1.0-rc_1", "registry.example/a/b/c:1.0-rc_1"),
        ("127.0.0.1:5000/x@sha256:" + String(repeating: "0", count: 64), "127.0.0.1:5000/x@sha256:" + String(repeating: "0", count: 64)),
        ("docker://ghcr.io/o/r:t", "ghcr.io/o/r:t"),
    ])
    func registryReferencesNormalize(text: String, expected: String) throws {
        guard case .registry(let reference) = try ImageReference(parsing: text) else {
            Issue.record("not a registry reference")
            return
        }
        #expect(reference.description == expected)
    }

    @Test(arguments: ["UPPER/case", "a//b", "app:", "app:-bad", "x@sha256:12", "-leading/x", "host:99999/x", "a/b:" + String(repeating: "t", count: 129)])
    func badRegistryReferencesAreRefused(text: String) {
        #expect(throws: OCIError.self) { try ImageReference(parsing: text) }
    }

    @Test func transportsParse() throws {
        #expect(try ImageReference(parsing: "oci:out/dir:tag") == .layout(path: "out/dir", tag: "tag"))
        #expect(try ImageReference(parsing: "oci:/abs/dir") == .layout(path: "/abs/dir", tag: nil))
        #expect(try ImageReference(parsing: "oci-archive:img.tar:v1") == .ociArchive(path: "img.tar", tag: "v1"))
        #expect(try ImageReference(parsing: "docker-archive:d.tar:example/app:1") == .dockerArchive(path: "d.tar", name: "example/app:1"))
        #expect(throws: OCIError.self) { try ImageReference(parsing: "oci:") }
        #expect(throws: OCIError.self) { try ImageReference(parsing: "oci:dir:") }
        #expect(throws: OCIError.self) { try ImageReference(parsing: "tarball:/x/y") }
    }

    @Test func familiarNames() throws {
        #expect(try RegistryReference(parsing: "nginx").familiarName == "nginx:latest")
        #expect(try RegistryReference(parsing: "localhost:5000/a/b:1").familiarName == "localhost:5000/a/b:1")
    }
}
