import Archive
import Foundation
import OCI
import SBOM
import TestSupport

/// Real bookworm packages unpacked by hand into a rootfs, as a distroless image or with a real
/// dpkg `status` database.
struct DebianFixture {
    static let packages = ["base-files", "tzdata", "libc6", "zlib1g", "libgcc-s1", "gcc-12-base"]

    let dir: TemporaryDirectory
    let architecture: String
    /// Per package: its control paragraph text and md5sums text.
    var controls: [String: (control: String, md5sums: String)] = [:]

    /// Downloads the packages (`apt-get download`) and unpacks them into `dir/rootfs`.
    init() throws {
        dir = try TemporaryDirectory()
        architecture = try runChecked("dpkg", ["--print-architecture"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let debs = dir.path + "/debs"
        try FileSystem.createDirectory(debs)
        try FileSystem.createDirectory(dir.path + "/control")
        let result = try run("apt-get", ["download"] + DebianFixture.packages, cwd: debs)
        guard result.status == 0 else {
            throw TestSetupError(description: "apt-get download failed (needs the host's Debian mirror): \(result.stderr)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: debs).filter { $0.hasSuffix(".deb") }.sorted()
        for file in files {
            let name = String(file.prefix { $0 != "_" })
            try runChecked("dpkg-deb", ["-x", "\(debs)/\(file)", rootfs])
            let control = dir.path + "/control/\(name)"
            try runChecked("dpkg-deb", ["-e", "\(debs)/\(file)", control])
            let text = String(decoding: try FileSystem.read(control + "/control"), as: UTF8.self)
            let sums = (try? FileSystem.read(control + "/md5sums")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            controls[name] = (text, sums)
        }
        guard controls.count == DebianFixture.packages.count else {
            throw TestSetupError(description: "apt-get download gave \(controls.count) packages, expected \(DebianFixture.packages.count)")
        }
    }

    var rootfs: String { dir.path + "/rootfs" }

    /// Writes distroless `status.d/<pkg>` and `status.d/<pkg>.md5sums`.
    func writeStatusD() throws {
        for (name, entry) in controls {
            try dir.write("rootfs/var/lib/dpkg/status.d/\(name)", Array(entry.control.utf8))
            try dir.write("rootfs/var/lib/dpkg/status.d/\(name).md5sums", Array(entry.md5sums.utf8))
        }
    }

    /// Writes a real dpkg database: `status` (with `Status: install ok installed`, plus one
    /// removed package that must not be listed) and `info/<pkg>[:arch].list`.
    func writeStatus() throws {
        var status = ""
        for (name, entry) in controls.sorted(by: { $0.key < $1.key }) {
            var lines = entry.control.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            lines.insert("Status: install ok installed", at: 1)
            status += lines.joined(separator: "\n") + "\n\n"
            let multiArch = entry.control.contains("Multi-Arch: same")
            let listName = multiArch ? "\(name):\(architecture)" : name
            let paths = entry.md5sums.split(separator: "\n").compactMap { line -> String? in
                guard let space = line.firstIndex(of: " ") else { return nil }
                return "/" + line[space...].drop { $0 == " " }
            }
            try dir.write("rootfs/var/lib/dpkg/info/\(listName).list", Array((["/.", "/usr"] + paths).joined(separator: "\n").utf8 + [10]))
        }
        status += "Package: removed-tool\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: all\n"
        try dir.write("rootfs/var/lib/dpkg/status", Array(status.utf8))
    }

    /// Packs the rootfs as a one-layer image and returns the layout and manifest.
    func image(name: String) throws -> (ImageLayout, Descriptor) {
        let layout = try ImageLayout.create(at: dir.path + "/layout-\(name)")
        var image = DirectoryImage(root: rootfs, architecture: architecture, epoch: 1_700_000_000)
        image.compression = .gzip
        let manifest = try image.write(into: layout)
        return (layout, manifest)
    }
}

/// Runs a Python snippet, failing with its output unless it exits 0.
func python(_ script: String, _ arguments: [String]) throws -> String {
    let result = try run("python3", ["-c", script] + arguments)
    guard result.status == 0 else {
        throw TestSetupError(description: "python3 check failed: \(result.output)\(result.stderr)")
    }
    return result.output
}

/// Validates a CycloneDX document against the 1.6 schema in ../shared/reference/schemas/cyclonedx.
func validateCycloneDX(_ path: String) throws {
    let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/reference/schemas/cyclonedx/bom-1.6.SNAPSHOT.schema.json").path
    guard FileManager.default.fileExists(atPath: schema) else {
        throw TestSetupError(description: "CycloneDX schema missing at \(schema)")
    }
    let script = """
    import json, os, sys
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7
    schema_path, doc_path = sys.argv[1], sys.argv[2]
    folder = os.path.dirname(schema_path)
    def retrieve(uri):
        name = uri.split("#")[0].rstrip("/").rsplit("/", 1)[-1]
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            path = os.path.join(folder, name.replace(".schema.json", ".SNAPSHOT.schema.json"))
        with open(path) as f:
            return Resource.from_contents(json.load(f), default_specification=DRAFT7)
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema, registry=Registry(retrieve=retrieve),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    with open(doc_path) as f:
        doc = json.load(f)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
    if errors:
        print("\\n".join(errors)); sys.exit(1)
    print("valid")
    """
    _ = try python(script, [schema, path])
}

/// Validates an SPDX document with pyspdxtools (pip package spdx-tools).
func validateSPDX(_ path: String) throws -> String {
    guard (try? requireTool("pyspdxtools")) != nil else {
        throw TestSetupError(description: "'pyspdxtools' is not installed: run 'pip install spdx-tools'")
    }
    let result = try run("pyspdxtools", ["-i", path])
    guard result.status == 0 else {
        throw TestSetupError(description: "pyspdxtools -i \(path) exited \(result.status): \(result.output)\(result.stderr)")
    }
    return result.output + result.stderr
}

/// What trivy reads from an SBOM offline: the OS family and version and the packages.
func trivyRead(_ path: String, cache: String) throws -> (os: String, version: String, packages: [String]) {
    let result = try run("trivy", ["sbom", "--cache-dir", cache, "--scanners", "license", "--format", "json",
                                   "--list-all-pkgs", "--quiet", "--skip-db-update", "--offline-scan", path])
    guard result.status == 0 else {
        throw TestSetupError(description: "trivy sbom \(path) exited \(result.status): \(result.stderr)")
    }
    let script = """
    import json, sys
    doc = json.load(open(sys.argv[1]))
    os_ = doc.get("Metadata", {}).get("OS", {})
    print(os_.get("Family", ""))
    print(os_.get("Name", ""))
    for r in doc.get("Results", []):
        for p in r.get("Packages", []) or []:
            print(p["Name"] + " " + p.get("Version", "") + " " + r.get("Class", ""))
    """
    let out = path + ".trivy.json"
    try FileSystem.writeAtomically(out, bytes: result.stdout)
    let lines = try python(script, [out]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    return (lines.first ?? "", lines.count > 1 ? lines[1] : "", Array(lines.dropFirst(2).filter { !$0.isEmpty }))
}
