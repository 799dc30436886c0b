import Archive
import Foundation
import OCI

/// The predicate types Harden writes and reads (INTEROP.md).
public enum PredicateType {
    public static let slsaProvenance = "https://slsa.dev/provenance/v1"
    public static let spdx = "https://spdx.dev/Document"
    public static let cycloneDX = "https://cyclonedx.org/bom"
    public static let openVEX = "https://openvex.dev/ns"

    /// The short names users type (`--type`, `--require`) and the URIs they stand for.
    public static let shortNames: [String: String] = [
        "provenance": slsaProvenance, "slsaprovenance": slsaProvenance,
        "spdx": spdx, "spdxjson": spdx,
        "cyclonedx": cycloneDX,
        "vex": openVEX, "openvex": openVEX,
    ]

    /// `provenance`, `spdx`, `cyclonedx`, `vex`, or a full URI, as a predicate type URI.
    public static func resolve(_ name: String) throws -> String {
        if name.contains("://") { return name }
        if let uri = shortNames[name.lowercased()] { return uri }
        throw AttestationError(.statement, "unknown predicate type '\(name)': use provenance, spdx, cyclonedx, vex or a URI")
    }

    /// The short name of a predicate type URI, for people to read.
    public static func shortName(_ uri: String) -> String {
        switch uri {
        case slsaProvenance: "provenance"
        case spdx: "spdx"
        case cycloneDX: "cyclonedx"
        case openVEX: "vex"
        default: uri
        }
    }
}

/// An in-toto Statement v1: what is said (the predicate) about which artifacts (the subjects).
public struct Statement: Sendable {
    public static let type = "https://in-toto.io/Statement/v1"

    /// An artifact the statement is about, matched by digest.
    public struct Subject: Sendable, Codable, Equatable {
        public var name: String
        public var digest: [String: String]
        public init(name: String, digest: Digest) {
            self.name = name
            self.digest = ["sha256": digest.hex]
        }
    }

    public var subjects: [Subject]
    public var predicateType: String
    /// The predicate's JSON bytes (an object), embedded as they are.
    public var predicate: [UInt8]

    public init(subjects: [Subject], predicateType: String, predicate: [UInt8]) {
        self.subjects = subjects
        self.predicateType = predicateType
        self.predicate = predicate
    }

    /// The statement's bytes: keys in byte order, the predicate embedded unchanged (so an SBOM
    /// signed as a predicate is the SBOM that was written).
    public func encoded() throws -> [UInt8] {
        guard (try? JSONSerialization.jsonObject(with: Data(predicate))) is [String: Any] else {
            throw AttestationError(.statement, "the predicate is not a JSON object")
        }
        var bytes = Array(#"{"_type":"#.utf8) + (try CanonicalJSON.encode(Self.type))
        bytes += Array(#","predicate":"#.utf8) + predicate
        bytes += Array(#","predicateType":"#.utf8) + (try CanonicalJSON.encode(predicateType))
        bytes += Array(#","subject":"#.utf8) + (try CanonicalJSON.encode(subjects)) + Array("}".utf8)
        return bytes
    }

    /// Parses a statement (as found in a DSSE payload); the predicate comes back as compact JSON.
    public static func decode(_ bytes: [UInt8]) throws -> Statement {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw AttestationError(.statement, "the statement is not a JSON object")
        }
        guard let type = object["_type"] as? String, type == Self.type || type == "https://in-toto.io/Statement/v0.1" else {
            throw AttestationError(.statement, "not an in-toto statement (_type is \(object["_type"].map { "\($0)" } ?? "missing"))")
        }
        guard let predicateType = object["predicateType"] as? String else { throw AttestationError(.statement, "the statement has no predicateType") }
        guard let rawSubjects = object["subject"] as? [[String: Any]], !rawSubjects.isEmpty else {
            throw AttestationError(.statement, "the statement has no subject")
        }
        var subjects: [Subject] = []
        for raw in rawSubjects {
            guard let digests = raw["digest"] as? [String: String] else { throw AttestationError(.statement, "a subject has no digest") }
            subjects.append(Subject(name: raw["name"] as? String ?? "", digests: digests))
        }
        guard let predicate = object["predicate"] as? [String: Any],
              let predicateBytes = try? JSONSerialization.data(withJSONObject: predicate, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            throw AttestationError(.statement, "the statement's predicate is not a JSON object")
        }
        return Statement(subjects: subjects, predicateType: predicateType, predicate: Array(predicateBytes))
    }

    /// Whether `digest` is among the subjects.
    public func isAbout(_ digest: Digest) -> Bool {
        subjects.contains { $0.digest["sha256"] == digest.hex }
    }
}

extension Statement.Subject {
    init(name: String, digests: [String: String]) {
        self.name = name
        self.digest = digests
    }
}
