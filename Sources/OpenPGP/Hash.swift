import Crypto

/// OpenPGP hash algorithm identifiers (RFC 4880 §9.4, RFC 9580 §9.5).
enum HashAlgorithm: Int, Sendable {
    case md5 = 1, sha1 = 2, ripemd160 = 3, sha256 = 8, sha384 = 9, sha512 = 10, sha224 = 11, sha3_256 = 12, sha3_512 = 14

    static func name(of id: Int) -> String {
        HashAlgorithm(rawValue: id)?.name ?? "hash algorithm \(id)"
    }

    var name: String {
        switch self {
        case .md5: "MD5"
        case .sha1: "SHA1"
        case .ripemd160: "RIPEMD160"
        case .sha256: "SHA256"
        case .sha384: "SHA384"
        case .sha512: "SHA512"
        case .sha224: "SHA224"
        case .sha3_256: "SHA3-256"
        case .sha3_512: "SHA3-512"
        }
    }

    /// Weak algorithms are refused for data signatures.
    var isWeak: Bool { self == .md5 || self == .sha1 || self == .ripemd160 }
}

/// A digest in the form the verifiers need (swift-crypto digest types for RSA).
enum DigestValue {
    case sha1(Insecure.SHA1Digest)
    case sha256(SHA256Digest)
    case sha384(SHA384Digest)
    case sha512(SHA512Digest)
    case sha224([UInt8])

    var bytes: [UInt8] {
        switch self {
        case .sha1(let d): Array(d)
        case .sha256(let d): Array(d)
        case .sha384(let d): Array(d)
        case .sha512(let d): Array(d)
        case .sha224(let d): d
        }
    }
}

/// An incremental hash over one of the supported algorithms.
struct MessageHasher {
    private enum Backing {
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
        case sha384(SHA384)
        case sha512(SHA512)
        case sha224(SHA224)
    }
    private var backing: Backing

    /// A hasher for `algorithm`, or nil when it is not implemented (MD5, RIPEMD160, SHA3).
    init?(_ algorithm: HashAlgorithm) {
        switch algorithm {
        case .sha1: backing = .sha1(Insecure.SHA1())
        case .sha256: backing = .sha256(SHA256())
        case .sha384: backing = .sha384(SHA384())
        case .sha512: backing = .sha512(SHA512())
        case .sha224: backing = .sha224(SHA224())
        default: return nil
        }
    }

    mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(buffer: UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update(buffer: $0) } }
    }

    private mutating func update(buffer: UnsafeRawBufferPointer) {
        switch backing {
        case .sha1(var h): h.update(bufferPointer: buffer); backing = .sha1(h)
        case .sha256(var h): h.update(bufferPointer: buffer); backing = .sha256(h)
        case .sha384(var h): h.update(bufferPointer: buffer); backing = .sha384(h)
        case .sha512(var h): h.update(bufferPointer: buffer); backing = .sha512(h)
        case .sha224(var h): h.update(buffer); backing = .sha224(h)
        }
    }

    func finalize() -> DigestValue {
        switch backing {
        case .sha1(let h): .sha1(h.finalize())
        case .sha256(let h): .sha256(h.finalize())
        case .sha384(let h): .sha384(h.finalize())
        case .sha512(let h): .sha512(h.finalize())
        case .sha224(let h): .sha224(h.finalize())
        }
    }
}

/// SHA-224 (FIPS 180-4): the SHA-256 compression with its own initial values, truncated to 28 bytes.
/// swift-crypto does not offer it.
struct SHA224: Sendable {
    private var state: [UInt32] = [0xC105_9ED8, 0x367C_D507, 0x3070_DD17, 0xF70E_5939,
                                   0xFFC0_0B31, 0x6858_1511, 0x64F9_8FA7, 0xBEFA_4FA4]
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    mutating func update(_ data: UnsafeRawBufferPointer) {
        length &+= UInt64(data.count)
        var index = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, data.count)
            buffer += data[0..<take]
            index = take
            if buffer.count == 64 { compress(buffer[...]); buffer.removeAll(keepingCapacity: true) }
        }
        while data.count - index >= 64 {
            compress(Array(data[index..<(index + 64)])[...])
            index += 64
        }
        if index < data.count { buffer += data[index..<data.count] }
    }

    func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        var tail = buffer + [0x80]
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var i = 0
        while i < tail.count { copy.compress(tail[i..<(i + 64)]); i += 64 }
        var out: [UInt8] = []
        for word in copy.state.prefix(7) {
            out += [UInt8(truncatingIfNeeded: word >> 24), UInt8(truncatingIfNeeded: word >> 16),
                    UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        }
        return out
    }

    private mutating func compress(_ block: ArraySlice<UInt8>) {
        var w = [UInt32](repeating: 0, count: 64)
        let base = block.startIndex
        for t in 0..<16 {
            w[t] = UInt32(block[base + 4 * t]) << 24 | UInt32(block[base + 4 * t + 1]) << 16
                | UInt32(block[base + 4 * t + 2]) << 8 | UInt32(block[base + 4 * t + 3])
        }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
        for t in 16..<64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = state[0], b = state[1], c = state[2], d = state[3]
        var e = state[4], f = state[5], g = state[6], h = state[7]
        for t in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ SHA224.k[t] &+ w[t]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
        state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }
}
