import Archive
import Attestation
import Foundation
import Yams

/// What `harden verify` demands of an image beyond valid signatures (a YAML file, docs/signing.md).
public struct VerificationPolicy: Sendable, Equatable {
    /// Attestations every platform image must carry, verified: predicate type URIs.
    public var required: [String]
    /// The provenance must name this builder and build type.
    public var builderID: String
    public var buildType: String
    /// The image must not run as root.
    public var nonRoot: Bool
    /// The image must hold no shell.
    public var noShell: Bool

    public init(required: [String] = [], builderID: String = Provenance.builderID, buildType: String = Provenance.buildType,
                nonRoot: Bool = false, noShell: Bool = false) {
        self.required = required
        self.builderID = builderID
        self.buildType = buildType
        self.nonRoot = nonRoot
        self.noShell = noShell
    }

    /// The keys a policy file may hold.
    static let keys: Set<String> = ["require", "builder-id", "build-type", "non-root", "no-shell"]

    /// Parses a policy file:
    /// ```yaml
    /// require: [provenance, spdx, cyclonedx]
    /// builder-id: https://harden.dev/builders/harden-cli/v1
    /// build-type: https://harden.dev/buildtypes/debian-image/v1
    /// non-root: true
    /// no-shell: true
    /// ```
    public init(yaml text: String, file: String) throws {
        let node: Any?
        do { node = try Yams.load(yaml: text) } catch { throw PolicyError("\(file): not valid YAML: \(error)") }
        guard let map = node as? [String: Any] else { throw PolicyError("\(file): a policy is a mapping of keys (\(Self.keys.sorted().joined(separator: ", ")))") }
        for key in map.keys where !Self.keys.contains(key) {
            throw PolicyError("\(file): unknown key '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        self.init()
        if let require = map["require"] {
            guard let names = require as? [String] else { throw PolicyError("\(file): 'require' is a list of predicate types") }
            do { required = try names.map { try PredicateType.resolve($0) } } catch { throw PolicyError("\(file): \(error)") }
        }
        for (key, path) in [("builder-id", \VerificationPolicy.builderID), ("build-type", \VerificationPolicy.buildType)] {
            guard let value = map[key] else { continue }
            guard let text = value as? String, !text.isEmpty else { throw PolicyError("\(file): '\(key)' is a URI") }
            self[keyPath: path] = text
        }
        for (key, path) in [("non-root", \VerificationPolicy.nonRoot), ("no-shell", \VerificationPolicy.noShell)] {
            guard let value = map[key] else { continue }
            guard let flag = value as? Bool else { throw PolicyError("\(file): '\(key)' is true or false") }
            self[keyPath: path] = flag
        }
    }

    /// Reads a policy file.
    public static func load(_ path: String) throws -> VerificationPolicy {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path, limit: 1 << 20) } catch { throw PolicyError("cannot read policy \(path): \(error)") }
        return try VerificationPolicy(yaml: String(decoding: bytes, as: UTF8.self), file: path)
    }
}

/// A policy that cannot be read or used, in one line.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
