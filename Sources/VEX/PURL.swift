/// A package URL (`pkg:type/namespace/name@version?qualifiers#subpath`, purl specification),
/// held decoded: `version` of `pkg:deb/debian/libc6@2.36-9%2Bdeb12u4` is `2.36-9+deb12u4`.
///
/// Parsing follows the specification's algorithm: the subpath is split off at the last `#`, the
/// qualifiers at the last `?`, the version at the last `@`, the name at the last `/`. Components
/// are percent-decoded, the type and qualifier keys lower-cased, qualifiers with an empty value
/// dropped, and empty, `.` and `..` subpath segments removed. An unencoded `:` is accepted
/// anywhere (so `pkg:oci/app@sha256:abc…` parses like `pkg:oci/app@sha256%3Aabc…`).
///
/// `description` is the canonical form: qualifiers sorted by key, each component percent-encoded
/// except letters, digits, `.-_~` and `:` (so `+` becomes `%2B` and a `/` inside a qualifier value
/// `%2F`), separators unencoded.
public struct PURL: Sendable, Hashable, CustomStringConvertible {
    /// The package type, lower-case: `deb`, `oci`, `npm`…
    public var type: String
    /// Namespace segments joined by `/` (decoded), or nil.
    public var namespace: String?
    /// The package name (decoded).
    public var name: String
    /// The version (decoded), or nil.
    public var version: String?
    /// Qualifiers by lower-case key (values decoded, never empty).
    public var qualifiers: [String: String]
    /// Subpath segments joined by `/` (decoded), or nil.
    public var subpath: String?

    /// A package URL from decoded components. The type and qualifier keys are lower-cased,
    /// empty namespace, version and subpath become nil, and empty qualifier values are dropped.
    public init(type: String, namespace: String? = nil, name: String, version: String? = nil,
                qualifiers: [String: String] = [:], subpath: String? = nil) {
        self.type = type.lowercased()
        self.namespace = namespace.flatMap { $0.isEmpty ? nil : $0 }
        self.name = name
        self.version = version.flatMap { $0.isEmpty ? nil : $0 }
        var kept: [String: String] = [:]
        for (key, value) in qualifiers where !value.isEmpty { kept[key.lowercased()] = value }
        self.qualifiers = kept
        self.subpath = subpath.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Parses `text`; throws `VEXError.invalidPURL` saying what is wrong.
    public init(_ text: String) throws {
        func fail(_ reason: String) -> VEXError { .invalidPURL(text, reason: reason) }
        func decoded(_ part: Substring, _ what: String) throws -> String {
            guard let value = PercentEncoding.decode(part) else { throw fail("\(what) '\(part)' has a bad percent-encoding") }
            return value
        }

        var rest = Substring(text)
        var subpath: String?
        if let hash = rest.lastIndex(of: "#") {
            let segments = try rest[rest.index(after: hash)...].split(separator: "/").map { try decoded($0, "subpath segment") }
            let kept = segments.filter { !$0.isEmpty && $0 != "." && $0 != ".." }
            if !kept.isEmpty { subpath = kept.joined(separator: "/") }
            rest = rest[..<hash]
        }
        var qualifiers: [String: String] = [:]
        if let question = rest.lastIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                guard let equals = pair.firstIndex(of: "=") else { throw fail("qualifier '\(pair)' has no '='") }
                let key = pair[..<equals].lowercased()
                guard PURL.isName(key, extra: "._-") else { throw fail("qualifier key '\(pair[..<equals])' is not a letter followed by letters, digits, '.', '-' or '_'") }
                let value = try decoded(pair[pair.index(after: equals)...], "qualifier '\(key)'")
                if value.isEmpty { continue }
                guard qualifiers[key] == nil else { throw fail("qualifier '\(key)' appears twice") }
                qualifiers[key] = value
            }
            rest = rest[..<question]
        }
        guard let colon = rest.firstIndex(of: ":"), rest[..<colon].lowercased() == "pkg" else {
            throw fail("it does not start with 'pkg:'")
        }
        rest = rest[rest.index(after: colon)...]
        while rest.first == "/" { rest = rest.dropFirst() }
        while rest.last == "/" { rest = rest.dropLast() }
        guard let slash = rest.firstIndex(of: "/") else { throw fail("no '/' after the type") }
        let type = rest[..<slash].lowercased()
        guard PURL.isName(type, extra: ".+-") else { throw fail("type '\(rest[..<slash])' is not a letter followed by letters, digits, '.', '+' or '-'") }
        rest = rest[rest.index(after: slash)...]
        var version: String?
        if let at = rest.lastIndex(of: "@") {
            version = try decoded(rest[rest.index(after: at)...], "version")
            rest = rest[..<at]
        }
        var segments = rest.split(separator: "/")
        guard let last = segments.popLast() else { throw fail("no name") }
        let name = try decoded(last, "name")
        guard !name.isEmpty else { throw fail("no name") }
        let namespace = try segments.map { try decoded($0, "namespace segment") }
        guard !namespace.contains(where: { $0.contains("/") }) else { throw fail("a namespace segment contains an encoded '/'") }
        self.init(type: type, namespace: namespace.joined(separator: "/"), name: name, version: version,
                  qualifiers: qualifiers, subpath: subpath)
    }

    /// Whether `text` (already lower-cased) is an ASCII letter followed by letters, digits and `extra`.
    private static func isName(_ text: String, extra: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") else { return false }
        return bytes.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || extra.utf8.contains(byte)
        }
    }

    /// The canonical string (see the type's documentation).
    public var description: String {
        var out = "pkg:" + type + "/"
        if let namespace {
            out += namespace.split(separator: "/").map { PercentEncoding.encode(String($0)) }.joined(separator: "/") + "/"
        }
        out += PercentEncoding.encode(name)
        if let version { out += "@" + PercentEncoding.encode(version) }
        if !qualifiers.isEmpty {
            out += "?" + qualifiers.keys.sorted().map { "\($0)=\(PercentEncoding.encode(qualifiers[$0]!))" }.joined(separator: "&")
        }
        if let subpath {
            out += "#" + subpath.split(separator: "/").map { PercentEncoding.encode(String($0)) }.joined(separator: "/")
        }
        return out
    }
}

extension PURL: Codable {
    /// Decodes a purl from its string form.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    /// Encodes the canonical string.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
