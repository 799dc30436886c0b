import Archive
import Foundation
import OCI
import SBOM
import Testing
import TestSupport

@Suite struct LicenseExceptionTests {
    /// DEP-5 `License:` lines seen in bookworm's copyright files, and their SPDX expressions.
    static let cases: [(String, String)] = [
        ("GPL-2+ with Autoconf exception", "GPL-2.0-or-later WITH Autoconf-exception-2.0"),
        ("GPL-3+ with AutoConf exception", "GPL-3.0-or-later WITH Autoconf-exception-3.0"),
        ("GPL-2 with Linux-syscall-note exception", "GPL-2.0-only WITH Linux-syscall-note"),
        ("GPL-3+ with Bison exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
        ("Apache-2.0 with LLVM exception", "Apache-2.0 WITH LLVM-exception"),
        ("GPL-3+ with GCC-Runtime-3.1 exception", "GPL-3.0-or-later WITH GCC-exception-3.1"),
        ("OpenLDAP-2.8 and FSF-unlimited and GPL-2+ with Libtool exception",
         "LicenseRef-OpenLDAP-2.8 AND LicenseRef-FSF-unlimited AND GPL-2.0-or-later WITH Libtool-exception"),
        // No SPDX exception for these: the whole clause is a LicenseRef, as before.
        ("LGPL-2.1+ with OpenSSL exception", "LicenseRef-LGPL-2.1-plus-with-OpenSSL-exception"),
        ("GPL-2+ with Autoconf-data exception", "LicenseRef-GPL-2-plus-with-Autoconf-data-exception"),
    ]

    @Test func withClausesBecomeSPDXExceptionsThatToolsAccept() throws {
        let dir = try TemporaryDirectory()
        var packages: [InventoryPackage] = []
        for (index, (line, expected)) in Self.cases.enumerated() {
            let copyright = """
                Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

                Files: *
                Copyright: 2020 Someone
                License: \(line)

                """
            let expression = LicenseDetection.expression(ofCopyright: Array(copyright.utf8), path: "case\(index)/copyright")
            #expect(expression == expected, "\(line)")
            // The parser keeps LicenseRef texts with the package; here they are stand-ins.
            let references = expression.split(separator: " ").filter { $0.hasPrefix("LicenseRef-") }.map { (String($0), "text of \($0)") }
            packages.append(InventoryPackage(name: "p\(index)", version: "1.0-1", architecture: "amd64", license: expression,
                                             licenseTexts: Dictionary(references, uniquingKeysWith: { first, _ in first })))
        }
        // pyspdxtools checks exception ids against the SPDX list.
        let inventory = ImageInventory(imageName: "licences", imageDigest: Digest.of(Array("x".utf8)), architecture: "amd64",
                                       osVersion: "12.15", packages: packages)
        let spdx = try dir.write("licences.spdx.json", try SPDXWriter.write(inventory))
        let check = try run("pyspdxtools", ["-i", spdx])
        #expect(check.status == 0, "\(check.output) \(check.stderr)")
    }
}
