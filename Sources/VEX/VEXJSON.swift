import Foundation

// The JSON form of OpenVEX v0.2.0. Reading checks shapes and types, rejects fields the schema
// does not have (a misspelt `justifcation` must not pass silently) and runs `validate()`; writing
// leaves absent fields out (no nulls) and formats times with `VEXTimestamp`.

/// A JSON object key.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// `error` as a `VEXError`, describing decoding errors in words.
func vexError(_ error: Error) -> VEXError {
    if let error = error as? VEXError { return error }
    return .invalid(describeDecodingError(error))
}

/// A decoding error in words, for messages.
func describeDecodingError(_ error: Error) -> String {
    switch error {
    case DecodingError.dataCorrupted(let context):
        context.codingPath.isEmpty ? "not valid JSON" : context.debugDescription
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        "wrong type" + (context.codingPath.isEmpty ? "" : " at " + context.codingPath.map(\.stringValue).joined(separator: "."))
    case DecodingError.keyNotFound(let key, _):
        "missing '\(key.stringValue)'"
    default:
        "\(error)"
    }
}

/// The keyed container of `decoder`, or an error saying `what` is not a JSON object.
private func object(_ decoder: Decoder, _ what: String, allowed: Set<String>) throws -> KeyedDecodingContainer<JSONKey> {
    guard let container = try? decoder.container(keyedBy: JSONKey.self) else { throw VEXError.invalid("\(what) is not a JSON object") }
    for key in container.allKeys.map(\.stringValue).sorted() where !allowed.contains(key) {
        throw VEXError.invalid("unknown field '\(key)' in \(what)")
    }
    return container
}

extension KeyedDecodingContainer where Key == JSONKey {
    /// The string at `key`, nil when absent; null or another type is an error.
    func string(_ key: String) throws -> String? {
        let k = JSONKey(key)
        guard contains(k) else { return nil }
        guard let value = try? decode(String.self, forKey: k) else { throw VEXError.invalid("'\(key)' is not a string") }
        return value
    }

    func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw VEXError.invalid("missing '\(key)'") }
        return value
    }

    /// The RFC 3339 time at `key`, nil when absent.
    func time(_ key: String) throws -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = VEXTimestamp.parse(text) else {
            throw VEXError.invalid("\(key) '\(text)' is not an RFC 3339 date-time (like 2024-05-01T12:00:00Z)")
        }
        return date
    }

    func integer(_ key: String) throws -> Int? {
        let k = JSONKey(key)
        guard contains(k) else { return nil }
        guard let value = try? decode(Int.self, forKey: k) else { throw VEXError.invalid("'\(key)' is not an integer") }
        return value
    }

    /// The array at `key` decoded element by element, errors prefixed with `what` and the index.
    func list<T: Decodable>(_ key: String, of what: String) throws -> [T]? {
        let k = JSONKey(key)
        guard contains(k) else { return nil }
        guard var array = try? nestedUnkeyedContainer(forKey: k) else { throw VEXError.invalid("'\(key)' is not an array") }
        var out: [T] = []
        while !array.isAtEnd {
            do {
                out.append(try array.decode(T.self))
            } catch {
                throw vexError(error).within("\(what) \(out.count)")
            }
        }
        return out
    }

    func strings(_ key: String) throws -> [String]? {
        let k = JSONKey(key)
        guard contains(k) else { return nil }
        guard let value = try? decode([String].self, forKey: k) else { throw VEXError.invalid("'\(key)' is not an array of strings") }
        return value
    }

    func hashes(_ key: String) throws -> [String: String]? {
        let k = JSONKey(key)
        guard contains(k) else { return nil }
        guard let value = try? decode([String: String].self, forKey: k) else {
            throw VEXError.invalid("'\(key)' is not an object of strings")
        }
        return value
    }
}

extension KeyedEncodingContainer where Key == JSONKey {
    mutating func put<T: Encodable>(_ value: T?, _ key: String) throws {
        if let value { try encode(value, forKey: JSONKey(key)) }
    }

    mutating func put(_ date: Date?, _ key: String) throws {
        if let date { try encode(VEXTimestamp.format(date), forKey: JSONKey(key)) }
    }

    /// Leaves out absent and empty arrays.
    mutating func put<T: Encodable>(_ list: [T]?, _ key: String) throws {
        if let list, !list.isEmpty { try encode(list, forKey: JSONKey(key)) }
    }
}

extension VEXDocument: Codable {
    public init(from decoder: Decoder) throws {
        let c = try object(decoder, "the document",
                           allowed: ["@context", "@id", "author", "role", "timestamp", "last_updated", "version", "tooling", "statements"])
        guard let context = try c.string("@context") else { throw VEXError.invalid("missing '@context' (\(VEXDocument.context))") }
        guard context == VEXDocument.context else {
            throw VEXError.invalid("@context '\(context)' is not \(VEXDocument.context) (only OpenVEX v0.2.0 is read)")
        }
        id = try c.requiredString("@id")
        author = try c.requiredString("author")
        role = try c.string("role")
        guard let timestamp = try c.time("timestamp") else { throw VEXError.invalid("missing 'timestamp'") }
        self.timestamp = timestamp
        lastUpdated = try c.time("last_updated")
        guard let version = try c.integer("version") else { throw VEXError.invalid("missing 'version'") }
        self.version = version
        tooling = try c.string("tooling")
        let key = JSONKey("statements")
        guard c.contains(key) else { throw VEXError.invalid("missing 'statements'") }
        guard var list = try? c.nestedUnkeyedContainer(forKey: key) else { throw VEXError.invalid("'statements' is not an array") }
        var statements: [VEXStatement] = []
        while !list.isAtEnd {
            do {
                statements.append(try list.decode(VEXStatement.self))
            } catch {
                throw vexError(error).inStatement(statements.count)
            }
        }
        self.statements = statements
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(VEXDocument.context, "@context")
        try c.put(id, "@id")
        try c.put(author, "author")
        try c.put(role, "role")
        try c.put(timestamp, "timestamp")
        try c.put(lastUpdated, "last_updated")
        try c.put(version, "version")
        try c.put(tooling, "tooling")
        try c.put(statements, "statements")
    }
}

extension VEXStatement: Codable {
    public init(from decoder: Decoder) throws {
        let c = try object(decoder, "the statement", allowed: [
            "@id", "version", "vulnerability", "timestamp", "last_updated", "products", "status", "supplier", "status_notes",
            "justification", "impact_statement", "action_statement", "action_statement_timestamp",
        ])
        id = try c.string("@id")
        version = try c.integer("version")
        guard c.contains(JSONKey("vulnerability")) else { throw VEXError.invalid("missing 'vulnerability'") }
        do {
            vulnerability = try c.decode(VEXVulnerability.self, forKey: JSONKey("vulnerability"))
        } catch {
            throw vexError(error).within("vulnerability")
        }
        timestamp = try c.time("timestamp")
        lastUpdated = try c.time("last_updated")
        guard let products: [VEXProduct] = try c.list("products", of: "product") else { throw VEXError.invalid("no products") }
        self.products = products
        guard let statusText = try c.string("status") else { throw VEXError.invalid("missing 'status'") }
        guard let status = VEXStatus(rawValue: statusText) else {
            throw VEXError.invalid("status '\(statusText)' is not one of \(VEXStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.status = status
        supplier = try c.string("supplier")
        statusNotes = try c.string("status_notes")
        if let text = try c.string("justification") {
            guard let justification = VEXJustification(rawValue: text) else {
                throw VEXError.invalid("justification '\(text)' is not one of \(VEXJustification.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.justification = justification
        } else {
            justification = nil
        }
        impactStatement = try c.string("impact_statement")
        actionStatement = try c.string("action_statement")
        actionStatementTimestamp = try c.time("action_statement_timestamp")
        self = normalized()
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(id, "@id")
        try c.put(version, "version")
        try c.put(vulnerability, "vulnerability")
        try c.put(timestamp, "timestamp")
        try c.put(lastUpdated, "last_updated")
        try c.put(products, "products")
        try c.put(status.rawValue, "status")
        try c.put(supplier, "supplier")
        try c.put(statusNotes, "status_notes")
        try c.put(justification?.rawValue, "justification")
        try c.put(impactStatement, "impact_statement")
        try c.put(actionStatement, "action_statement")
        try c.put(actionStatementTimestamp, "action_statement_timestamp")
    }
}

extension VEXVulnerability: Codable {
    public init(from decoder: Decoder) throws {
        let c = try object(decoder, "the vulnerability", allowed: ["@id", "name", "description", "aliases"])
        name = try c.requiredString("name")
        id = try c.string("@id")
        description = try c.string("description")
        aliases = try c.strings("aliases")
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(name, "name")
        try c.put(id, "@id")
        try c.put(description, "description")
        try c.put(aliases, "aliases")
    }
}

extension VEXProduct: Codable {
    public init(from decoder: Decoder) throws {
        let c = try object(decoder, "the product", allowed: ["@id", "identifiers", "hashes", "subcomponents"])
        id = try c.string("@id")
        identifiers = try c.decodeIfPresent(VEXIdentifiers.self, forKey: JSONKey("identifiers"))
        hashes = try c.hashes("hashes")
        subcomponents = try c.list("subcomponents", of: "subcomponent")
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(id, "@id")
        try c.put(identifiers, "identifiers")
        try c.put(hashes, "hashes")
        try c.put(subcomponents, "subcomponents")
    }
}

extension VEXSubcomponent: Codable {
    public init(from decoder: Decoder) throws {
        let c = try object(decoder, "the subcomponent", allowed: ["@id", "identifiers", "hashes"])
        id = try c.string("@id")
        identifiers = try c.decodeIfPresent(VEXIdentifiers.self, forKey: JSONKey("identifiers"))
        hashes = try c.hashes("hashes")
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(id, "@id")
        try c.put(identifiers, "identifiers")
        try c.put(hashes, "hashes")
    }
}

extension VEXIdentifiers: Codable {
    public init(from decoder: Decoder) throws {
        let c = try object(decoder, "identifiers", allowed: ["purl", "cpe22", "cpe23"])
        purl = try c.string("purl")
        cpe22 = try c.string("cpe22")
        cpe23 = try c.string("cpe23")
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(purl, "purl")
        try c.put(cpe22, "cpe22")
        try c.put(cpe23, "cpe23")
    }
}
