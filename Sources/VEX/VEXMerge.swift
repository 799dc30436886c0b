import Foundation

extension VEXDocument {
    /// One new document (see `create`) with every statement of `documents`, by `author` at
    /// `timestamp`. A statement without a timestamp gets its document's, so it keeps its place in
    /// time; exact duplicates are kept once, where they last appear; the statements are ordered by
    /// vulnerability name, then product `@id`s, then timestamp, and statements equal in all three
    /// keep the order of the inputs (so "the last of equal timestamps wins" still holds).
    public static func merge(_ documents: [VEXDocument], author: String, timestamp: Date,
                             role: String? = nil, tooling: String? = nil) throws -> VEXDocument {
        var all: [VEXStatement] = []
        for document in documents {
            for statement in document.statements {
                var statement = statement
                if statement.timestamp == nil { statement.timestamp = document.timestamp }
                all.append(statement.normalized())
            }
        }
        let statements = withoutDuplicates(all)
        let ordered = statements.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if x.vulnerability.name != y.vulnerability.name { return x.vulnerability.name < y.vulnerability.name }
            let (xKeys, yKeys) = (x.products.map(\.key), y.products.map(\.key))
            if xKeys != yKeys { return xKeys.lexicographicallyPrecedes(yKeys) }
            if x.timestamp != y.timestamp { return x.timestamp! < y.timestamp! }
            return a.offset < b.offset
        }.map(\.element)
        return try create(statements: ordered, author: author, timestamp: timestamp, role: role, tooling: tooling)
    }
}
