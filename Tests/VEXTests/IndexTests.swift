import Foundation
import TestSupport
import OCI
import Testing
@testable import VEX

@Suite struct IndexTests {
    let image = [imagePURL]

    @Test func aStatementForTheImageAndPackageApplies() throws {
        let index = VEXIndex(documents: [try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "A", timestamp: at())])
        let statement = index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc)
        #expect(statement?.status == .notAffected)
        #expect(statement?.status.suppressesFinding == true)
        #expect(statement?.timestamp == at())  // inherited from the document
        // The finding's purls may carry more qualifiers, and spell the digest and version encoded.
        let scanned = try PURL("pkg:oci/python@sha256%3A\(imageDigest.hex.uppercased())?arch=amd64&repository_url=localhost:5000/harden/python")
        let package = try PURL("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc")
        #expect(index.statement(vulnerability: "cve-2024-0001", product: [scanned], subcomponent: package) != nil)
    }

    @Test func anotherProductOrPackageDoesNotMatch() throws {
        let index = VEXIndex(documents: [try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "A", timestamp: at())])
        let otherImage = PURL.oci(repository: "localhost:5000/harden/python", digest: otherDigest)
        let otherRegistry = PURL.oci(repository: "ghcr.io/harden/python", digest: imageDigest)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: [otherImage], subcomponent: libc) == nil)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: [otherRegistry], subcomponent: libc) == nil)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: openssl) == nil)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: nil) == nil)
        let newerLibc = PURL.deb(name: "libc6", version: "2.36-9+deb12u7", architecture: "amd64")
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: newerLibc) == nil)
        let arm = PURL.deb(name: "libc6", version: "2.36-9+deb12u4", architecture: "arm64")
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: arm) == nil)
        #expect(index.statement(vulnerability: "CVE-2024-0002", product: image, subcomponent: libc) == nil)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: [], subcomponent: libc) == nil)
    }

    @Test func aProductWithoutSubcomponentsCoversAllItsPackages() throws {
        let statement = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"), products: [VEXProduct(purl: imagePURL)],
                                     status: .notAffected, justification: .componentNotPresent)
        let index = VEXIndex(documents: [try VEXDocument.create(statements: [statement], author: "A", timestamp: at())])
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc) != nil)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: openssl) != nil)
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: nil) != nil)
    }

    @Test func productsAreFoundByIDOrIdentifiersPurlButNotByOtherIRIs() throws {
        let byIdentifier = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"),
                                        products: [VEXProduct(id: "https://example.com/python", identifiers: VEXIdentifiers(purl: imagePURL.description),
                                                              subcomponents: [VEXSubcomponent(identifiers: VEXIdentifiers(purl: libc.description))])],
                                        status: .fixed)
        let byIRI = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0002"),
                                 products: [VEXProduct(id: imagePURL.description.replacingOccurrences(of: "pkg:", with: "https://example.com/"))],
                                 status: .fixed)
        let index = VEXIndex(documents: [try VEXDocument.create(statements: [byIdentifier, byIRI], author: "A", timestamp: at())])
        #expect(index.statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc)?.status == .fixed)
        #expect(index.statement(vulnerability: "CVE-2024-0002", product: image, subcomponent: libc) == nil)
    }

    @Test func theLatestStatementWins() throws {
        let investigating = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"),
                                         products: [VEXProduct(purl: imagePURL, subcomponents: [libc])], status: .underInvestigation)
        let first = try VEXDocument.create(statements: [investigating], author: "A", timestamp: at(100))
        let second = try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "A", timestamp: at(200))
        // Whatever order the documents come in, the later statement decides.
        for documents in [[first, second], [second, first]] {
            let statement = VEXIndex(documents: documents).statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc)
            #expect(statement?.status == .notAffected)
        }
        // A statement's own timestamp counts over its document's.
        let backdated = try VEXDocument.create(statements: [notAffected("CVE-2024-0001", timestamp: at(50))], author: "A", timestamp: at(300))
        #expect(VEXIndex(documents: [backdated, first]).statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc)?.status
            == .underInvestigation)
        // Equal timestamps: the last one in document order.
        let affected = VEXStatement(vulnerability: VEXVulnerability(name: "CVE-2024-0001"), products: [VEXProduct(purl: imagePURL)],
                                    status: .affected, actionStatement: "upgrade", timestamp: at(100))
        let same = try VEXDocument.create(statements: [investigating, affected], author: "A", timestamp: at(100))
        #expect(VEXIndex(documents: [same]).statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc)?.status == .affected)
        #expect(VEXIndex(documents: [first, try VEXDocument.create(statements: [affected], author: "A", timestamp: at())])
            .statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc)?.status == .affected)
    }

    @Test func aliasesMatchEitherWay() throws {
        let withAlias = notAffected("CVE-2024-0001", aliases: ["GHSA-aaaa-bbbb-cccc"])
        let plain = notAffected("DSA-5000-1", [openssl])
        let index = VEXIndex(documents: [try VEXDocument.create(statements: [withAlias, plain], author: "A", timestamp: at())])
        // The finding's id is the statement's alias.
        #expect(index.statement(vulnerability: "ghsa-aaaa-bbbb-cccc", product: image, subcomponent: libc) != nil)
        // The finding's alias is the statement's name.
        #expect(index.statement(vulnerability: "CVE-2024-9999", aliases: ["DSA-5000-1"], product: image, subcomponent: openssl) != nil)
        // An alias of the finding that is the statement's alias.
        #expect(index.statement(vulnerability: "OSV-1", aliases: ["GHSA-AAAA-BBBB-CCCC"], product: image, subcomponent: libc) != nil)
        #expect(index.statement(vulnerability: "CVE-2024-9999", aliases: ["DSA-5001-1"], product: image, subcomponent: openssl) == nil)
    }

    @Test func documentsReadFromDiskWork() throws {
        let dir = try TemporaryDirectory()
        let document = try VEXDocument.create(statements: [notAffected("CVE-2024-0001")], author: "A", timestamp: at())
        let path = try dir.write("image.vex.json", try document.encoded())
        let loaded = try VEXDocument.load(path: path)
        #expect(loaded == document)
        #expect(!VEXIndex(documents: [loaded]).isEmpty)
        #expect(VEXIndex(documents: []).isEmpty)
        #expect(VEXIndex(documents: [loaded]).statement(vulnerability: "CVE-2024-0001", product: image, subcomponent: libc) != nil)
    }
}
