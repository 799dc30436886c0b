import Archive

/// A content digest: `sha256:` followed by 64 lowercase hex digits, validated on creation.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// The hex part.
    public let hex: String

    /// Parses and validates `text`.
    public init(_ text: String) throws {
        guard text.hasPrefix("sha256:") else { throw OCIError.invalidDigest(text) }
        let hex = text.dropFirst(7)
        guard hex.utf8.count == 64,
              hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { throw OCIError.invalidDigest(text) }
        self.hex = String(hex)
    }

    /// A digest from a 64-digit lowercase hex string (as `HashingSink` gives).
    public init(hex: String) throws { try self.init("sha256:" + hex) }

    /// The SHA-256 digest of `bytes`.
    public static func of<C: ContiguousBytes>(_ bytes: C) -> Digest {
        Digest(trustedHex: sha256Hex(bytes))
    }

    private init(trustedHex: String) { hex = trustedHex }

    public var algorithm: String { "sha256" }
    public var description: String { "sha256:" + hex }
    /// A short form for humans: the first 12 hex digits.
    public var short: String { String(hex.prefix(12)) }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }
}

import Foundation
