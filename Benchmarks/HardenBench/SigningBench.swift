import Archive
import Attestation
import Foundation

/// What signing costs: ECDSA P-256 and Ed25519 signing and verification next to Python's
/// cryptography (OpenSSL), the key file's scrypt unlock, and a warm signed build (isolated child,
/// every blob checked, provenance and SBOM attestations) against the same build unsigned.
func signingBenchmark(_ options: Options) throws {
    let count = 2000
    let message = [UInt8](repeating: 0x5a, count: 1024)
    print("Signatures over 1 KiB, \(count) each, best of \(options.runs) (ops/s; OpenSSL through Python's cryptography)")
    print("")
    print("operation                                       harden        openssl     ratio")
    for algorithm in KeyAlgorithm.allCases {
        let key = SigningKey.generate(algorithm)
        var signature: [UInt8] = []
        let sign = try best(options.runs) { for _ in 0..<count { signature = try key.sign(message) } }
        let verify = try best(options.runs) {
            for _ in 0..<count where !key.publicKey.isValidSignature(signature, for: message) {
                throw ArchiveError.codec("a signature did not verify")
            }
        }
        let (theirSign, theirVerify) = try pythonSignatureRates(algorithm, count: count, runs: options.runs)
        printRow("\(algorithm.rawValue) sign", ours: Double(count) / sign, theirs: theirSign)
        printRow("\(algorithm.rawValue) verify", ours: Double(count) / verify, theirs: theirVerify)
    }
    let work = try FileSystem.makeTemporaryDirectory(prefix: "harden-signbench")
    defer { try? FileSystem.remove(work) }
    let paths = try KeyFile.generate(.ecdsaP256, prefix: work + "/bench", passphrase: "bench", overwrite: false)
    let unlock = try best(options.runs) { _ = try KeyFile.loadSigningKey(paths.privateKey, environment: ["HARDEN_PASSWORD": "bench"], prompt: nil) }
    print(String(format: "\nunlocking the encrypted key (scrypt N=32768, r=8, p=1): %.3f s", unlock))

    guard let harden = releaseHarden(for: "signing") else { return }
    print("\nWarm builds of minimal images, both architectures, best of \(options.runs)")
    print("image      unsigned        signed (--key)   overhead   verify")
    for name in ["base", "python"] {
        let spec = work + "/\(name).yaml"
        try FileSystem.writeAtomically(spec, bytes: try FileSystem.read(FileManager.default.currentDirectoryPath + "/catalog/\(name).yaml"))
        try shell("\(harden) lock \(spec) > /dev/null 2>&1")
        let unsigned = "\(harden) build \(spec) --variant minimal --output oci:\(work)/plain-\(name) > /dev/null 2>&1"
        let signed = "HARDEN_PASSWORD=bench \(harden) build \(spec) --variant minimal --key \(paths.privateKey) --output oci:\(work)/signed-\(name) > /dev/null 2>&1"
        try shell(unsigned) // warm the download cache
        let plain = try best(options.runs) { try shell(unsigned) }
        let withKey = try best(options.runs) { try shell(signed) }
        let verify = try best(options.runs) {
            try shell("\(harden) verify oci:\(work)/signed-\(name):latest --key \(paths.publicKey) --require provenance,spdx,cyclonedx --non-root --no-shell > /dev/null")
        }
        print(name.padding(toLength: 11, withPad: " ", startingAt: 0)
              + String(format: "%6.2f s        %6.2f s          %+5.2f s    %5.2f s", plain, withKey, withKey - plain, verify))
    }
}

/// Signing and verification rates of OpenSSL (through Python's cryptography), ops/s.
private func pythonSignatureRates(_ algorithm: KeyAlgorithm, count: Int, runs: Int) throws -> (sign: Double, verify: Double) {
    let setup = algorithm == .ecdsaP256
        ? "k = ec.generate_private_key(ec.SECP256R1()); s = lambda: k.sign(m, ec.ECDSA(hashes.SHA256())); sig = s(); v = lambda: k.public_key().verify(sig, m, ec.ECDSA(hashes.SHA256()))"
        : "k = ed25519.Ed25519PrivateKey.generate(); s = lambda: k.sign(m); sig = s(); p = k.public_key(); v = lambda: p.verify(sig, m)"
    let script = """
        import timeit
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519
        m = b'Z' * 1024
        \(setup)
        sign = min(timeit.repeat(s, number=\(count), repeat=\(runs)))
        verify = min(timeit.repeat(v, number=\(count), repeat=\(runs)))
        print(\(count) / sign, \(count) / verify)
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let rates = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    guard process.terminationStatus == 0, rates.count == 2 else { throw ArchiveError.codec("python3 cryptography benchmark failed: \(output)") }
    return (rates[0], rates[1])
}
