import Foundation

/// Dead Simple Signing Envelopes (secure-systems-lab/dsse v1), as in-toto attestations and cosign use them.
public enum DSSE {
    /// The payload type of in-toto statements.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (LEN decimal byte length).
    public static func pae(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        return Array("DSSEv1 \(type.count) ".utf8) + type + Array(" \(payload.count) ".utf8) + payload
    }

    /// One signature of an envelope: `keyid` is a hint only, `sig` the standard base64 signature over the PAE.
    public struct Signature: Codable, Sendable, Equatable {
        /// A hint of which key signed (Harden writes the key's `keyID`); never used for trust.
        public var keyid: String
        /// The base64 signature over the PAE of the payload type and payload.
        public var sig: String

        /// A signature entry.
        public init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    /// A DSSE envelope: `{"payload":…,"payloadType":…,"signatures":[{"keyid":…,"sig":…}]}`.
    public struct Envelope: Codable, Sendable, Equatable {
        /// The media type of the payload, e.g. `application/vnd.in-toto+json`.
        public var payloadType: String
        /// The payload, standard base64.
        public var payload: String
        /// The signatures over the PAE.
        public var signatures: [Signature]

        /// An envelope from its parts.
        public init(payloadType: String, payload: String, signatures: [Signature]) {
            self.payloadType = payloadType
            self.payload = payload
            self.signatures = signatures
        }

        /// The decoded payload (standard or URL-safe base64, padded or not, accepted).
        public func payloadBytes() throws -> [UInt8] {
            guard let bytes = Base64.decode(payload) else {
                throw AttestationError(.envelope, "malformed DSSE envelope: \"payload\" is not valid base64")
            }
            return bytes
        }

        /// JSON bytes of the envelope: keys in the order payload, payloadType, signatures (sorted keys), no escaped slashes, no whitespace.
        public func encoded() throws -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            do {
                return Array(try encoder.encode(self))
            } catch {
                throw AttestationError(.envelope, "encoding the DSSE envelope failed (\(error))")
            }
        }

        /// Parses an envelope; malformed JSON, missing fields, bad base64, no signatures -> AttestationError with a clear message.
        public static func decode(_ bytes: [UInt8]) throws -> Envelope {
            func malformed(_ why: String) -> AttestationError { AttestationError(.envelope, "malformed DSSE envelope: \(why)") }
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(bytes))
            } catch {
                throw malformed("not valid JSON")
            }
            guard let fields = object as? [String: Any] else { throw malformed("not a JSON object") }
            func string(_ name: String, in dictionary: [String: Any], context: String = "") throws -> String {
                guard let value = dictionary[name] else { throw malformed("missing \"\(name)\"\(context)") }
                guard let text = value as? String else { throw malformed("\"\(name)\"\(context) is not a string") }
                return text
            }
            let payload = try string("payload", in: fields)
            let payloadType = try string("payloadType", in: fields)
            guard Base64.decode(payload) != nil else { throw malformed("\"payload\" is not valid base64") }
            guard let list = fields["signatures"] else { throw malformed("missing \"signatures\"") }
            guard let entries = list as? [Any] else { throw malformed("\"signatures\" is not an array") }
            guard !entries.isEmpty else { throw malformed("no signatures (\"signatures\" is empty)") }
            var signatures: [Signature] = []
            for (index, entry) in entries.enumerated() {
                let context = " in signature \(index + 1)"
                guard let signature = entry as? [String: Any] else { throw malformed("signature \(index + 1) is not a JSON object") }
                let sig = try string("sig", in: signature, context: context)
                guard let raw = Base64.decode(sig), !raw.isEmpty else { throw malformed("\"sig\"\(context) is not valid base64") }
                // DSSE makes keyid optional; cosign writes "".
                let keyid = signature["keyid"] == nil ? "" : try string("keyid", in: signature, context: context)
                signatures.append(Signature(keyid: keyid, sig: sig))
            }
            return Envelope(payloadType: payloadType, payload: payload, signatures: signatures)
        }
    }

    /// Signs `payload` of `payloadType` with `key`: one signature over the PAE, keyid = the key's `keyID`.
    public static func sign(payload: [UInt8], payloadType: String, key: SigningKey) throws -> Envelope {
        let signature = try key.sign(pae(payloadType: payloadType, payload: payload))
        return Envelope(
            payloadType: payloadType, payload: Base64.encode(payload),
            signatures: [Signature(keyid: key.publicKey.keyID, sig: Base64.encode(signature))])
    }

    /// Returns the payload when at least one signature verifies over PAE with `key` (keyid ignored for trust). Otherwise throws AttestationError saying no signature verifies with the key (include the key's keyID in the message).
    public static func verify(_ envelope: Envelope, key: VerificationKey) throws -> [UInt8] {
        let payload = try envelope.payloadBytes()
        guard !envelope.signatures.isEmpty else {
            throw AttestationError(.signature, "the DSSE envelope has no signatures, so none verifies with key \(key.keyID)")
        }
        let message = pae(payloadType: envelope.payloadType, payload: payload)
        for signature in envelope.signatures {
            if let raw = Base64.decode(signature.sig), key.isValidSignature(raw, for: message) {
                return payload
            }
        }
        throw AttestationError(.signature, """
            no signature in the DSSE envelope verifies with the \(key.algorithm) key \(key.keyID) \
            (\(envelope.signatures.count) signature\(envelope.signatures.count == 1 ? "" : "s") checked)
            """)
    }
}

/// Base64 as DSSE and cosign use it: standard encoding out; standard or URL-safe, with or without
/// padding, in (Foundation's codec after mapping the URL-safe alphabet and restoring the padding).
public enum Base64 {
    /// Standard base64 (RFC 4648 section 4) with padding.
    public static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Decodes standard or URL-safe base64, padded or not; nil for anything else (whitespace included).
    public static func decode(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let unpadded = standard.count - standard.reversed().prefix { $0 == "=" }.count
        // Padding, when present, must complete the last quantum exactly.
        if standard.count - unpadded > 2 || (standard.count != unpadded && standard.count % 4 != 0) { return nil }
        if unpadded % 4 == 1 { return nil }
        if standard.count == unpadded { standard += String(repeating: "=", count: (4 - unpadded % 4) % 4) }
        return Data(base64Encoded: standard).map(Array.init)
    }
}
