/// A reference to an image in a registry: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, normalized as
/// Docker does (`nginx` is `docker.io/library/nginx:latest`).
public struct RegistryReference: Sendable, Hashable, CustomStringConvertible {
    public var registry: String
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    public static let defaultRegistry = "docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference, validating each part.
    public init(parsing text: String) throws {
        func fail(_ reason: String) -> OCIError { .invalidReference(text, reason: reason) }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            digest = try? Digest(String(rest[rest.index(after: at)...]))
            if digest == nil { throw fail("the part after '@' is not a sha256 digest") }
            rest = rest[..<at]
        }
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tag = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(tag) else { throw fail("invalid tag '\(tag)' (letters, digits, '_', '.', '-'; at most 128)") }
            self.tag = tag
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let first = components.first, !first.isEmpty else { throw fail("no repository name") }
        if components.count > 1 && (first.contains(".") || first.contains(":") || first == "localhost") {
            registry = first
            components.removeFirst()
            guard Self.isValidRegistry(registry) else { throw fail("invalid registry host '\(registry)'") }
        } else {
            registry = Self.defaultRegistry
        }
        if registry == Self.defaultRegistry && components.count == 1 { components.insert("library", at: 0) }
        for component in components where !Self.isValidPathComponent(component) {
            throw fail("invalid repository component '\(component)' (lowercase letters, digits and . _ - separators)")
        }
        repository = components.joined(separator: "/")
        guard repository.utf8.count <= 255 else { throw fail("repository name longer than 255 characters") }
        if tag == nil && digest == nil { tag = "latest" }
    }

    /// The reference written out in full.
    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// What a registry request names: the digest when there is one, else the tag.
    public var reference: String { digest?.description ?? tag ?? "latest" }

    static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.utf8.first, tag.utf8.count <= 128 else { return false }
        func word(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        return word(first) && tag.utf8.allSatisfy { word($0) || $0 == 46 || $0 == 45 }
    }

    static func isValidPathComponent(_ component: String) -> Bool {
        // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 122) }
        guard alnum(first), alnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if alnum(bytes[i]) { i += 1; continue }
            var j = i
            while j < bytes.count && !alnum(bytes[j]) { j += 1 }
            let separator = String(decoding: bytes[i..<j], as: UTF8.self)
            guard separator == "." || separator == "_" || separator == "__" || separator.allSatisfy({ $0 == "-" }) else { return false }
            i = j
        }
        return true
    }

    static func isValidRegistry(_ host: String) -> Bool {
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else { return false }
        if parts.count == 2 { guard let port = Int(parts[1]), (1...65535).contains(port) else { return false } }
        return parts[0].utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 45 || c == 91 || c == 93
        }
    }
}

/// Where an image is: a local layout, an archive, or a registry (skopeo's transport syntax).
public enum ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    case layout(path: String, tag: String?)
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    case ociArchive(path: String, tag: String?)
    /// `docker-archive:FILE[:NAME:TAG]`: the `docker save` format.
    case dockerArchive(path: String, name: String?)
    /// `[docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST]`.
    case registry(RegistryReference)

    /// A short name for the image that `text` refers to, for documents and reports: the last
    /// path component without its tag (`python` for `localhost:5000/hardened/python:3.11`).
    public static func shortName(of text: String) -> String {
        text.split(separator: "/").last.map { String($0.split(separator: ":").first ?? $0) } ?? text
    }

    /// Parses a reference with a transport prefix; text without one is a registry reference.
    public init(parsing text: String) throws {
        func split(_ rest: Substring) throws -> (String, String?) {
            let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            guard !path.isEmpty else { throw OCIError.invalidReference(text, reason: "no path after the transport") }
            let tag = parts.count > 1 ? String(parts[1]) : nil
            if let tag, tag.isEmpty { throw OCIError.invalidReference(text, reason: "empty tag after ':'") }
            return (path, tag)
        }
        if text.hasPrefix("oci:") {
            let (path, tag) = try split(text.dropFirst(4))
            if let tag, !Self.isValidRefName(tag) {
                throw OCIError.invalidReference(text, reason: "invalid tag '\(tag)' (letters, digits and - . _ : @ + /)")
            }
            self = .layout(path: path, tag: tag)
        } else if text.hasPrefix("oci-archive:") {
            let (path, tag) = try split(text.dropFirst(12))
            self = .ociArchive(path: path, tag: tag)
        } else if text.hasPrefix("docker-archive:") {
            let (path, name) = try split(text.dropFirst(15))
            if let name { _ = try RegistryReference(parsing: name) }
            self = .dockerArchive(path: path, name: name)
        } else if text.hasPrefix("docker://") {
            self = .registry(try RegistryReference(parsing: String(text.dropFirst(9))))
        } else if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/"), !text[..<colon].contains("."),
                  text[..<colon].allSatisfy({ $0.isLetter || $0 == "-" }), text[..<colon] != "localhost",
                  text[text.index(after: colon)...].contains("/") || text[text.index(after: colon)...].hasPrefix(".") {
            throw OCIError.invalidReference(text, reason: "unknown transport '\(text[..<colon])' (use oci:, oci-archive:, docker-archive: or a registry reference)")
        } else {
            self = .registry(try RegistryReference(parsing: text))
        }
    }

    /// OCI layout ref names (`org.opencontainers.image.ref.name`): alphanumerics with `-._:@+/` separators.
    static func isValidRefName(_ name: String) -> Bool {
        guard let first = name.utf8.first, let last = name.utf8.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        return alnum(first) && alnum(last) && name.utf8.allSatisfy { alnum($0) || "-._:@+/".utf8.contains($0) }
    }

    public var description: String {
        switch self {
        case .layout(let path, let tag): "oci:\(path)" + (tag.map { ":\($0)" } ?? "")
        case .ociArchive(let path, let tag): "oci-archive:\(path)" + (tag.map { ":\($0)" } ?? "")
        case .dockerArchive(let path, let name): "docker-archive:\(path)" + (name.map { ":\($0)" } ?? "")
        case .registry(let reference): reference.description
        }
    }
}
