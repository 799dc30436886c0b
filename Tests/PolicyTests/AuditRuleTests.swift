@testable import Policy
import Testing

/// The rules of `harden audit` and `harden diff` that need no image.
@Suite struct AuditRuleTests {
    @Test(arguments: [
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n", "etc/ssl/private/a.key", "PEM private key (RSA PRIVATE KEY)"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n", "srv/k.pem", "PEM private key (PRIVATE KEY)"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", "root/.ssh/id_ed25519", "credentials file (.ssh/id_ed25519)"),
        ("notes\n-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "app/cosign.key", "PEM private key (ENCRYPTED SIGSTORE PRIVATE KEY)"),
        ("machine x login y password z\n", "home/app/.netrc", "credentials file (.netrc)"),
        ("{\"auths\":{}}", "root/.docker/config.json", "credentials file (.docker/config.json)"),
    ])
    func secretsAreMarked(contents: String, path: String, mark: String) {
        #expect(Auditor.secretMark(path: path, prefix: Array(contents.utf8)) == mark)
    }

    @Test(arguments: [
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "etc/ssl/certs/ca.pem"),
        ("-----BEGIN PUBLIC KEY-----\nMFkw\n", "etc/harden.pub"),
        ("", "home/app/.netrc"),
        ("PRIVATE KEY----- in prose, no BEGIN line", "usr/share/doc/x/README"),
        ("{\"auths\":{}}", "etc/config.json"),
    ])
    func otherFilesAreNot(contents: String, path: String) {
        #expect(Auditor.secretMark(path: path, prefix: Array(contents.utf8)) == nil)
    }

    @Test func gradesCountFailuresAndWarnings() {
        func checks(_ statuses: [AuditCheck.Status]) -> [AuditCheck] { statuses.enumerated().map { AuditCheck("c\($0.offset)", $0.element, "") } }
        #expect(AuditReport.grade(checks([.pass, .pass])) == "A")
        #expect(AuditReport.grade(checks([.pass, .warn])) == "B")
        #expect(AuditReport.grade(checks([.fail, .warn])) == "C")
        #expect(AuditReport.grade(checks([.fail, .fail, .fail])) == "D")
        #expect(AuditReport.grade(checks([.fail, .fail, .fail, .fail])) == "F")
        #expect(AuditCheck.Status.fail > .warn && AuditCheck.Status.warn > .pass)
    }

    @Test func reductionsArePercentFewerAndNegativeForGrowth() {
        let baseline = ImageFigures(packages: 110, files: 6080, executables: 427, setIDFiles: 11, bytes: 1000, compressedBytes: 400,
                                    vulnerabilities: ["low": 3, "high": 1])
        let image = ImageFigures(packages: 26, files: 2072, executables: 25, setIDFiles: 0, bytes: 1500, compressedBytes: 100, vulnerabilities: nil)
        let reduction = ImageDiff.reductions(baseline, image)
        #expect(reduction["packages"] == 76.4 && reduction["executables"] == 94.1 && reduction["setuid"] == 100)
        #expect(reduction["bytes"] == -50, "a bigger image is a negative reduction")
        #expect(reduction["cves"] == nil, "no figure without both scans")
        #expect(ImageDiff.reductions(image, baseline)["setuid"] == nil, "nothing to reduce from zero")
    }
}
