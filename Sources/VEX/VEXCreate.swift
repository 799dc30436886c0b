import Archive
import Foundation
import OCI

extension VEXDocument {
    /// The prefix of the `@id`s Harden gives documents.
    public static let idPrefix = "https://openvex.dev/docs/public/vex-"

    /// A new document (version 1) of `statements`, exact duplicates kept once, by `author` at
    /// `timestamp` (cut to the second). Its `@id` is `idPrefix` followed by the SHA-256 (hex) of
    /// the canonical JSON of everything else in the document, so the same content always gets
    /// the same id. A duplicate is kept where it last appears, so that which of several equal-time
    /// statements wins (the last) does not change. Throws `VEXError.noStatements` for none and `VEXError.invalidDocument`
    /// (naming the statement) for a statement the spec does not allow.
    public static func create(statements: [VEXStatement], author: String, timestamp: Date,
                              role: String? = nil, tooling: String? = nil) throws -> VEXDocument {
        guard !statements.isEmpty else { throw VEXError.noStatements }
        let kept = withoutDuplicates(statements.map { $0.normalized() })
        var document = VEXDocument(id: "", author: author, timestamp: VEXTimestamp.truncated(timestamp), version: 1,
                                   statements: kept, role: role, tooling: tooling)
        document.id = idPrefix + "pending"
        try document.validate()
        document.id = idPrefix + sha256Hex(try CanonicalJSON.encode(IdentitySeed(document)))
        return document
    }
}

/// `statements` with each exact duplicate kept only at its last place.
func withoutDuplicates(_ statements: [VEXStatement]) -> [VEXStatement] {
    var last: [VEXStatement: Int] = [:]
    for (index, statement) in statements.enumerated() { last[statement] = index }
    return statements.enumerated().filter { last[$0.element] == $0.offset }.map(\.element)
}

/// What the `@id` of a created document is the hash of: the document without its `@id`.
private struct IdentitySeed: Encodable {
    let document: VEXDocument
    init(_ document: VEXDocument) { self.document = document }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.put(VEXDocument.context, "@context")
        try c.put(document.author, "author")
        try c.put(document.role, "role")
        try c.put(document.timestamp, "timestamp")
        try c.put(document.lastUpdated, "last_updated")
        try c.put(document.version, "version")
        try c.put(document.tooling, "tooling")
        try c.put(document.statements, "statements")
    }
}
