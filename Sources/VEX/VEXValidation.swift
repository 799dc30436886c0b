// The rules of the OpenVEX v0.2.0 schema and spec that the Swift types cannot express. Each
// `validate()` throws `VEXError.invalidDocument` with the reason; the document's names the
// statement. Reading runs them, and so does writing.

/// The hash algorithms the schema allows.
let hashAlgorithms: Set<String> = [
    "md5", "sha1", "sha-256", "sha-384", "sha-512", "sha3-224", "sha3-256", "sha3-384", "sha3-512",
    "blake2s-256", "blake2b-256", "blake2b-512",
]

private func checkHashes(_ hashes: [String: String]?) throws {
    for key in (hashes ?? [:]).keys.sorted() where !hashAlgorithms.contains(key) {
        throw VEXError.invalid("hash algorithm '\(key)' is not one of \(hashAlgorithms.sorted().joined(separator: ", "))")
    }
}

private func checkIRI(_ id: String?, _ what: String) throws {
    if let id, id.isEmpty { throw VEXError.invalid("\(what) is empty") }
}

/// The index of the first element equal to an earlier one, with that earlier index.
private func firstDuplicate<T: Hashable>(_ items: [T]) -> (first: Int, again: Int)? {
    var seen: [T: Int] = [:]
    for (index, item) in items.enumerated() {
        if let first = seen[item] { return (first, index) }
        seen[item] = index
    }
    return nil
}

extension VEXIdentifiers {
    /// At least one identifier.
    public func validate() throws {
        guard purl != nil || cpe22 != nil || cpe23 != nil else { throw VEXError.invalid("identifiers has none of purl, cpe22, cpe23") }
    }
}

extension VEXSubcomponent {
    /// An `@id` or identifiers; known hash algorithms.
    public func validate() throws {
        guard id != nil || identifiers != nil else { throw VEXError.invalid("neither '@id' nor 'identifiers'") }
        try checkIRI(id, "@id")
        try identifiers?.validate()
        try checkHashes(hashes)
    }
}

extension VEXProduct {
    /// An `@id` or identifiers; known hash algorithms; valid, distinct subcomponents.
    public func validate() throws {
        guard id != nil || identifiers != nil else { throw VEXError.invalid("neither '@id' nor 'identifiers'") }
        try checkIRI(id, "@id")
        try identifiers?.validate()
        try checkHashes(hashes)
        let subcomponents = subcomponents ?? []
        for (index, subcomponent) in subcomponents.enumerated() {
            do { try subcomponent.validate() } catch { throw vexError(error).within("subcomponent \(index)") }
        }
        if let duplicate = firstDuplicate(subcomponents) {
            throw VEXError.invalid("subcomponent \(duplicate.again) is the same as subcomponent \(duplicate.first)")
        }
    }
}

extension VEXVulnerability {
    /// A name; distinct aliases.
    public func validate() throws {
        guard !name.isEmpty else { throw VEXError.invalid("the vulnerability has an empty name") }
        try checkIRI(id, "the vulnerability's @id")
        if let duplicate = firstDuplicate(aliases ?? []) {
            throw VEXError.invalid("alias '\(aliases![duplicate.again])' is listed twice")
        }
    }
}

extension VEXStatement {
    /// Products (valid, distinct); a version of at least 1; `not_affected` with a justification
    /// or an impact statement; `affected` with an action statement.
    public func validate() throws {
        do { try vulnerability.validate() } catch { throw vexError(error).within("vulnerability") }
        try checkIRI(id, "@id")
        if let version, version < 1 { throw VEXError.invalid("version \(version) is less than 1") }
        guard !products.isEmpty else { throw VEXError.invalid("no products") }
        for (index, product) in products.enumerated() {
            do { try product.validate() } catch { throw vexError(error).within("product \(index)") }
        }
        if let duplicate = firstDuplicate(products) {
            throw VEXError.invalid("product \(duplicate.again) is the same as product \(duplicate.first)")
        }
        switch status {
        case .notAffected:
            guard justification != nil || !(impactStatement ?? "").isEmpty else {
                throw VEXError.invalid("status not_affected needs a justification or an impact_statement")
            }
        case .affected:
            guard !(actionStatement ?? "").isEmpty else { throw VEXError.invalid("status affected needs an action_statement") }
        case .fixed, .underInvestigation:
            break
        }
    }
}

extension VEXDocument {
    /// An `@id` and author; a version of at least 1; at least one statement, each valid, no two
    /// the same. Errors name the statement.
    public func validate() throws {
        guard !id.isEmpty else { throw VEXError.invalid("'@id' is empty") }
        guard !author.isEmpty else { throw VEXError.invalid("'author' is empty") }
        guard version >= 1 else { throw VEXError.invalid("version \(version) is less than 1") }
        guard !statements.isEmpty else { throw VEXError.invalid("no statements") }
        for (index, statement) in statements.enumerated() {
            do { try statement.validate() } catch { throw vexError(error).inStatement(index) }
        }
        if let duplicate = firstDuplicate(statements) {
            throw VEXError.invalidDocument(file: nil, statement: duplicate.again, reason: "the same as statement \(duplicate.first)")
        }
    }
}
