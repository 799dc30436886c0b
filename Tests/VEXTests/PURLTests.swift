import OCI
import Testing
@testable import VEX

@Suite struct PURLTests {
    @Test func debianPackageWithEncodedEpochAndPlus() throws {
        let purl = try PURL("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12")
        #expect(purl.type == "deb")
        #expect(purl.namespace == "debian")
        #expect(purl.name == "libc6")
        #expect(purl.version == "2.36-9+deb12u4")
        #expect(purl.qualifiers == ["arch": "amd64", "distro": "debian-12"])
        #expect(purl.subpath == nil)
        #expect(purl.description == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12")
        let epoch = try PURL("pkg:deb/debian/attr@1%3A2.4.47-2%2Bb1?arch=amd64")
        #expect(epoch.version == "1:2.4.47-2+b1")
        #expect(epoch.description == "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64")
        #expect(try PURL("pkg:deb/debian/attr@1:2.4.47-2+b1?arch=amd64") == epoch)
    }

    @Test func ociImageEncodedOrNot() throws {
        let hex = String(repeating: "ab", count: 32)
        let encoded = try PURL("pkg:oci/python@sha256%3A\(hex)?repository_url=localhost:5000/harden/python")
        let plain = try PURL("pkg:oci/python@sha256:\(hex)?repository_url=localhost%3A5000%2Fharden%2Fpython")
        #expect(encoded == plain)
        #expect(encoded.version == "sha256:" + hex)
        #expect(encoded.qualifiers["repository_url"] == "localhost:5000/harden/python")
        #expect(encoded.description == "pkg:oci/python@sha256:\(hex)?repository_url=localhost:5000%2Fharden%2Fpython")
        #expect(imagePURL == encoded)
    }

    /// Round trips of the purl specification's own test data (tests/types/*.json).
    @Test(arguments: [
        ("pkg:oci/debian@sha256%3A244fd47e07d10?repository_url=docker.io/library/debian&arch=amd64&tag=latest",
         "pkg:oci/debian@sha256:244fd47e07d10?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=latest"),
        ("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie", "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"),
        ("pkg:deb/debian/attr@1:2.4.47-2?arch=source", "pkg:deb/debian/attr@1:2.4.47-2?arch=source"),
        ("pkg:Maven/org.apache.xmlgraphics/batik-anim@1.9.1?classifier=sources&repositorY_url=repo.spring.io/release",
         "pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?classifier=sources&repository_url=repo.spring.io%2Frelease"),
        ("pkg:npm/%40angular/animation@12.3.1", "pkg:npm/%40angular/animation@12.3.1"),
        ("pkg:golang/google.golang.org/genproto#/googleapis/./api/../annotations/",
         "pkg:golang/google.golang.org/genproto#googleapis/api/annotations"),
        ("pkg://generic/name@1.0?empty=&checksum=sha256:de4d5", "pkg:generic/name@1.0?checksum=sha256:de4d5"),
        ("pkg:generic/a%20b@1%2F2", "pkg:generic/a%20b@1%2F2"),
    ])
    func canonicalForm(input: String, canonical: String) throws {
        let purl = try PURL(input)
        #expect(purl.description == canonical)
        #expect(try PURL(canonical) == purl)
        #expect(try PURL(purl.description).description == canonical)
    }

    @Test func componentsAreDecoded() throws {
        let purl = try PURL("pkg:npm/%40angular/animation@12.3.1")
        #expect(purl.namespace == "@angular")
        #expect(purl.name == "animation")
        let golang = try PURL("pkg:golang/google.golang.org/genproto#googleapis/api/annotations")
        #expect(golang.namespace == "google.golang.org")
        #expect(golang.version == nil)
        #expect(golang.subpath == "googleapis/api/annotations")
    }

    @Test(arguments: [
        ("deb/debian/libc6@1", "it does not start with 'pkg:'"),
        ("pkg:deb", "no '/' after the type"),
        ("pkg:deb/", "no '/' after the type"),
        ("pkg:1deb/debian/libc6", "type '1deb' is not a letter followed by letters, digits, '.', '+' or '-'"),
        ("pkg:deb/debian/libc6@1%zz", "version '1%zz' has a bad percent-encoding"),
        ("pkg:deb/debian/libc6?arch", "qualifier 'arch' has no '='"),
        ("pkg:deb/debian/libc6?arch=a&ARCH=b", "qualifier 'arch' appears twice"),
        ("pkg:deb/debian/libc6?1a=b", "qualifier key '1a' is not a letter followed by letters, digits, '.', '-' or '_'"),
        ("pkg:deb/@1.0", "no name"),
    ])
    func invalidPURLsSayWhy(text: String, reason: String) {
        #expect(throws: VEXError.invalidPURL(text, reason: reason)) { try PURL(text) }
    }

    @Test func codableAsString() throws {
        let bytes = try CanonicalJSON.encode([libc])
        #expect(String(decoding: bytes, as: UTF8.self) == #"["pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"]"#)
        #expect(try CanonicalJSON.decode([PURL].self, from: bytes, kind: "purls") == [libc])
    }

    /// (VEX side, finding side, matches?)
    @Test(arguments: [
        // Same package, qualifiers the VEX side leaves out are unconstrained.
        ("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12", "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12", true),
        ("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4", "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12", true),
        ("pkg:deb/debian/libc6?arch=amd64", "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12", true),
        ("pkg:deb/debian/libc6", "pkg:deb/debian/libc6@2.36-9+deb12u4", true),
        // Epochs: encoded or not, the same version.
        ("pkg:deb/debian/attr@1%3A2.4.47-2", "pkg:deb/debian/attr@1:2.4.47-2?arch=amd64", true),
        ("pkg:deb/debian/attr@1:2.4.47-2", "pkg:deb/debian/attr@2.4.47-2?arch=amd64", false),
        // A qualifier the VEX side names must be there with the same value.
        ("pkg:deb/debian/libc6?arch=arm64", "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64", false),
        ("pkg:deb/debian/libc6?distro=debian-12", "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64", false),
        // Another version, name, namespace or type.
        ("pkg:deb/debian/libc6@2.36-9", "pkg:deb/debian/libc6@2.36-9+deb12u4", false),
        ("pkg:deb/debian/libc6@2.36-9", "pkg:deb/debian/libc6", false),
        ("pkg:deb/debian/libc-bin", "pkg:deb/debian/libc6", false),
        ("pkg:deb/ubuntu/libc6", "pkg:deb/debian/libc6", false),
        ("pkg:rpm/debian/libc6", "pkg:deb/debian/libc6", false),
        // Images: the digest ignoring case, encoded or not; repository_url subset.
        ("pkg:oci/python@sha256%3AABAB?repository_url=localhost:5000/harden/python", "pkg:oci/python@sha256:abab?repository_url=localhost%3A5000%2Fharden%2Fpython&arch=amd64", true),
        ("pkg:oci/python@sha256:abab", "pkg:oci/python@sha256:abab?repository_url=localhost:5000/harden/python", true),
        ("pkg:oci/python@sha256:abab?repository_url=ghcr.io/harden/python", "pkg:oci/python@sha256:abab?repository_url=localhost:5000/harden/python", false),
        ("pkg:oci/python@sha256:abab", "pkg:oci/python@sha256:cdcd", false),
        ("pkg:oci/python", "pkg:oci/python@sha256:cdcd", true),
        // Versions other than oci digests are case-sensitive.
        ("pkg:generic/x@1.0RC", "pkg:generic/x@1.0rc", false),
        // A subpath on the VEX side must be equal.
        ("pkg:golang/example.com/m#a/b", "pkg:golang/example.com/m#a/b", true),
        ("pkg:golang/example.com/m#a/b", "pkg:golang/example.com/m#a", false),
        ("pkg:golang/example.com/m", "pkg:golang/example.com/m#a", true),
    ])
    func matchingTable(vex: String, finding: String, expected: Bool) throws {
        #expect(try PURL(vex).matches(try PURL(finding)) == expected)
    }

    @Test func matchingIsNotSymmetric() throws {
        let general = try PURL("pkg:deb/debian/libc6")
        #expect(general.matches(libc))
        #expect(!libc.matches(general))
    }

    @Test func convenienceConstructors() {
        #expect(imagePURL.description == "pkg:oci/python@\(imageDigest)?repository_url=localhost:5000%2Fharden%2Fpython")
        #expect(PURL.oci(repository: "Registry.example/Team/App", digest: imageDigest, includeRepositoryURL: false).description
            == "pkg:oci/app@\(imageDigest)")
        #expect(libc.description == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12")
    }
}
