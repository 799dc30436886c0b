import Foundation

/// The one JSON encoder for everything Harden hashes or signs: keys sorted by bytes, slashes
/// unescaped, no whitespace. Documents hold no floating-point values, so the bytes are stable.
public enum CanonicalJSON {
    /// Encodes `value` to its canonical bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw OCIError.invalidDocument(kind: String(describing: T.self), reason: "cannot encode: \(error)")
        }
    }

    /// Encodes `value` indented, for people to read (never for hashing).
    public static func pretty<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes `T` from `bytes`, naming `kind` in the error.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], kind: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as OCIError {
            throw OCIError.invalidDocument(kind: kind, reason: error.description)
        } catch let DecodingError.dataCorrupted(context) {
            throw OCIError.invalidDocument(kind: kind, reason: describe(context))
        } catch let DecodingError.keyNotFound(key, context) {
            throw OCIError.invalidDocument(kind: kind, reason: "missing '\(key.stringValue)'" + at(context.codingPath))
        } catch let DecodingError.typeMismatch(_, context) {
            throw OCIError.invalidDocument(kind: kind, reason: "wrong type" + at(context.codingPath))
        } catch let DecodingError.valueNotFound(_, context) {
            throw OCIError.invalidDocument(kind: kind, reason: "null value" + at(context.codingPath))
        } catch {
            throw OCIError.invalidDocument(kind: kind, reason: "\(error)")
        }
    }

    private static func describe(_ context: DecodingError.Context) -> String {
        if let underlying = context.underlyingError as? OCIError { return underlying.description }
        if context.codingPath.isEmpty { return "not valid JSON" }
        return context.debugDescription + at(context.codingPath)
    }

    private static func at(_ path: [CodingKey]) -> String {
        path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
