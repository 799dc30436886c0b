import Archive
import Crypto
import CryptoExtras
import Foundation

/// The signature algorithms Harden makes keys for.
public enum KeyAlgorithm: String, Sendable, CaseIterable {
    /// ECDSA on NIST P-256 with SHA-256, ASN.1 DER signatures (cosign's default).
    case ecdsaP256 = "ecdsa-p256"
    /// Ed25519 (RFC 8032), 64-byte signatures.
    case ed25519
}

// MARK: - Signing keys

/// A private key that signs (ECDSA P-256 with SHA-256, signatures ASN.1 DER as cosign makes them; or Ed25519, 64 raw bytes).
public struct SigningKey: Sendable {
    enum Backing: Sendable {
        case p256(P256.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    let backing: Backing

    init(_ backing: Backing) { self.backing = backing }

    /// A new random key of `algorithm`.
    public static func generate(_ algorithm: KeyAlgorithm) -> SigningKey {
        switch algorithm {
        case .ecdsaP256: SigningKey(.p256(P256.Signing.PrivateKey()))
        case .ed25519: SigningKey(.ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    /// The key's algorithm.
    public var algorithm: KeyAlgorithm {
        switch backing {
        case .p256: .ecdsaP256
        case .ed25519: .ed25519
        }
    }

    /// The matching public key.
    public var publicKey: VerificationKey {
        switch backing {
        case .p256(let key): VerificationKey(p256: key.publicKey)
        case .ed25519(let key): VerificationKey(ed25519: key.publicKey)
        }
    }

    /// Signs `data`: ECDSA over SHA-256 of `data` (DER signature), or Ed25519 over `data` itself.
    public func sign(_ data: [UInt8]) throws -> [UInt8] {
        do {
            switch backing {
            case .p256(let key): return Array(try key.signature(for: data).derRepresentation)
            case .ed25519(let key): return Array(try key.signature(for: data))
            }
        } catch {
            throw AttestationError(.signature, "signing with the \(algorithm.rawValue) key failed (\(error))")
        }
    }

    /// The PKCS#8 PrivateKeyInfo DER of the key. Secret: never write it anywhere unencrypted.
    func pkcs8DER() -> [UInt8] {
        switch backing {
        case .p256(let key):
            return Array(key.derRepresentation)
        case .ed25519(let key):
            // PrivateKeyInfo { version 0, AlgorithmIdentifier { id-Ed25519 }, OCTET STRING { OCTET STRING seed } } (RFC 8410).
            return [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
                + Array(key.rawRepresentation)
        }
    }

    /// The PEM label of Harden's encrypted private keys.
    static let encryptedLabel = "ENCRYPTED HARDEN PRIVATE KEY"

    /// The key encrypted with `passphrase`, as a PEM block "ENCRYPTED HARDEN PRIVATE KEY".
    ///
    /// The block's base64 body is this JSON (members in this order, no whitespace):
    /// ```
    /// {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<b64>"},
    ///  "cipher":{"name":"aes-256-gcm","nonce":"<b64>"},"algorithm":"ecdsa-p256","ciphertext":"<b64>"}
    /// ```
    /// The AEAD key is scrypt(passphrase as UTF-8, salt 16 random bytes, N, r, p) with 32 bytes of output;
    /// the cipher is AES-256-GCM (written) or ChaCha20-Poly1305 (also read), with a 12-byte random nonce.
    /// `ciphertext` is the sealed PKCS#8 DER followed by the 16-byte tag. The associated data is the same
    /// JSON without its `ciphertext` member (`{"kdf":…,"cipher":…,"algorithm":"…"}`, rebuilt from the parsed
    /// values when reading), so changing the algorithm, the KDF parameters, the salt or the nonce is detected.
    /// Base64 is standard with padding. An empty passphrase is accepted (as cosign does) but protects nothing.
    public func encryptedPEM(passphrase: String) throws -> String {
        let header = EncryptedKeyHeader(
            scrypt: .standard, salt: secureRandomBytes(16), cipher: .aes256GCM,
            nonce: secureRandomBytes(12), algorithm: algorithm)
        let key = try header.deriveKey(passphrase: passphrase)
        let sealed = try header.cipher.seal(pkcs8DER(), key: key, nonce: header.nonce, associatedData: header.associatedData)
        return PEM.encode(label: Self.encryptedLabel, der: header.body(ciphertext: sealed))
    }

    /// Unencrypted PKCS#8 "PRIVATE KEY" PEM (for interop/tests only).
    public func pkcs8PEM() -> String {
        PEM.encode(label: "PRIVATE KEY", der: pkcs8DER())
    }

    /// Reads a private key PEM: the encrypted Harden form (asks `passphrase` only then), unencrypted PKCS#8
    /// "PRIVATE KEY" (P-256 or Ed25519), SEC1 "EC PRIVATE KEY" (P-256). Other forms get an error that says why.
    public static func read(pem: String, passphrase: () throws -> String) throws -> SigningKey {
        let block = try PEM.singleKeyBlock(pem)
        switch block.label {
        case encryptedLabel:
            return try decrypt(body: block.der, passphrase: passphrase)
        case "PRIVATE KEY":
            if block.isLegacyEncrypted { throw PEM.legacyEncryptedError(block.label) }
            return try fromPKCS8(block.der)
        case "EC PRIVATE KEY":
            if block.isLegacyEncrypted { throw PEM.legacyEncryptedError(block.label) }
            return try fromSEC1(block.der, curveFromPKCS8: nil)
        case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY":
            throw AttestationError(.key, """
                cosign's encrypted private keys ('\(block.label)', scrypt + nacl secretbox) are not supported: \
                make a key pair with `harden keygen`, or give the key as an unencrypted PKCS#8 'PRIVATE KEY' PEM \
                (exported with openssl, e.g. `openssl pkcs8 -topk8 -nocrypt`) from the system that holds it
                """)
        case "ENCRYPTED PRIVATE KEY":
            throw AttestationError(.key, """
                encrypted PKCS#8 keys ('ENCRYPTED PRIVATE KEY') are not supported: make a key pair with \
                `harden keygen`, or give an unencrypted PKCS#8 'PRIVATE KEY' PEM (`openssl pkcs8 -nocrypt`)
                """)
        case "RSA PRIVATE KEY":
            throw AttestationError(.key, "unsupported key type: RSA private keys cannot sign with Harden (use ECDSA P-256 or Ed25519: `harden keygen`)")
        case "OPENSSH PRIVATE KEY":
            throw AttestationError(.key, "unsupported key format 'OPENSSH PRIVATE KEY': convert it to PKCS#8 (`ssh-keygen -p -m PKCS8`) or use `harden keygen`")
        case "PUBLIC KEY", "RSA PUBLIC KEY":
            throw AttestationError(.key, "this PEM holds a public key ('\(block.label)'): signing needs the private key (the .key file)")
        default:
            throw AttestationError(.key, "unsupported PEM type '\(block.label)': expected '\(encryptedLabel)', 'PRIVATE KEY' or 'EC PRIVATE KEY'")
        }
    }

    // MARK: Decoding

    static func decrypt(body: [UInt8], passphrase: () throws -> String) throws -> SigningKey {
        let parsed = try EncryptedKeyHeader.parse(body)
        let key = try parsed.header.deriveKey(passphrase: try passphrase())
        guard var plain = try? parsed.header.cipher.open(
            parsed.ciphertext, key: key, nonce: parsed.header.nonce, associatedData: parsed.header.associatedData)
        else {
            throw AttestationError(.passphrase, "wrong passphrase (or the key file was modified)")
        }
        defer { for i in plain.indices { plain[i] = 0 } }
        let signingKey: SigningKey
        do {
            signingKey = try fromPKCS8(plain)
        } catch {
            throw AttestationError(.key, "the encrypted key decrypts but does not hold a valid key (\(error))")
        }
        guard signingKey.algorithm == parsed.header.algorithm else {
            throw AttestationError(.key, "the encrypted key says '\(parsed.header.algorithm.rawValue)' but holds a \(signingKey.algorithm.rawValue) key")
        }
        return signingKey
    }

    /// A PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958): P-256 or Ed25519.
    static func fromPKCS8(_ der: [UInt8]) throws -> SigningKey {
        var outer = DER.Reader(der)
        var info = DER.Reader(try outer.read(tag: DER.sequence))
        try outer.expectEnd()
        let version = try info.read(tag: DER.integer)
        guard version.elementsEqual([0]) || version.elementsEqual([1]) else {
            throw AttestationError(.key, "malformed PKCS#8 key: version \(hexString(version)) (expected 0 or 1)")
        }
        var algorithmID = DER.Reader(try info.read(tag: DER.sequence))
        let oid = Array(try algorithmID.read(tag: DER.objectIdentifier))
        let parameters = algorithmID.atEnd ? nil : try algorithmID.readAny()
        let privateKey = Array(try info.read(tag: DER.octetString))
        switch oid {
        case OID.ecPublicKey:
            guard let parameters, parameters.tag == DER.objectIdentifier else {
                throw AttestationError(.key, "malformed PKCS#8 EC key: no named curve (explicit curve parameters are not supported)")
            }
            let curve = Array(parameters.content)
            guard curve == OID.p256 else {
                throw AttestationError(.key, "unsupported key type: EC curve \(OID.describe(curve)); Harden signs with P-256 or Ed25519")
            }
            return try fromSEC1(privateKey, curveFromPKCS8: curve)
        case OID.ed25519:
            guard parameters == nil else { throw AttestationError(.key, "malformed PKCS#8 Ed25519 key: unexpected algorithm parameters") }
            var inner = DER.Reader(privateKey)
            let seed = Array(try inner.read(tag: DER.octetString))
            try inner.expectEnd()
            guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
                throw AttestationError(.key, "malformed PKCS#8 Ed25519 key: the private key is not 32 bytes")
            }
            // OneAsymmetricKey may carry [0] attributes and [1] the public key: if present, it must match.
            while !info.atEnd {
                let element = try info.readAny()
                if element.tag == 0x81 {
                    guard Array(element.content) == [0] + Array(key.publicKey.rawRepresentation) else {
                        throw AttestationError(.key, "the PKCS#8 Ed25519 key's embedded public key does not match its private key (corrupt key)")
                    }
                }
            }
            return SigningKey(.ed25519(key))
        case OID.rsaEncryption, OID.rsaPSS:
            throw AttestationError(.key, "unsupported key type: RSA private keys cannot sign with Harden (use ECDSA P-256 or Ed25519: `harden keygen`)")
        default:
            throw AttestationError(.key, "unsupported key type: \(OID.describe(oid)); Harden signs with ECDSA P-256 or Ed25519")
        }
    }

    /// A SEC1 ECPrivateKey (RFC 5915), which must be on P-256.
    static func fromSEC1(_ der: [UInt8], curveFromPKCS8: [UInt8]?) throws -> SigningKey {
        var outer = DER.Reader(der)
        var sec1 = DER.Reader(try outer.read(tag: DER.sequence))
        try outer.expectEnd()
        guard try sec1.read(tag: DER.integer).elementsEqual([1]) else {
            throw AttestationError(.key, "malformed EC private key: version is not 1")
        }
        var scalar = Array(try sec1.read(tag: DER.octetString))
        var curve = curveFromPKCS8
        var embeddedPublicKey: [UInt8]?
        while !sec1.atEnd {
            let element = try sec1.readAny()
            switch element.tag {
            case 0xA0:
                var parameters = DER.Reader(Array(element.content))
                let named = Array(try parameters.read(tag: DER.objectIdentifier))
                if let curve, curve != named {
                    throw AttestationError(.key, "malformed EC private key: the PKCS#8 and SEC1 curves differ")
                }
                curve = named
            case 0xA1:
                var bits = DER.Reader(Array(element.content))
                embeddedPublicKey = Array(try bits.read(tag: DER.bitString))
            default:
                continue
            }
        }
        guard let curve else {
            throw AttestationError(.key, "malformed EC private key: it does not name its curve")
        }
        guard curve == OID.p256 else {
            throw AttestationError(.key, "unsupported key type: EC curve \(OID.describe(curve)); Harden signs with P-256 or Ed25519")
        }
        guard !scalar.isEmpty, scalar.count <= 32 else {
            throw AttestationError(.key, "malformed P-256 private key: the private scalar is \(scalar.count) bytes")
        }
        scalar = [UInt8](repeating: 0, count: 32 - scalar.count) + scalar
        defer { for i in scalar.indices { scalar[i] = 0 } }
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: scalar) else {
            throw AttestationError(.key, "malformed P-256 private key: the private scalar is out of range")
        }
        if let embeddedPublicKey, embeddedPublicKey != [0] + Array(key.publicKey.x963Representation) {
            throw AttestationError(.key, "the EC private key's embedded public key does not match its private key (corrupt key)")
        }
        return SigningKey(.p256(key))
    }
}

// MARK: - Verification keys

/// A public key that verifies. PEM "PUBLIC KEY" (PKIX SubjectPublicKeyInfo), the form cosign's --key reads.
public struct VerificationKey: Sendable, Equatable {
    enum Backing: Sendable {
        case p256(P256.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    let backing: Backing
    private let der: [UInt8]

    init(p256 key: P256.Signing.PublicKey) {
        backing = .p256(key)
        der = Array(key.derRepresentation)
    }

    init(ed25519 key: Curve25519.Signing.PublicKey) {
        backing = .ed25519(key)
        der = OID.ed25519SPKIPrefix + Array(key.rawRepresentation)
    }

    init(rsa key: _RSA.Signing.PublicKey) {
        backing = .rsa(key)
        der = Array(key.derRepresentation)
    }

    /// Reads a PEM public key: "PUBLIC KEY" (SubjectPublicKeyInfo) with EC P-256, Ed25519 or RSA (2048 bits or
    /// more), or "RSA PUBLIC KEY" (PKCS#1). Other key types get an error naming the type.
    public init(pem: String) throws {
        let block = try PEM.singleKeyBlock(pem)
        switch block.label {
        case "PUBLIC KEY":
            try self.init(spki: block.der)
        case "RSA PUBLIC KEY":
            self.init(rsa: try Self.rsaKey(block.der))
        case "CERTIFICATE":
            throw AttestationError(.key, "a certificate is not a key: extract its public key with `openssl x509 -in CERT -pubkey -noout`")
        case let label where label.contains("PRIVATE KEY"):
            throw AttestationError(.key, "this PEM holds a private key ('\(label)'): verification needs the public key, PEM 'PUBLIC KEY' (the .pub file)")
        default:
            throw AttestationError(.key, "unsupported PEM type '\(block.label)': expected 'PUBLIC KEY'")
        }
    }

    /// Reads a DER SubjectPublicKeyInfo.
    init(spki: [UInt8]) throws {
        var outer = DER.Reader(spki)
        var info = DER.Reader(try outer.read(tag: DER.sequence))
        try outer.expectEnd()
        var algorithmID = DER.Reader(try info.read(tag: DER.sequence))
        let oid = Array(try algorithmID.read(tag: DER.objectIdentifier))
        let parameters = algorithmID.atEnd ? nil : try algorithmID.readAny()
        let bits = Array(try info.read(tag: DER.bitString))
        try info.expectEnd()
        guard bits.first == 0 else { throw AttestationError(.key, "malformed public key: the key bit string has unused bits") }
        let point = Array(bits.dropFirst())
        switch oid {
        case OID.ecPublicKey:
            guard let parameters, parameters.tag == DER.objectIdentifier else {
                throw AttestationError(.key, "malformed EC public key: no named curve (explicit curve parameters are not supported)")
            }
            let curve = Array(parameters.content)
            guard curve == OID.p256 else {
                throw AttestationError(.key, "unsupported key type: EC curve \(OID.describe(curve)); supported: ECDSA P-256, Ed25519, RSA")
            }
            let key: P256.Signing.PublicKey?
            switch point.first {
            case 0x04: key = try? P256.Signing.PublicKey(x963Representation: point)
            case 0x02, 0x03: key = try? P256.Signing.PublicKey(compressedRepresentation: point)
            default: key = nil
            }
            guard let key else { throw AttestationError(.key, "malformed P-256 public key: the point is not on the curve") }
            self.init(p256: key)
        case OID.ed25519:
            guard parameters == nil, point.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: point) else {
                throw AttestationError(.key, "malformed Ed25519 public key: expected 32 bytes and no parameters")
            }
            self.init(ed25519: key)
        case OID.rsaEncryption, OID.rsaPSS:
            self.init(rsa: try Self.rsaKey(spki))
        default:
            throw AttestationError(.key, "unsupported key type: \(OID.describe(oid)); supported: ECDSA P-256, Ed25519, RSA")
        }
    }

    static func rsaKey(_ der: [UInt8]) throws -> _RSA.Signing.PublicKey {
        do {
            return try _RSA.Signing.PublicKey(derRepresentation: der)
        } catch {
            throw AttestationError(.key, "unsupported or malformed RSA public key (RSA keys must be at least 2048 bits)")
        }
    }

    /// "ecdsa-p256", "ed25519" or "rsa".
    public var algorithm: String {
        switch backing {
        case .p256: KeyAlgorithm.ecdsaP256.rawValue
        case .ed25519: KeyAlgorithm.ed25519.rawValue
        case .rsa: "rsa"
        }
    }

    /// The key as PEM "PUBLIC KEY" (PKIX), base64 in 64 columns, with a trailing newline.
    public var pem: String { PEM.encode(label: "PUBLIC KEY", der: der) }

    /// The DER SubjectPublicKeyInfo.
    public var derRepresentation: [UInt8] { der }

    /// SHA-256 hex of the DER SubjectPublicKeyInfo: a hint, never a trust decision.
    public var keyID: String { sha256Hex(der) }

    /// Whether `signature` is valid for `data`: ECDSA (DER signature over SHA-256 of `data`), Ed25519,
    /// or RSA PKCS#1 v1.5 with SHA-256.
    public func isValidSignature(_ signature: [UInt8], for data: [UInt8]) -> Bool {
        switch backing {
        case .p256(let key):
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: data)
        case .ed25519(let key):
            return signature.count == 64 && key.isValidSignature(signature, for: data)
        case .rsa(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
        }
    }

    /// Key equality is equality of the SubjectPublicKeyInfo DER.
    public static func == (lhs: VerificationKey, rhs: VerificationKey) -> Bool {
        lhs.der == rhs.der
    }
}

// MARK: - Encrypted key format

/// scrypt cost parameters, bounded so that a hostile key file cannot exhaust memory or time.
struct ScryptParameters: Equatable {
    var n: Int
    var r: Int
    var p: Int

    static let standard = ScryptParameters(n: 32768, r: 8, p: 1)

    /// N a power of two in 2^10...2^20, r*p at most 32, memory (128 * N * r) at most 256 MiB.
    var isAcceptable: Bool {
        guard n >= 1 << 10, n <= 1 << 20, n & (n - 1) == 0 else { return false }
        guard (1...32).contains(r), (1...32).contains(p), r * p <= 32 else { return false }
        return 128 * n * r <= 256 << 20
    }
}

/// The AEAD ciphers of encrypted key files.
enum KeyCipher: String {
    case aes256GCM = "aes-256-gcm"
    case chaCha20Poly1305 = "chacha20-poly1305"

    /// Seals `plaintext`: ciphertext followed by the 16-byte tag.
    func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        do {
            switch self {
            case .aes256GCM:
                let box = try AES.GCM.seal(plaintext, using: key, nonce: try AES.GCM.Nonce(data: nonce), authenticating: associatedData)
                return Array(box.ciphertext) + Array(box.tag)
            case .chaCha20Poly1305:
                let box = try ChaChaPoly.seal(plaintext, using: key, nonce: try ChaChaPoly.Nonce(data: nonce), authenticating: associatedData)
                return Array(box.ciphertext) + Array(box.tag)
            }
        } catch {
            throw AttestationError(.key, "encrypting the private key failed (\(error))")
        }
    }

    /// Opens ciphertext-and-tag; throws if authentication fails.
    func open(_ sealed: [UInt8], key: SymmetricKey, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        let ciphertext = sealed.dropLast(16), tag = sealed.suffix(16)
        switch self {
        case .aes256GCM:
            let box = try AES.GCM.SealedBox(nonce: try AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            return Array(try AES.GCM.open(box, using: key, authenticating: associatedData))
        case .chaCha20Poly1305:
            let box = try ChaChaPoly.SealedBox(nonce: try ChaChaPoly.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            return Array(try ChaChaPoly.open(box, using: key, authenticating: associatedData))
        }
    }
}

/// Everything of an encrypted key file except the ciphertext: what the AEAD authenticates.
struct EncryptedKeyHeader {
    var scrypt: ScryptParameters
    var salt: [UInt8]
    var cipher: KeyCipher
    var nonce: [UInt8]
    var algorithm: KeyAlgorithm

    /// `{"kdf":…,"cipher":…,"algorithm":"…"` without the closing brace (every string is base64 or a known name).
    private var jsonPrefix: String {
        "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":\(scrypt.n),\"r\":\(scrypt.r),\"p\":\(scrypt.p)},"
            + "\"salt\":\"\(Base64.encode(salt))\"},\"cipher\":{\"name\":\"\(cipher.rawValue)\",\"nonce\":\"\(Base64.encode(nonce))\"},"
            + "\"algorithm\":\"\(algorithm.rawValue)\""
    }

    /// The AEAD associated data: the file's JSON without the `ciphertext` member.
    var associatedData: [UInt8] { Array((jsonPrefix + "}").utf8) }

    /// The JSON body of the PEM block.
    func body(ciphertext: [UInt8]) -> [UInt8] {
        Array((jsonPrefix + ",\"ciphertext\":\"\(Base64.encode(ciphertext))\"}").utf8)
    }

    /// Refuses scrypt costs outside `ScryptParameters.isAcceptable` (checked before a passphrase is asked).
    func checkParameters() throws {
        guard scrypt.isAcceptable else {
            throw AttestationError(.key, """
                the key file asks for scrypt parameters N=\(scrypt.n) r=\(scrypt.r) p=\(scrypt.p), beyond what Harden accepts \
                (N a power of two from 2^10 to 2^20, r*p at most 32, at most 256 MiB): refusing to derive
                """)
        }
    }

    func deriveKey(passphrase: String) throws -> SymmetricKey {
        try checkParameters()
        do {
            return try KDF.Scrypt.deriveKey(
                from: Array(passphrase.utf8), salt: salt, outputByteCount: 32,
                rounds: scrypt.n, blockSize: scrypt.r, parallelism: scrypt.p)
        } catch {
            throw AttestationError(.key, "scrypt key derivation failed (\(error))")
        }
    }

    private struct Body: Decodable {
        struct KDFSection: Decodable {
            struct Params: Decodable {
                var n: Int, r: Int, p: Int
                enum CodingKeys: String, CodingKey { case n = "N", r, p }
            }
            var name: String
            var params: Params
            var salt: String
        }
        struct CipherSection: Decodable {
            var name: String
            var nonce: String
        }
        var kdf: KDFSection
        var cipher: CipherSection
        var algorithm: String
        var ciphertext: String
    }

    /// Parses and checks the JSON body of an "ENCRYPTED HARDEN PRIVATE KEY" block.
    static func parse(_ body: [UInt8]) throws -> (header: EncryptedKeyHeader, ciphertext: [UInt8]) {
        let malformed = "malformed encrypted Harden key (corrupt file?)"
        let decoded: Body
        do {
            decoded = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            throw AttestationError(.key, "\(malformed): its body is not the expected JSON")
        }
        guard decoded.kdf.name == "scrypt" else {
            throw AttestationError(.key, "unsupported key derivation '\(decoded.kdf.name.prefix(40))' in the encrypted key (expected scrypt)")
        }
        guard let cipher = KeyCipher(rawValue: decoded.cipher.name) else {
            throw AttestationError(.key, "unsupported cipher '\(decoded.cipher.name.prefix(40))' in the encrypted key (expected aes-256-gcm or chacha20-poly1305)")
        }
        guard let algorithm = KeyAlgorithm(rawValue: decoded.algorithm) else {
            throw AttestationError(.key, "unsupported key algorithm '\(decoded.algorithm.prefix(40))' in the encrypted key")
        }
        guard let salt = Base64.decode(decoded.kdf.salt), (16...64).contains(salt.count) else {
            throw AttestationError(.key, "\(malformed): the salt is not 16 to 64 bytes of base64")
        }
        guard let nonce = Base64.decode(decoded.cipher.nonce), nonce.count == 12 else {
            throw AttestationError(.key, "\(malformed): the nonce is not 12 bytes of base64")
        }
        guard let ciphertext = Base64.decode(decoded.ciphertext), (17...8192).contains(ciphertext.count) else {
            throw AttestationError(.key, "\(malformed): the ciphertext is not valid base64 of a plausible size")
        }
        let params = ScryptParameters(n: decoded.kdf.params.n, r: decoded.kdf.params.r, p: decoded.kdf.params.p)
        let header = EncryptedKeyHeader(scrypt: params, salt: salt, cipher: cipher, nonce: nonce, algorithm: algorithm)
        try header.checkParameters()
        return (header, ciphertext)
    }
}

/// Bytes from the system's cryptographically secure generator.
func secureRandomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}

// MARK: - PEM

/// PEM (RFC 7468) blocks.
enum PEM {
    struct Block {
        var label: String
        var headers: [String]
        var der: [UInt8]

        /// An RFC 1421 "Proc-Type: 4,ENCRYPTED" block (OpenSSL's legacy encryption).
        var isLegacyEncrypted: Bool { headers.contains { $0.hasPrefix("Proc-Type:") && $0.contains("ENCRYPTED") } }
    }

    static func legacyEncryptedError(_ label: String) -> AttestationError {
        AttestationError(.key, "legacy OpenSSL-encrypted PEM ('\(label)' with Proc-Type: 4,ENCRYPTED) is not supported: use `harden keygen` or an unencrypted PKCS#8 'PRIVATE KEY'")
    }

    /// The PEM text of `der` under `label`: base64 in 64 columns and a trailing newline.
    static func encode(label: String, der: [UInt8]) -> String {
        let base64 = Array(Base64.encode(der))
        var text = "-----BEGIN \(label)-----\n"
        var start = 0
        while start < base64.count {
            let end = min(start + 64, base64.count)
            text += String(base64[start..<end]) + "\n"
            start = end
        }
        return text + "-----END \(label)-----\n"
    }

    /// Every block in `text` (text outside blocks is ignored).
    static func decode(_ text: String) throws -> [Block] {
        var blocks: [Block] = []
        var current: (label: String, headers: [String], body: String)?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if var block = current {
                if line.hasPrefix("-----END ") {
                    guard line == "-----END \(block.label)-----" else {
                        throw AttestationError(.key, "corrupt PEM: block '\(block.label)' ends with '\(line.prefix(80))'")
                    }
                    guard !block.body.isEmpty, let der = Base64.decode(block.body) else {
                        throw AttestationError(.key, "corrupt PEM: block '\(block.label)' is not valid base64")
                    }
                    blocks.append(Block(label: block.label, headers: block.headers, der: der))
                    current = nil
                } else if line.hasPrefix("-----") {
                    throw AttestationError(.key, "corrupt PEM: block '\(block.label)' has no END line")
                } else if line.contains(":") && block.body.isEmpty {
                    block.headers.append(line)
                    current = block
                } else {
                    block.body += line.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\t", with: "")
                    current = block
                }
            } else if line.hasPrefix("-----BEGIN ") {
                guard line.hasSuffix("-----"), line.count > 16 else {
                    throw AttestationError(.key, "corrupt PEM: malformed BEGIN line '\(line.prefix(80))'")
                }
                let label = String(line.dropFirst(11).dropLast(5))
                current = (label, [], "")
            }
        }
        if let current {
            throw AttestationError(.key, "corrupt PEM: block '\(current.label)' has no END line (truncated file?)")
        }
        guard !blocks.isEmpty else {
            throw AttestationError(.key, "not a PEM key: no '-----BEGIN …-----' line found")
        }
        return blocks
    }

    /// The one key block of a PEM text ("EC PARAMETERS" blocks, as `openssl ecparam -genkey` writes, are skipped).
    static func singleKeyBlock(_ text: String) throws -> Block {
        let blocks = try decode(text).filter { $0.label != "EC PARAMETERS" }
        guard let first = blocks.first else {
            throw AttestationError(.key, "the PEM holds only EC PARAMETERS, no key")
        }
        guard blocks.count == 1 else {
            throw AttestationError(.key, "the PEM holds \(blocks.count) blocks (\(blocks.map(\.label).joined(separator: ", "))): give one key per file")
        }
        return first
    }
}

// MARK: - DER

/// Just enough DER to read keys: definite lengths, single-byte tags, bounds checked.
enum DER {
    static let integer: UInt8 = 0x02
    static let bitString: UInt8 = 0x03
    static let octetString: UInt8 = 0x04
    static let objectIdentifier: UInt8 = 0x06
    static let sequence: UInt8 = 0x30

    struct Element: Equatable {
        var tag: UInt8
        var content: ArraySlice<UInt8>
    }

    struct Reader {
        private let bytes: [UInt8]
        private var index: Int

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            index = 0
        }

        init(_ slice: ArraySlice<UInt8>) { self.init(Array(slice)) }

        var atEnd: Bool { index >= bytes.count }

        mutating func readAny() throws -> Element {
            func fail(_ why: String) -> AttestationError { AttestationError(.key, "malformed key: \(why) (corrupt DER)") }
            guard index + 2 <= bytes.count else { throw fail("truncated element") }
            let tag = bytes[index]
            guard tag & 0x1F != 0x1F else { throw fail("multi-byte tag") }
            var length = Int(bytes[index + 1])
            index += 2
            if length & 0x80 != 0 {
                let count = length & 0x7F
                guard count >= 1, count <= 3, index + count <= bytes.count else { throw fail("bad length") }
                length = 0
                for _ in 0..<count {
                    length = length << 8 | Int(bytes[index])
                    index += 1
                }
                guard length >= 0x80 else { throw fail("non-minimal length") }
            }
            guard length <= bytes.count - index else { throw fail("element longer than its container") }
            let content = bytes[index..<(index + length)]
            index += length
            return Element(tag: tag, content: content)
        }

        mutating func read(tag: UInt8) throws -> ArraySlice<UInt8> {
            let element = try readAny()
            guard element.tag == tag else {
                throw AttestationError(.key, String(format: "malformed key: expected DER tag 0x%02x, found 0x%02x", tag, element.tag))
            }
            return element.content
        }

        func expectEnd() throws {
            guard atEnd else { throw AttestationError(.key, "malformed key: trailing bytes after the DER structure") }
        }
    }
}

/// Object identifiers of key algorithms and curves (DER content bytes).
enum OID {
    static let ecPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let p256: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
    static let ed25519: [UInt8] = [0x2B, 0x65, 0x70]
    static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let rsaPSS: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A]

    /// SubjectPublicKeyInfo DER of an Ed25519 key up to the 32 key bytes (RFC 8410).
    static let ed25519SPKIPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    private static let names: [[UInt8]: String] = [
        ecPublicKey: "EC", p256: "P-256", ed25519: "Ed25519", rsaEncryption: "RSA", rsaPSS: "RSA-PSS",
        [0x2B, 0x81, 0x04, 0x00, 0x22]: "P-384",
        [0x2B, 0x81, 0x04, 0x00, 0x23]: "P-521",
        [0x2B, 0x81, 0x04, 0x00, 0x0A]: "secp256k1",
        [0x2B, 0x65, 0x71]: "Ed448",
        [0x2B, 0x65, 0x6E]: "X25519",
        [0x2B, 0x65, 0x6F]: "X448",
        [0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01]: "DSA",
    ]

    /// "P-384 (OID 1.3.132.0.34)", or just the dotted OID when the name is unknown.
    static func describe(_ oid: [UInt8]) -> String {
        let dotted = dottedString(oid)
        if let name = names[oid] { return "\(name) (OID \(dotted))" }
        return "OID \(dotted)"
    }

    static func dottedString(_ oid: [UInt8]) -> String {
        guard let first = oid.first, oid.count <= 64 else { return "invalid" }
        var parts = first < 80 ? [Int(first) / 40, Int(first) % 40] : [2, Int(first) - 80]
        var value = 0
        for byte in oid.dropFirst() {
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                parts.append(value)
                value = 0
            }
        }
        return parts.map(String.init).joined(separator: ".")
    }
}
