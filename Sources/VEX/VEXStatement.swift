import Foundation

/// The vulnerability a statement is about: `name` (a CVE, GHSA… id), optional `@id` IRI,
/// description and aliases (other ids of the same vulnerability).
public struct VEXVulnerability: Sendable, Hashable {
    /// The main identifier, e.g. `CVE-2024-1234`.
    public var name: String
    /// `@id`: an IRI for the vulnerability.
    public var id: String?
    public var description: String?
    /// Other names of the same vulnerability (no duplicates).
    public var aliases: [String]?

    public init(name: String, id: String? = nil, description: String? = nil, aliases: [String]? = nil) {
        self.name = name
        self.id = id
        self.description = description
        self.aliases = aliases
    }
}

/// One OpenVEX statement: the `status` of `vulnerability` in `products`. Every field of the
/// v0.2.0 schema is kept, so merging documents loses nothing.
public struct VEXStatement: Sendable, Hashable {
    /// `@id`: an optional IRI for the statement.
    public var id: String?
    /// The statement's own version (at least 1), if any.
    public var version: Int?
    public var vulnerability: VEXVulnerability
    /// When the statement was known to be true; nil means the document's `timestamp`.
    public var timestamp: Date?
    public var lastUpdated: Date?
    /// The products the statement is about (at least one).
    public var products: [VEXProduct]
    public var status: VEXStatus
    public var supplier: String?
    public var statusNotes: String?
    /// Why the products are not affected (for `not_affected`, this or `impactStatement`).
    public var justification: VEXJustification?
    public var impactStatement: String?
    /// What to do (required for `affected`).
    public var actionStatement: String?
    public var actionStatementTimestamp: Date?

    public init(vulnerability: VEXVulnerability, products: [VEXProduct], status: VEXStatus,
                justification: VEXJustification? = nil, impactStatement: String? = nil, actionStatement: String? = nil,
                statusNotes: String? = nil, timestamp: Date? = nil, id: String? = nil, version: Int? = nil,
                lastUpdated: Date? = nil, supplier: String? = nil, actionStatementTimestamp: Date? = nil) {
        self.id = id
        self.version = version
        self.vulnerability = vulnerability
        self.timestamp = timestamp
        self.lastUpdated = lastUpdated
        self.products = products
        self.status = status
        self.supplier = supplier
        self.statusNotes = statusNotes
        self.justification = justification
        self.impactStatement = impactStatement
        self.actionStatement = actionStatement
        self.actionStatementTimestamp = actionStatementTimestamp
    }

    /// The statement as a document holds it: times cut to whole seconds, empty lists and hash
    /// maps as absent (they are written the same way), so equal JSON means equal values.
    func normalized() -> VEXStatement {
        var copy = self
        copy.timestamp = timestamp.map(VEXTimestamp.truncated)
        copy.lastUpdated = lastUpdated.map(VEXTimestamp.truncated)
        copy.actionStatementTimestamp = actionStatementTimestamp.map(VEXTimestamp.truncated)
        if copy.vulnerability.aliases?.isEmpty == true { copy.vulnerability.aliases = nil }
        copy.products = products.map { product in
            var product = product
            if product.hashes?.isEmpty == true { product.hashes = nil }
            if product.subcomponents?.isEmpty == true { product.subcomponents = nil }
            product.subcomponents = product.subcomponents?.map { subcomponent in
                var subcomponent = subcomponent
                if subcomponent.hashes?.isEmpty == true { subcomponent.hashes = nil }
                return subcomponent
            }
            return product
        }
        return copy
    }
}
