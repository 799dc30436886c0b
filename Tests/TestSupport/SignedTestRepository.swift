import Archive
import Debian
import Foundation

/// A real signed Debian repository built on the spot: .debs from dpkg-deb, a Packages.xz index,
/// a Release clear-signed by a fresh gpg key, served over HTTP on loopback.
public final class SignedTestRepository: @unchecked Sendable {
    public let dir: TemporaryDirectory
    public let root: String
    public let keyring: String
    public let otherKeyring: String
    public var server: LocalHTTPServer?
    public let gpgHome: String

    /// A package to build: control fields, and extra data entries (path, contents) or a
    /// prebuilt data tar for hostile cases.
    public struct Pkg: Sendable {
        public var name: String
        public var version = "1.0"
        public var fields: [String: String] = [:]
        public var files: [String: String] = [:]
        /// A data.tar to ship as is (for hostile packages dpkg-deb would refuse to build).
        public var rawDataTar: [UInt8]?
        /// A data.tar.gz to ship as is, already compressed (a decompression bomb, say).
        public var rawDataTarGz: [UInt8]?
        public init(name: String, version: String = "1.0", fields: [String: String] = [:], files: [String: String] = [:],
                    rawDataTar: [UInt8]? = nil, rawDataTarGz: [UInt8]? = nil) {
            self.name = name
            self.version = version
            self.fields = fields
            self.files = files
            self.rawDataTar = rawDataTar
            self.rawDataTarGz = rawDataTarGz
        }
    }

    public let suite: String

    public convenience init(packages: [Pkg], suite: String = "test", validUntil: String = "Fri, 01 Jan 2100 00:00:00 UTC") throws {
        try self.init(suites: [(suite, packages)], validUntil: validUntil)
    }

    /// A repository with several suites (`bookworm`, `bookworm-security`…), each with its own
    /// signed index; `suite` is the first.
    public init(suites: [(name: String, packages: [Pkg])], validUntil: String = "Fri, 01 Jan 2100 00:00:00 UTC") throws {
        suite = suites.first?.name ?? "test"
        dir = try TemporaryDirectory()
        root = dir.path + "/repo"
        gpgHome = dir.path + "/gnupg"
        try FileSystem.createDirectory(gpgHome, mode: 0o700)
        let gpg = ["--batch", "--homedir", gpgHome, "--pinentry-mode", "loopback", "--passphrase", ""]
        try runChecked("gpg", gpg + ["--quick-gen-key", "Harden Test Repo <repo@example.org>", "ed25519", "sign", "2y"])
        try runChecked("gpg", gpg + ["--quick-gen-key", "Someone Else <else@example.org>", "ed25519", "sign", "2y"])
        keyring = dir.path + "/repo-keyring.gpg"
        otherKeyring = dir.path + "/other-keyring.gpg"
        try FileSystem.writeAtomically(keyring, bytes: try run("gpg", gpg + ["--export", "repo@example.org"]).stdout)
        try FileSystem.writeAtomically(otherKeyring, bytes: try run("gpg", gpg + ["--export", "else@example.org"]).stdout)

        for (suite, packages) in suites {
            var index = ""
            for package in packages {
                let build = dir.path + "/build/\(package.name)_\(package.version)"
                var control = "Package: \(package.name)\nVersion: \(package.version)\nArchitecture: \(package.fields["Architecture"] ?? "amd64")\n"
                control += "Maintainer: Harden <harden@example.org>\nDescription: test package \(package.name)\n"
                for (key, value) in package.fields.sorted(by: { $0.key < $1.key }) where key != "Architecture" { control += "\(key): \(value)\n" }
                let relative = String(build.dropFirst(dir.path.count + 1))
                try dir.write("\(relative)/DEBIAN/control", Array(control.utf8))
                try dir.write("\(relative)/usr/share/doc/\(package.name)/copyright", Array("MIT\n".utf8))
                for (path, contents) in package.files { try dir.write("\(relative)/\(path)", Array(contents.utf8), mode: 0o755) }
                let debName = "\(package.name)_\(package.version)_amd64.deb"
                try FileSystem.createDirectory(root + "/pool/main")
                if let compressed = package.rawDataTarGz {
                    try Self.assembleDeb(control: control, dataTarGz: compressed, at: root + "/pool/main/" + debName, scratch: build)
                } else if let raw = package.rawDataTar {
                    let dataSink = MemorySink()
                    let gzip = try GzipCompressor(dataSink)
                    try gzip.write(raw)
                    try gzip.finish()
                    try Self.assembleDeb(control: control, dataTarGz: dataSink.bytes, at: root + "/pool/main/" + debName, scratch: build)
                } else {
                    try runChecked("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", build, root + "/pool/main/" + debName])
                }
                let deb = try FileSystem.read(root + "/pool/main/" + debName, limit: 1 << 26)
                index += control + "Filename: pool/main/\(debName)\nSize: \(deb.count)\nSHA256: \(sha256Hex(deb))\n\n"
            }
            let indexDir = root + "/dists/\(suite)/main/binary-amd64"
            try FileSystem.createDirectory(indexDir)
            try FileSystem.writeAtomically(indexDir + "/Packages", bytes: Array(index.utf8))
            try runChecked("xz", ["-k", indexDir + "/Packages"])
            var release = "Origin: Harden Test\nSuite: \(suite)\nCodename: \(suite)\nDate: Sat, 28 Nov 2026 00:00:00 UTC\nValid-Until: \(validUntil)\n"
            release += "Architectures: amd64\nComponents: main\nSHA256:\n"
            for name in ["Packages", "Packages.xz"] {
                let bytes = try FileSystem.read(indexDir + "/" + name, limit: 1 << 26)
                release += " \(sha256Hex(bytes)) \(bytes.count) main/binary-amd64/\(name)\n"
            }
            try FileSystem.writeAtomically(root + "/dists/\(suite)/Release", bytes: Array(release.utf8))
            try runChecked("gpg", gpg + ["--local-user", "repo@example.org", "--clearsign", "--output", root + "/dists/\(suite)/InRelease", root + "/dists/\(suite)/Release"])
        }
        server = try LocalHTTPServer(directory: root)
    }

    public var repository: AptRepository {
        AptRepository(uri: server?.url ?? "", suites: [suite], components: ["main"], keyrings: [keyring])
    }

    public func client() throws -> RepositoryClient {
        RepositoryClient(http: HTTPFetcher(attempts: 1), cache: DownloadCache(root: dir.path + "/cache"))
    }

    /// A .deb put together by hand: `ar` of debian-binary, control.tar.gz and the given data.tar.gz.
    static func assembleDeb(control: String, dataTarGz: [UInt8], at path: String, scratch: String) throws {
        let controlSink = MemorySink()
        let tar = TarWriter(try GzipCompressor(controlSink))
        try tar.append(.file("control", size: 0), bytes: Array(control.utf8))
        try tar.finish()
        try FileSystem.createDirectory(scratch)
        try FileSystem.writeAtomically(scratch + "/debian-binary", bytes: Array("2.0\n".utf8))
        try FileSystem.writeAtomically(scratch + "/control.tar.gz", bytes: controlSink.bytes)
        try FileSystem.writeAtomically(scratch + "/data.tar.gz", bytes: dataTarGz)
        try runChecked("ar", ["rcD", path, scratch + "/debian-binary", scratch + "/control.tar.gz", scratch + "/data.tar.gz"])
    }
}
