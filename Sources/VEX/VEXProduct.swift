/// Software identifiers of a product or subcomponent (`identifiers`: at least one of them).
public struct VEXIdentifiers: Sendable, Hashable {
    /// A package URL.
    public var purl: String?
    public var cpe22: String?
    public var cpe23: String?

    public init(purl: String? = nil, cpe22: String? = nil, cpe23: String? = nil) {
        self.purl = purl
        self.cpe22 = cpe22
        self.cpe23 = cpe23
    }
}

/// A part of a product the statement is about, e.g. a Debian package in an image.
public struct VEXSubcomponent: Sendable, Hashable {
    /// `@id`: an IRI, usually the package's purl.
    public var id: String?
    public var identifiers: VEXIdentifiers?
    /// Cryptographic hashes by algorithm (`sha-256`, `sha-512`…).
    public var hashes: [String: String]?

    public init(id: String? = nil, identifiers: VEXIdentifiers? = nil, hashes: [String: String]? = nil) {
        self.id = id
        self.identifiers = identifiers
        self.hashes = hashes
    }

    /// A subcomponent named by `purl`, both as `@id` and `identifiers.purl`.
    public init(purl: PURL) {
        self.init(id: purl.description, identifiers: VEXIdentifiers(purl: purl.description))
    }

    /// The purls this subcomponent is known by (`@id` and `identifiers.purl` that parse).
    public var purls: [PURL] { parsedPURLs(id, identifiers?.purl) }
}

/// A product a statement is about, e.g. an image, with the subcomponents it concerns.
public struct VEXProduct: Sendable, Hashable {
    /// `@id`: an IRI, usually the image's purl.
    public var id: String?
    public var identifiers: VEXIdentifiers?
    /// Cryptographic hashes by algorithm (`sha-256`, `sha-512`…).
    public var hashes: [String: String]?
    /// The parts concerned; nil or empty means the whole product.
    public var subcomponents: [VEXSubcomponent]?

    public init(id: String? = nil, identifiers: VEXIdentifiers? = nil, hashes: [String: String]? = nil,
                subcomponents: [VEXSubcomponent]? = nil) {
        self.id = id
        self.identifiers = identifiers
        self.hashes = hashes
        self.subcomponents = subcomponents
    }

    /// A product named by `purl` (as `@id` and `identifiers.purl`, so go-vex matches it in either
    /// place), with `subcomponents` named by their purls (none: the whole product).
    public init(purl: PURL, subcomponents: [PURL] = []) {
        self.init(id: purl.description, identifiers: VEXIdentifiers(purl: purl.description),
                  subcomponents: subcomponents.isEmpty ? nil : subcomponents.map(VEXSubcomponent.init(purl:)))
    }

    /// The purls this product is known by (`@id` and `identifiers.purl` that parse).
    public var purls: [PURL] { parsedPURLs(id, identifiers?.purl) }

    /// What sorts and names the product: its `@id`, else its purl or CPE.
    var key: String { id ?? identifiers?.purl ?? identifiers?.cpe23 ?? identifiers?.cpe22 ?? "" }
}

/// The distinct purls among `candidates` that parse; others (IRIs, CPEs) are ignored.
private func parsedPURLs(_ candidates: String?...) -> [PURL] {
    var out: [PURL] = []
    for case let text? in candidates {
        if let purl = try? PURL(text), !out.contains(purl) { out.append(purl) }
    }
    return out
}
