import Archive
import Foundation
import OCI

/// An OpenVEX v0.2.0 document: who says what (`statements`) about vulnerabilities in products.
///
/// Reading (`decode`, `load`, or any `Decoder`) checks everything the schema and the spec require
/// and throws `VEXError.invalidDocument` naming the file and the statement; writing (`encoded`,
/// `pretty`) goes through `CanonicalJSON`, leaves absent fields out and validates first.
public struct VEXDocument: Sendable, Hashable {
    /// The one `@context` read and written.
    public static let context = "https://openvex.dev/ns/v0.2.0"

    /// `@id`: the document's IRI.
    public var id: String
    /// Who makes the statements (a person, an organisation, a tool).
    public var author: String
    public var role: String?
    /// When the document was issued; statements without a timestamp inherit it.
    public var timestamp: Date
    public var lastUpdated: Date?
    /// The document's version, at least 1.
    public var version: Int
    /// What generated the document.
    public var tooling: String?
    /// At least one statement, no two the same.
    public var statements: [VEXStatement]

    public init(id: String, author: String, timestamp: Date, version: Int = 1, statements: [VEXStatement],
                role: String? = nil, lastUpdated: Date? = nil, tooling: String? = nil) {
        self.id = id
        self.author = author
        self.role = role
        self.timestamp = timestamp
        self.lastUpdated = lastUpdated
        self.version = version
        self.tooling = tooling
        self.statements = statements
    }

    /// Decodes and validates a document; errors name `file` (a path, or what the bytes came from).
    public static func decode(_ bytes: [UInt8], file: String) throws -> VEXDocument {
        do {
            return try JSONDecoder().decode(VEXDocument.self, from: Data(bytes))
        } catch let error as VEXError {
            throw error.inFile(file)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw VEXError.invalidDocument(file: file, statement: nil, reason: "not valid JSON")
        } catch {
            throw VEXError.invalidDocument(file: file, statement: nil, reason: describeDecodingError(error))
        }
    }

    /// Reads, decodes and validates the document at `path`.
    public static func load(path: String) throws -> VEXDocument {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path, limit: 256 << 20)
        } catch {
            throw VEXError.unreadable(file: path, reason: "\(error)")
        }
        return try decode(bytes, file: path)
    }

    /// The canonical JSON bytes (sorted keys, no whitespace), after `validate()`.
    public func encoded() throws -> [UInt8] {
        try validate()
        return try CanonicalJSON.encode(self)
    }

    /// Indented JSON for people to read, after `validate()`.
    public func pretty() throws -> String {
        try validate()
        return try CanonicalJSON.pretty(self)
    }
}
