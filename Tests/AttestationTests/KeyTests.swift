import Archive
import Foundation
@testable import Attestation
import Testing
import TestSupport

// MARK: - Helpers shared by the Attestation tests

/// Runs a Python script in `dir`; fails with its stderr unless it exits 0. Returns stdout.
@discardableResult
func runPython(_ script: String, in dir: TemporaryDirectory) throws -> String {
    let result = try runPythonResult(script, in: dir)
    guard result.status == 0 else {
        throw TestSetupError(description: "python3 failed (\(result.status)): \(result.stderr)\n(install the peers with scripts/install-deps.sh)")
    }
    return result.output
}

/// Runs a Python script in `dir` and returns the whole result (for scripts expected to fail).
func runPythonResult(_ script: String, in dir: TemporaryDirectory) throws -> ProcessResult {
    try run("python3", ["-c", script], cwd: dir.path)
}

/// The DER inside the first PEM block of `pem`.
func pemBody(_ pem: String) throws -> [UInt8] {
    let lines = pem.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") }
    return try #require(Base64.decode(lines.joined()))
}

/// A PEM block of `label` around `der`.
func pemText(_ label: String, _ der: [UInt8]) -> String {
    PEM.encode(label: label, der: der)
}

func bytesContain(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
}

/// The raw private key bytes inside our PKCS#8 DER: the Ed25519 seed, or the P-256 scalar of the SEC1 structure.
func rawPrivateKey(_ key: SigningKey) throws -> [UInt8] {
    let der = try pemBody(key.pkcs8PEM())
    switch key.algorithm {
    case .ed25519:
        return Array(der.suffix(32))
    case .ecdsaP256:
        // ECPrivateKey ::= SEQUENCE { version 1 (02 01 01), privateKey OCTET STRING (04 20 <32 bytes>) ... }
        let marker: [UInt8] = [0x02, 0x01, 0x01, 0x04, 0x20]
        for start in 0...(der.count - marker.count - 32) where der[start..<(start + marker.count)].elementsEqual(marker) {
            return Array(der[(start + marker.count)..<(start + marker.count + 32)])
        }
        throw TestSetupError(description: "no SEC1 private scalar in the PKCS#8 DER")
    }
}

/// Throws `error` out of `body`, or fails the test when nothing is thrown. Returns the AttestationError.
func attestationError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> AttestationError? {
    do {
        try body()
        Issue.record("expected an AttestationError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as AttestationError {
        return error
    } catch {
        Issue.record("expected an AttestationError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The JSON body of an encrypted key PEM as text (its member order is fixed).
func encryptedBodyText(_ pem: String) throws -> String {
    String(decoding: try pemBody(pem), as: UTF8.self)
}

func encryptedPEM(fromBody body: String) -> String {
    pemText(SigningKey.encryptedLabel, Array(body.utf8))
}

// MARK: - Key tests

@Suite struct KeyTests {
    @Test(arguments: KeyAlgorithm.allCases)
    func signAndVerify(_ algorithm: KeyAlgorithm) throws {
        let key = SigningKey.generate(algorithm)
        #expect(key.algorithm == algorithm)
        let data = Array("an arbitrary message to sign".utf8)
        let signature = try key.sign(data)
        let publicKey = key.publicKey
        #expect(publicKey.algorithm == algorithm.rawValue)
        #expect(publicKey.isValidSignature(signature, for: data))
        #expect(!publicKey.isValidSignature(signature, for: data + [0]))
        #expect(!publicKey.isValidSignature(Array(signature.dropLast()), for: data))
        #expect(!publicKey.isValidSignature([], for: data))
        var flipped = signature
        flipped[flipped.count / 2] ^= 0x01
        #expect(!publicKey.isValidSignature(flipped, for: data))
        #expect(!SigningKey.generate(algorithm).publicKey.isValidSignature(signature, for: data))
        if algorithm == .ed25519 {
            #expect(signature.count == 64)
        } else {
            #expect(signature.first == 0x30)  // ASN.1 DER SEQUENCE
        }
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func publicKeyPEM(_ algorithm: KeyAlgorithm) throws {
        let publicKey = SigningKey.generate(algorithm).publicKey
        let pem = publicKey.pem
        #expect(pem.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        #expect(pem.hasSuffix("\n-----END PUBLIC KEY-----\n"))
        #expect(pem.split(separator: "\n").allSatisfy { $0.count <= 64 })
        #expect(try pemBody(pem) == publicKey.derRepresentation)
        #expect(publicKey.keyID == sha256Hex(publicKey.derRepresentation))
        #expect(publicKey.keyID.count == 64)
        let parsed = try VerificationKey(pem: pem)
        #expect(parsed == publicKey)
        #expect(parsed.keyID == publicKey.keyID)
        if algorithm == .ed25519 {
            #expect(publicKey.derRepresentation.count == 44)
            #expect(Array(publicKey.derRepresentation.prefix(12)) == [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00])
        } else {
            #expect(publicKey.derRepresentation.count == 91)
        }
        // PEM with CRLF line ends and surrounding text still reads.
        let messy = "key follows\r\n" + pem.replacingOccurrences(of: "\n", with: "\r\n") + "trailer\r\n"
        #expect(try VerificationKey(pem: messy) == publicKey)
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func encryptedRoundTrip(_ algorithm: KeyAlgorithm) throws {
        let key = SigningKey.generate(algorithm)
        let pem = try key.encryptedPEM(passphrase: "correct horse battery staple")
        #expect(pem.hasPrefix("-----BEGIN ENCRYPTED HARDEN PRIVATE KEY-----\n"))
        #expect(pem.hasSuffix("-----END ENCRYPTED HARDEN PRIVATE KEY-----\n"))

        // The body is the documented JSON.
        let body = try #require(try JSONSerialization.jsonObject(with: Data(try pemBody(pem))) as? [String: Any])
        let kdf = try #require(body["kdf"] as? [String: Any])
        let params = try #require(kdf["params"] as? [String: Int])
        let cipher = try #require(body["cipher"] as? [String: Any])
        #expect(kdf["name"] as? String == "scrypt")
        #expect(params == ["N": 32768, "r": 8, "p": 1])
        #expect(Base64.decode(try #require(kdf["salt"] as? String))?.count == 16)
        #expect(cipher["name"] as? String == "aes-256-gcm")
        #expect(Base64.decode(try #require(cipher["nonce"] as? String))?.count == 12)
        #expect(body["algorithm"] as? String == algorithm.rawValue)
        #expect(try encryptedBodyText(pem).hasPrefix("{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1},\"salt\":\""))

        var asked = 0
        let read = try SigningKey.read(pem: pem) { asked += 1; return "correct horse battery staple" }
        #expect(asked == 1)
        #expect(read.algorithm == algorithm)
        #expect(read.publicKey == key.publicKey)
        let data = Array("message".utf8)
        #expect(key.publicKey.isValidSignature(try read.sign(data), for: data))

        // Two encryptions of the same key differ (fresh salt and nonce).
        #expect(try key.encryptedPEM(passphrase: "correct horse battery staple") != pem)

        let wrong = attestationError { _ = try SigningKey.read(pem: pem) { "Correct horse battery staple" } }
        #expect(wrong?.code == .passphrase)
        #expect(wrong?.message == "wrong passphrase (or the key file was modified)")
    }

    @Test func emptyAndUnicodePassphrases() throws {
        let key = SigningKey.generate(.ecdsaP256)
        for passphrase in ["", "pässwörd ✓ 鍵"] {
            let pem = try key.encryptedPEM(passphrase: passphrase)
            #expect(try SigningKey.read(pem: pem) { passphrase }.publicKey == key.publicKey)
            #expect(attestationError { _ = try SigningKey.read(pem: pem) { passphrase + "x" } }?.code == .passphrase)
        }
    }

    @Test func chaChaPoly1305KeysRead() throws {
        // Harden writes AES-256-GCM; the format also names ChaCha20-Poly1305, which reads.
        let key = SigningKey.generate(.ed25519)
        let header = EncryptedKeyHeader(scrypt: .standard, salt: secureRandomBytes(16), cipher: .chaCha20Poly1305,
                                        nonce: secureRandomBytes(12), algorithm: .ed25519)
        let sealed = try header.cipher.seal(key.pkcs8DER(), key: try header.deriveKey(passphrase: "pw"),
                                            nonce: header.nonce, associatedData: header.associatedData)
        let pem = pemText(SigningKey.encryptedLabel, header.body(ciphertext: sealed))
        #expect(try encryptedBodyText(pem).contains("\"cipher\":{\"name\":\"chacha20-poly1305\""))
        #expect(try SigningKey.read(pem: pem) { "pw" }.publicKey == key.publicKey)
        #expect(attestationError { _ = try SigningKey.read(pem: pem) { "pW" } }?.message.contains("wrong passphrase") == true)
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func tamperedEncryptedKeysFail(_ algorithm: KeyAlgorithm) throws {
        let passphrase = "tamper test"
        let pem = try SigningKey.generate(algorithm).encryptedPEM(passphrase: passphrase)
        let body = try encryptedBodyText(pem)
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let ciphertext = try #require(fields["ciphertext"] as? String)
        let salt = try #require((fields["kdf"] as? [String: Any])?["salt"] as? String)
        let nonce = try #require((fields["cipher"] as? [String: Any])?["nonce"] as? String)

        func flipFirstByte(_ b64: String) throws -> String {
            var bytes = try #require(Base64.decode(b64))
            bytes[0] ^= 0x01
            return Base64.encode(bytes)
        }
        func flipLastByte(_ b64: String) throws -> String {
            var bytes = try #require(Base64.decode(b64))
            bytes[bytes.count - 1] ^= 0x80
            return Base64.encode(bytes)
        }
        let otherAlgorithm = algorithm == .ed25519 ? KeyAlgorithm.ecdsaP256 : .ed25519
        let tampered: [(String, String)] = [
            ("ciphertext", body.replacingOccurrences(of: ciphertext, with: try flipFirstByte(ciphertext))),
            ("tag", body.replacingOccurrences(of: ciphertext, with: try flipLastByte(ciphertext))),
            ("kdf N", body.replacingOccurrences(of: "\"N\":32768", with: "\"N\":16384")),
            ("kdf r", body.replacingOccurrences(of: "\"r\":8", with: "\"r\":4")),
            ("salt", body.replacingOccurrences(of: salt, with: try flipFirstByte(salt))),
            ("nonce", body.replacingOccurrences(of: nonce, with: try flipFirstByte(nonce))),
            ("algorithm", body.replacingOccurrences(of: "\"algorithm\":\"\(algorithm.rawValue)\"",
                                                    with: "\"algorithm\":\"\(otherAlgorithm.rawValue)\"")),
        ]
        for (what, text) in tampered {
            #expect(text != body, "tampering \(what) changed nothing")
            let error = attestationError { _ = try SigningKey.read(pem: encryptedPEM(fromBody: text)) { passphrase } }
            #expect(error?.code == .passphrase, "tampered \(what)")
            #expect(error?.message == "wrong passphrase (or the key file was modified)", "tampered \(what)")
        }

        // Hostile KDF costs are refused before any passphrase is asked or memory spent.
        for (from, to) in [("\"N\":32768", "\"N\":1073741824"), ("\"N\":32768", "\"N\":2097152"), ("\"N\":32768", "\"N\":30000"),
                           ("\"r\":8", "\"r\":1000"), ("\"p\":1", "\"p\":64"), ("\"N\":32768", "\"N\":-1")] {
            var asked = false
            let error = attestationError {
                _ = try SigningKey.read(pem: encryptedPEM(fromBody: body.replacingOccurrences(of: from, with: to))) { asked = true; return passphrase }
            }
            #expect(error?.code == .key)
            #expect(error?.message.contains("scrypt parameters") == true, "\(to): \(error?.message ?? "")")
            #expect(!asked)
        }

        // Structural damage: clear messages, no passphrase asked.
        let broken: [(String, String)] = [
            (body.replacingOccurrences(of: "\"scrypt\"", with: "\"pbkdf2\""), "unsupported key derivation 'pbkdf2'"),
            (body.replacingOccurrences(of: "aes-256-gcm", with: "aes-128-cbc"), "unsupported cipher 'aes-128-cbc'"),
            (body.replacingOccurrences(of: "\"algorithm\":\"\(algorithm.rawValue)\"", with: "\"algorithm\":\"rsa\""), "unsupported key algorithm 'rsa'"),
            (String(body.dropLast(10)), "not the expected JSON"),
            (body.replacingOccurrences(of: nonce, with: "AAAA"), "nonce"),
            (body.replacingOccurrences(of: ciphertext, with: "!!"), "ciphertext"),
        ]
        for (text, expected) in broken {
            var asked = false
            let error = attestationError { _ = try SigningKey.read(pem: encryptedPEM(fromBody: text)) { asked = true; return passphrase } }
            #expect(error?.code == .key)
            #expect(error?.message.contains(expected) == true, "expected '\(expected)' in '\(error?.message ?? "")'")
            #expect(!asked)
        }
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func pkcs8RoundTripNeedsNoPassphrase(_ algorithm: KeyAlgorithm) throws {
        let key = SigningKey.generate(algorithm)
        let pem = key.pkcs8PEM()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let read = try SigningKey.read(pem: pem) { throw TestSetupError(description: "passphrase asked for a plain key") }
        #expect(read.publicKey == key.publicKey)
        let data = pseudoRandomBytes(count: 1000)
        #expect(key.publicKey.isValidSignature(try read.sign(data), for: data))
    }

    @Test func corruptAndUnsupportedPEMs() throws {
        let key = SigningKey.generate(.ecdsaP256)
        let pkcs8 = key.pkcs8PEM()
        let pub = key.publicKey.pem
        let never: () throws -> String = { throw TestSetupError(description: "passphrase asked") }
        let cases: [(String, String)] = [
            ("", "no '-----BEGIN"),
            ("just some text\n", "no '-----BEGIN"),
            (String(pkcs8.dropLast(30)), "no END line"),
            (pkcs8.replacingOccurrences(of: "-----END PRIVATE KEY-----", with: "-----END PUBLIC KEY-----"), "ends with"),
            ("-----BEGIN PRIVATE KEY-----\nnot*base64\n-----END PRIVATE KEY-----\n", "not valid base64"),
            ("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n", "not valid base64"),
            (pemText("PRIVATE KEY", [0x30, 0x03, 0x02, 0x01]), "malformed key"),
            (pemText("PRIVATE KEY", Array(try pemBody(pkcs8).dropLast(3))), "malformed key"),
            (pemText("PRIVATE KEY", try pemBody(pkcs8) + [0]), "trailing bytes"),
            (pemText("EC PRIVATE KEY", [0x30, 0x00]), "malformed key"),
            (pemText("CERTIFICATE", [0x30, 0x00]), "unsupported PEM type 'CERTIFICATE'"),
            (pemText("ENCRYPTED PRIVATE KEY", [0x30, 0x00]), "encrypted PKCS#8"),
            (pemText("OPENSSH PRIVATE KEY", [0x30, 0x00]), "ssh-keygen"),
            (pub, "public key"),
            (pkcs8 + pkcs8, "give one key per file"),
            (pkcs8.replacingOccurrences(of: "-----BEGIN PRIVATE KEY-----\n", with: "-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"), "legacy OpenSSL-encrypted"),
        ]
        for (text, expected) in cases {
            let error = attestationError { _ = try SigningKey.read(pem: text, passphrase: never) }
            #expect(error?.code == .key)
            #expect(error?.message.contains(expected) == true, "expected '\(expected)' in '\(error?.message ?? "")'")
        }

        // cosign's nacl secretbox keys: not supported, and the message says what to do instead.
        for label in ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"] {
            let cosignKey = pemText(label, Array(#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AA=="},"ciphertext":"AA=="}"#.utf8))
            let error = attestationError { _ = try SigningKey.read(pem: cosignKey, passphrase: never) }
            #expect(error?.message.contains("not supported") == true)
            #expect(error?.message.contains("harden keygen") == true)
            #expect(error?.message.contains("PKCS#8") == true)
            #expect(error?.message.contains("openssl") == true)
        }

        let publicCases: [(String, String)] = [
            ("nothing", "no '-----BEGIN"),
            (pkcs8, "holds a private key"),
            (pemText("PUBLIC KEY", [0x30, 0x05, 0x30, 0x03, 0x06, 0x01, 0x2A]), "malformed key"),
            (pemText("PUBLIC KEY", [0x30, 0x08, 0x30, 0x03, 0x06, 0x01, 0x2A, 0x03, 0x01, 0x00]), "unsupported key type: OID 1.2"),
            (pemText("PUBLIC KEY", Array(try pemBody(pub).dropLast(1))), "malformed"),
            (pemText("CERTIFICATE", [0x30, 0x00]), "openssl x509"),
            (pemText("PGP PUBLIC KEY BLOCK", [0x30, 0x00]), "unsupported PEM type"),
        ]
        for (text, expected) in publicCases {
            let error = attestationError { _ = try VerificationKey(pem: text) }
            #expect(error?.code == .key)
            #expect(error?.message.contains(expected) == true, "expected '\(expected)' in '\(error?.message ?? "")'")
        }
        // A P-256 point off the curve.
        var der = try pemBody(pub)
        der[der.count - 1] ^= 0x01
        #expect(attestationError { _ = try VerificationKey(pem: pemText("PUBLIC KEY", der)) }?.message.contains("not on the curve") == true)
    }

    // MARK: Interop with Python's cryptography

    @Test(arguments: KeyAlgorithm.allCases)
    func pythonVerifiesOurSignatures(_ algorithm: KeyAlgorithm) throws {
        let dir = try TemporaryDirectory()
        let key = SigningKey.generate(algorithm)
        let data = pseudoRandomBytes(count: 4097, seed: 42)
        try dir.write("pub.pem", Array(key.publicKey.pem.utf8))
        try dir.write("data", data)
        try dir.write("sig", try key.sign(data))
        try dir.write("badsig", try key.sign(data + [1]))
        let verify = algorithm == .ed25519 ? "pub.verify(sig, data)" : "pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))"
        let output = try runPython("""
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec, ed25519
            from cryptography.exceptions import InvalidSignature
            pub = serialization.load_pem_public_key(open("pub.pem", "rb").read())
            assert isinstance(pub, \(algorithm == .ed25519 ? "ed25519.Ed25519PublicKey" : "ec.EllipticCurvePublicKey")), type(pub)
            data = open("data", "rb").read()
            sig = open("sig", "rb").read()
            \(verify)
            sig = open("badsig", "rb").read()
            try:
                \(verify)
                print("bad signature accepted")
            except InvalidSignature:
                print("verified")
            """, in: dir)
        #expect(output == "verified\n")
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func pythonKeysSignAndVerify(_ algorithm: KeyAlgorithm) throws {
        let dir = try TemporaryDirectory()
        let generate = algorithm == .ed25519 ? "ed25519.Ed25519PrivateKey.generate()" : "ec.generate_private_key(ec.SECP256R1())"
        try runPython("""
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec, ed25519
            key = \(generate)
            open("key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            open("pub.pem", "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            if isinstance(key, ec.EllipticCurvePrivateKey):
                open("sec1.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
            """, in: dir)
        let pythonPublic = try VerificationKey(pem: String(decoding: try FileSystem.read(dir.path + "/pub.pem"), as: UTF8.self))
        var pems = [String(decoding: try FileSystem.read(dir.path + "/key.pem"), as: UTF8.self)]
        if algorithm == .ecdsaP256 {
            let sec1 = String(decoding: try FileSystem.read(dir.path + "/sec1.pem"), as: UTF8.self)
            #expect(sec1.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
            pems.append(sec1)
        }
        for (index, pem) in pems.enumerated() {
            let key = try SigningKey.read(pem: pem) { throw TestSetupError(description: "passphrase asked") }
            #expect(key.algorithm == algorithm)
            #expect(key.publicKey == pythonPublic)
            #expect(key.publicKey.pem == String(decoding: try FileSystem.read(dir.path + "/pub.pem"), as: UTF8.self))
            let data = Array("signed by Harden with a key Python made (\(index))".utf8)
            try dir.write("data\(index)", data)
            try dir.write("sig\(index)", try key.sign(data))
        }
        let verify = algorithm == .ed25519 ? "pub.verify(sig, data)" : "pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))"
        let output = try runPython("""
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            pub = serialization.load_pem_private_key(open("key.pem", "rb").read(), None).public_key()
            for i in range(\(pems.count)):
                data = open(f"data{i}", "rb").read()
                sig = open(f"sig{i}", "rb").read()
                \(verify)
                print("ok", i)
            """, in: dir)
        #expect(output == (0..<pems.count).map { "ok \($0)\n" }.joined())
    }

    @Test func pythonRSAPublicKeysVerify() throws {
        let dir = try TemporaryDirectory()
        let data = Array("RSA PKCS#1 v1.5 with SHA-256, as cosign signs with RSA keys".utf8)
        try dir.write("data", data)
        try runPython("""
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import rsa, padding
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pub = key.public_key()
            open("pub.pem", "wb").write(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            open("pkcs1.pem", "wb").write(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1))
            open("key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            open("rsakey.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
            data = open("data", "rb").read()
            open("sig", "wb").write(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))
            small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
            open("small.pem", "wb").write(small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            """, in: dir)
        func text(_ name: String) throws -> String { String(decoding: try FileSystem.read(dir.path + "/" + name), as: UTF8.self) }
        let key = try VerificationKey(pem: try text("pub.pem"))
        #expect(key.algorithm == "rsa")
        #expect(key.pem == (try text("pub.pem")))
        let sig = try FileSystem.read(dir.path + "/sig")
        #expect(key.isValidSignature(sig, for: data))
        #expect(!key.isValidSignature(sig, for: data + [0]))
        #expect(!key.isValidSignature(Array(sig.dropLast()), for: data))
        #expect(try VerificationKey(pem: try text("pkcs1.pem")) == key)

        let small = attestationError { _ = try VerificationKey(pem: try text("small.pem")) }
        #expect(small?.message.contains("2048 bits") == true)
        for name in ["key.pem", "rsakey.pem"] {
            let error = attestationError { _ = try SigningKey.read(pem: try text(name)) { "" } }
            #expect(error?.code == .key)
            #expect(error?.message.contains("unsupported key type: RSA") == true, "\(name): \(error?.message ?? "")")
        }
    }

    @Test func otherCurvesAreRefusedByName() throws {
        let dir = try TemporaryDirectory()
        try runPython("""
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec, ed448
            for name, key in [("p384", ec.generate_private_key(ec.SECP384R1())), ("ed448", ed448.Ed448PrivateKey.generate())]:
                open(name + ".key", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
                open(name + ".pub", "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
                if name == "p384":
                    open("p384.sec1", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
            """, in: dir)
        func text(_ name: String) throws -> String { String(decoding: try FileSystem.read(dir.path + "/" + name), as: UTF8.self) }
        for (file, name) in [("p384.key", "P-384 (OID 1.3.132.0.34)"), ("p384.sec1", "P-384"), ("ed448.key", "Ed448 (OID 1.3.101.113)")] {
            let error = attestationError { _ = try SigningKey.read(pem: try text(file)) { "" } }
            #expect(error?.code == .key)
            #expect(error?.message.contains("unsupported key type") == true && error?.message.contains(name) == true,
                    "\(file): \(error?.message ?? "")")
        }
        for (file, name) in [("p384.pub", "P-384 (OID 1.3.132.0.34)"), ("ed448.pub", "Ed448")] {
            let error = attestationError { _ = try VerificationKey(pem: try text(file)) }
            #expect(error?.message.contains("unsupported key type") == true && error?.message.contains(name) == true,
                    "\(file): \(error?.message ?? "")")
        }
    }

    // MARK: Key files

    @Test(arguments: KeyAlgorithm.allCases)
    func keyFilesAreWrittenPrivately(_ algorithm: KeyAlgorithm) throws {
        let dir = try TemporaryDirectory()
        let prefix = dir.path + "/cosign"
        let paths = try KeyFile.generate(algorithm, prefix: prefix, passphrase: "file passphrase", overwrite: false)
        #expect(paths.privateKey == prefix + ".key")
        #expect(paths.publicKey == prefix + ".pub")
        #expect(try runChecked("stat", ["-c", "%a", paths.privateKey]) == "600\n")
        #expect(try runChecked("stat", ["-c", "%a", paths.publicKey]) == "644\n")
        // Nothing but the two files (no temporary left behind).
        #expect(try FileSystem.listDirectory(dir.path) == ["cosign.key", "cosign.pub"])

        let key = try KeyFile.loadSigningKey(paths.privateKey, environment: ["HARDEN_PASSWORD": "file passphrase"], prompt: nil)
        #expect(key.algorithm == algorithm)
        #expect(try KeyFile.loadVerificationKey(paths.publicKey) == key.publicKey)

        // The private key is not in the file in the clear, in any form.
        let file = try FileSystem.read(paths.privateKey)
        let raw = try rawPrivateKey(key)
        let pkcs8 = try pemBody(key.pkcs8PEM())
        let body = try pemBody(String(decoding: file, as: UTF8.self))
        let fields = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        let ciphertextText = try #require(fields?["ciphertext"] as? String)
        let ciphertext = try #require(Base64.decode(ciphertextText))
        #expect(raw.count == 32 && bytesContain(pkcs8, raw))  // the search finds the key where it is in the clear
        for haystack in [file, body, ciphertext] {
            #expect(!bytesContain(haystack, raw))
            #expect(!bytesContain(haystack, pkcs8))
        }
        #expect(!bytesContain(file, Array(Base64.encode(raw).utf8.prefix(40))))
        #expect(!bytesContain(file, Array(Base64.encode(pkcs8).utf8.prefix(40))))
        #expect(!bytesContain(file, Array(hexString(raw).utf8)))

        // Refuses to overwrite either file; with overwrite it makes a new pair, still 0600.
        let error = attestationError { _ = try KeyFile.generate(algorithm, prefix: prefix, passphrase: "x", overwrite: false) }
        #expect(error?.code == .io)
        #expect(error?.message.contains("already exists") == true)
        #expect(try FileSystem.read(paths.privateKey) == file)
        try FileSystem.remove(paths.privateKey)
        #expect(attestationError { _ = try KeyFile.generate(algorithm, prefix: prefix, passphrase: "x", overwrite: false) }?.message.contains("cosign.pub already exists") == true)
        #expect(!FileSystem.exists(paths.privateKey))
        try FileSystem.writeAtomically(paths.privateKey, bytes: Array("old".utf8), mode: 0o644)
        _ = try KeyFile.generate(algorithm, prefix: prefix, passphrase: "new", overwrite: true)
        #expect(try runChecked("stat", ["-c", "%a", paths.privateKey]) == "600\n")
        let replaced = try KeyFile.loadSigningKey(paths.privateKey, environment: [:], prompt: { "new" })
        #expect(replaced.publicKey != key.publicKey)
        #expect(try KeyFile.loadVerificationKey(paths.publicKey) == replaced.publicKey)
    }

    @Test func loadingKeyFiles() throws {
        let dir = try TemporaryDirectory()
        let paths = try KeyFile.generate(.ecdsaP256, prefix: dir.path + "/k", passphrase: "env pass", overwrite: false)

        // The variable wins over the prompt; the prompt is used without it; neither is a clear error.
        var prompted = 0
        _ = try KeyFile.loadSigningKey(paths.privateKey, environment: ["HARDEN_PASSWORD": "env pass"], prompt: { prompted += 1; return "no" })
        #expect(prompted == 0)
        _ = try KeyFile.loadSigningKey(paths.privateKey, environment: ["OTHER": "x"], prompt: { prompted += 1; return "env pass" })
        #expect(prompted == 1)
        let missing = attestationError { _ = try KeyFile.loadSigningKey(paths.privateKey, environment: [:], prompt: nil) }
        #expect(missing?.code == .passphrase)
        #expect(missing?.message.contains("HARDEN_PASSWORD") == true)
        let wrong = attestationError { _ = try KeyFile.loadSigningKey(paths.privateKey, environment: ["HARDEN_PASSWORD": "nope"], prompt: nil) }
        #expect(wrong?.message.contains("wrong passphrase (or the key file was modified)") == true)
        #expect(wrong?.message.contains(paths.privateKey) == true)

        // An unencrypted PKCS#8 key file needs no passphrase at all.
        let plain = try dir.write("plain.pem", Array(SigningKey.generate(.ed25519).pkcs8PEM().utf8), mode: 0o600)
        #expect(try KeyFile.loadSigningKey(plain, environment: [:], prompt: nil).algorithm == .ed25519)

        let big = try dir.write("big.key", [UInt8](repeating: 0x41, count: 64 * 1024 + 1))
        #expect(attestationError { _ = try KeyFile.loadSigningKey(big, environment: [:], prompt: nil) }?.message.contains("larger than 64 KiB") == true)
        #expect(attestationError { _ = try KeyFile.loadVerificationKey(big) }?.message.contains("larger than 64 KiB") == true)
        let absent = attestationError { _ = try KeyFile.loadVerificationKey(dir.path + "/absent.pub") }
        #expect(absent?.code == .io)
        #expect(absent?.message.contains("absent.pub") == true)
        let binary = try dir.write("binary.pub", [0xFF, 0xFE, 0x00, 0x80])
        #expect(attestationError { _ = try KeyFile.loadVerificationKey(binary) }?.code == .key)
        #expect(attestationError { _ = try KeyFile.loadVerificationKey(paths.privateKey) }?.message.contains("holds a private key") == true)
    }

    /// Only meaningful without a controlling terminal (CI, `swift test` under a pipe): then it must fail, not hang.
    @Test(.enabled(if: !hasControllingTerminal(), "a terminal is present: the prompt would wait for input"))
    func promptWithoutTerminalFailsClearly() throws {
        let error = attestationError { _ = try KeyFile.promptPassphrase("Passphrase: ", confirm: false) }
        #expect(error?.code == .passphrase)
        #expect(error?.message.contains("no terminal") == true)
        #expect(error?.message.contains("HARDEN_PASSWORD") == true)
    }
}

func hasControllingTerminal() -> Bool {
    let fd = open("/dev/tty", O_RDWR | O_NOCTTY)
    if fd >= 0 { close(fd) }
    return fd >= 0
}
