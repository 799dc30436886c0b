import Archive
import Attestation
import Foundation
import Testing
import TestSupport

@Suite struct DSSETests {
    @Test func paeMatchesTheSpecVector() {
        let pae = DSSE.pae(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(pae == Array("DSSEv1 29 http://example.com/HelloWorld 11 hello world".utf8))
        #expect(DSSE.pae(payloadType: "", payload: []) == Array("DSSEv1 0  0 ".utf8))
        // Lengths are bytes, not characters.
        #expect(DSSE.pae(payloadType: "tÿpe", payload: [0xFF, 0x00]) == Array("DSSEv1 5 tÿpe 2 ".utf8) + [0xFF, 0x00])
        #expect(DSSE.inTotoPayloadType == "application/vnd.in-toto+json")
    }

    @Test func encodingIsExact() throws {
        let envelope = DSSE.Envelope(payloadType: "http://example.com/HelloWorld", payload: "aGVsbG8gd29ybGQ=",
                                     signatures: [DSSE.Signature(keyid: "a/b", sig: "c2ln+/==")])
        let expected = #"{"payload":"aGVsbG8gd29ybGQ=","payloadType":"http://example.com/HelloWorld","signatures":[{"keyid":"a/b","sig":"c2ln+/=="}]}"#
        #expect(String(decoding: try envelope.encoded(), as: UTF8.self) == expected)
        #expect(try envelope.payloadBytes() == Array("hello world".utf8))
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func signAndVerify(_ algorithm: KeyAlgorithm) throws {
        let key = SigningKey.generate(algorithm)
        let payload = Array(#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}"#.utf8)
        let envelope = try DSSE.sign(payload: payload, payloadType: DSSE.inTotoPayloadType, key: key)
        #expect(envelope.payloadType == DSSE.inTotoPayloadType)
        #expect(envelope.payload == Data(payload).base64EncodedString())
        #expect(envelope.signatures.count == 1)
        #expect(envelope.signatures[0].keyid == key.publicKey.keyID)
        #expect(try DSSE.verify(envelope, key: key.publicKey) == payload)

        // The signature is over the PAE, not the payload.
        let sig = try #require(Base64.decode(envelope.signatures[0].sig))
        #expect(key.publicKey.isValidSignature(sig, for: DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: payload)))
        #expect(!key.publicKey.isValidSignature(sig, for: payload))

        // Encoding round trip through bytes.
        let bytes = try envelope.encoded()
        let decoded = try DSSE.Envelope.decode(bytes)
        #expect(decoded == envelope)
        #expect(try DSSE.verify(decoded, key: key.publicKey) == payload)
        #expect(!bytes.contains(UInt8(ascii: " ")) && !bytes.contains(UInt8(ascii: "\n")))
        #expect(!String(decoding: bytes, as: UTF8.self).contains("\\/"))

        // keyid is only a hint: a wrong or empty keyid still verifies.
        var hinted = envelope
        hinted.signatures[0].keyid = ""
        #expect(try DSSE.verify(hinted, key: key.publicKey) == payload)
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func verificationFailures(_ algorithm: KeyAlgorithm) throws {
        let key = SigningKey.generate(algorithm)
        let payload = Array("payload".utf8)
        let envelope = try DSSE.sign(payload: payload, payloadType: DSSE.inTotoPayloadType, key: key)

        func expectRejected(_ candidate: DSSE.Envelope, by verifier: VerificationKey, _ what: String) {
            let error = attestationError { _ = try DSSE.verify(candidate, key: verifier) }
            #expect(error?.code == .signature, "\(what)")
            #expect(error?.message.contains("no signature in the DSSE envelope verifies") == true, "\(what)")
            #expect(error?.message.contains(verifier.keyID) == true, "\(what)")
        }

        let other = SigningKey.generate(algorithm).publicKey
        expectRejected(envelope, by: other, "wrong key")
        let otherAlgorithm = SigningKey.generate(algorithm == .ed25519 ? .ecdsaP256 : .ed25519).publicKey
        expectRejected(envelope, by: otherAlgorithm, "key of another algorithm")

        var tamperedPayload = envelope
        tamperedPayload.payload = Base64.encode(Array("payloaD".utf8))
        expectRejected(tamperedPayload, by: key.publicKey, "tampered payload")

        var tamperedType = envelope
        tamperedType.payloadType = "application/json"
        expectRejected(tamperedType, by: key.publicKey, "tampered payload type")

        let sig = try #require(Base64.decode(envelope.signatures[0].sig))
        var truncated = envelope
        truncated.signatures[0].sig = Base64.encode(Array(sig.dropLast()))
        expectRejected(truncated, by: key.publicKey, "truncated signature")

        var overPayload = envelope
        overPayload.signatures[0].sig = Base64.encode(try key.sign(payload))
        expectRejected(overPayload, by: key.publicKey, "signature over the payload instead of the PAE")

        var garbage = envelope
        garbage.signatures[0].sig = "%%%"
        expectRejected(garbage, by: key.publicKey, "signature that is not base64")

        // One good signature among bad ones is enough.
        var several = envelope
        several.signatures = [DSSE.Signature(keyid: key.publicKey.keyID, sig: Base64.encode(try key.sign(payload))),
                              DSSE.Signature(keyid: "x", sig: "%%%"), envelope.signatures[0]]
        #expect(try DSSE.verify(several, key: key.publicKey) == payload)

        var none = envelope
        none.signatures = []
        #expect(attestationError { _ = try DSSE.verify(none, key: key.publicKey) }?.message.contains(key.publicKey.keyID) == true)
    }

    @Test func urlSafeAndUnpaddedPayloadsAreAccepted() throws {
        let key = SigningKey.generate(.ecdsaP256)
        let payload: [UInt8] = [0xFB, 0xFF, 0xFE, 0xFB, 0xEF]  // base64 "+//++-8=" style characters
        let envelope = try DSSE.sign(payload: payload, payloadType: "application/octet-stream", key: key)
        #expect(envelope.payload == "+//+++8=")
        for variant in ["-__---8=", "-__---8", "+//+++8"] {
            var changed = envelope
            changed.payload = variant
            #expect(try changed.payloadBytes() == payload)
            #expect(try DSSE.verify(changed, key: key.publicKey) == payload)
            let decoded = try DSSE.Envelope.decode(try changed.encoded())
            #expect(try DSSE.verify(decoded, key: key.publicKey) == payload)
        }
        var urlSig = envelope
        urlSig.signatures[0].sig = urlSig.signatures[0].sig.replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        #expect(try DSSE.verify(DSSE.Envelope.decode(try urlSig.encoded()), key: key.publicKey) == payload)
    }

    @Test func malformedEnvelopes() throws {
        let good = #"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"","sig":"c2ln"}]}"#
        #expect(try DSSE.Envelope.decode(Array(good.utf8)).signatures == [DSSE.Signature(keyid: "", sig: "c2ln")])
        // keyid is optional in DSSE.
        #expect(try DSSE.Envelope.decode(Array(#"{"payload":"","payloadType":"t","signatures":[{"sig":"c2ln"}]}"#.utf8)).signatures[0].keyid == "")

        let cases: [(String, String)] = [
            ("", "not valid JSON"),
            ("{", "not valid JSON"),
            (#"{"payload":"aGk=","#, "not valid JSON"),
            ("[1,2]", "not a JSON object"),
            (#"{"payloadType":"t","signatures":[{"keyid":"","sig":"c2ln"}]}"#, "missing \"payload\""),
            (#"{"payload":"aGk=","signatures":[{"keyid":"","sig":"c2ln"}]}"#, "missing \"payloadType\""),
            (#"{"payload":"aGk=","payloadType":"t"}"#, "missing \"signatures\""),
            (#"{"payload":5,"payloadType":"t","signatures":[{"keyid":"","sig":"c2ln"}]}"#, "\"payload\" is not a string"),
            (#"{"payload":"a*k=","payloadType":"t","signatures":[{"keyid":"","sig":"c2ln"}]}"#, "\"payload\" is not valid base64"),
            (#"{"payload":"aGk","payloadType":"t","signatures":[{"keyid":"","sig":"c2ln"}]}"#.replacingOccurrences(of: "aGk", with: "aGk=="), "\"payload\" is not valid base64"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":[]}"#, "no signatures"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":{}}"#, "\"signatures\" is not an array"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":["x"]}"#, "signature 1 is not a JSON object"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":""}]}"#, "missing \"sig\" in signature 1"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"","sig":"c2ln"},{"sig":"!!"}]}"#, "\"sig\" in signature 2 is not valid base64"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"","sig":""}]}"#, "\"sig\" in signature 1 is not valid base64"),
            (#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":7,"sig":"c2ln"}]}"#, "\"keyid\" in signature 1 is not a string"),
        ]
        for (text, expected) in cases {
            let error = attestationError { _ = try DSSE.Envelope.decode(Array(text.utf8)) }
            #expect(error?.code == .envelope, "\(text)")
            #expect(error?.message.hasPrefix("malformed DSSE envelope: ") == true, "\(text)")
            #expect(error?.message.contains(expected) == true, "expected '\(expected)' in '\(error?.message ?? "")'")
        }
        let badPayload = DSSE.Envelope(payloadType: "t", payload: "***", signatures: [])
        #expect(attestationError { _ = try badPayload.payloadBytes() }?.message.contains("not valid base64") == true)
    }

    @Test func base64() throws {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
            #expect(Base64.decode(encoded.replacingOccurrences(of: "=", with: "")) == Array(plain.utf8))
        }
        for count in 0..<70 {
            let bytes = pseudoRandomBytes(count: count, seed: UInt64(count + 1))
            let standard = Base64.encode(bytes)
            #expect(standard == Data(bytes).base64EncodedString())
            let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(Base64.decode(standard) == bytes)
            #expect(Base64.decode(urlSafe) == bytes)
            #expect(Base64.decode(urlSafe.replacingOccurrences(of: "=", with: "")) == bytes)
        }
        for invalid in ["Z", "Zg=", "Zg===", "Zm9v====", "Zm9v=", "Zm 9v", "Zm9v\n", "Zm9*", "=Zm9", "Zg==Zg==", "é"] {
            #expect(Base64.decode(invalid) == nil, "\(invalid)")
        }
    }

    // MARK: Interop with securesystemslib (Python)

    @Test(arguments: KeyAlgorithm.allCases)
    func securesystemslibVerifiesOurEnvelopes(_ algorithm: KeyAlgorithm) throws {
        let dir = try TemporaryDirectory()
        let key = SigningKey.generate(algorithm)
        try dir.write("pub.pem", Array(key.publicKey.pem.utf8))
        // securesystemslib only tries keys whose keyid equals the signature's keyid (its computed default keyid,
        // not ours), so the test asks it for that keyid and puts it in our envelope. keyid is outside the PAE:
        // the signature is untouched.
        let keyid = try runPython("""
            from cryptography.hazmat.primitives import serialization
            from securesystemslib.signer import SSlibKey
            key = SSlibKey.from_crypto(serialization.load_pem_public_key(open("pub.pem", "rb").read()))
            print(key.keyid, key.scheme)
            """, in: dir).split(separator: " ")
        #expect(keyid.count == 2)
        #expect(keyid.last.map(String.init) == (algorithm == .ed25519 ? "ed25519\n" : "ecdsa-sha2-nistp256\n"))

        let payload = Array(#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1"}"#.utf8)
        var envelope = try DSSE.sign(payload: payload, payloadType: DSSE.inTotoPayloadType, key: key)
        envelope.signatures[0].keyid = String(keyid[0])
        try dir.write("envelope.json", try envelope.encoded())
        var tampered = envelope
        tampered.payload = Base64.encode(payload + Array(" ".utf8))
        try dir.write("tampered.json", try tampered.encoded())

        let output = try runPython("""
            import json
            from cryptography.hazmat.primitives import serialization
            from securesystemslib.dsse import Envelope
            from securesystemslib.exceptions import VerificationError
            from securesystemslib.signer import SSlibKey
            key = SSlibKey.from_crypto(serialization.load_pem_public_key(open("pub.pem", "rb").read()))
            envelope = Envelope.from_dict(json.load(open("envelope.json")))
            accepted = envelope.verify([key], 1)
            assert list(accepted) == [key.keyid], accepted
            print(envelope.payload_type, envelope.payload.decode())
            try:
                Envelope.from_dict(json.load(open("tampered.json"))).verify([key], 1)
                print("tampered envelope accepted")
            except VerificationError:
                print("tampered envelope rejected")
            """, in: dir)
        #expect(output == "\(DSSE.inTotoPayloadType) \(String(decoding: payload, as: UTF8.self))\ntampered envelope rejected\n")
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func weVerifyPythonEnvelopes(_ algorithm: KeyAlgorithm) throws {
        let dir = try TemporaryDirectory()
        let generate = algorithm == .ed25519 ? "ed25519.Ed25519PrivateKey.generate()" : "ec.generate_private_key(ec.SECP256R1())"
        let sign = algorithm == .ed25519 ? "key.sign(pae)" : "key.sign(pae, ec.ECDSA(hashes.SHA256()))"
        // Two independent peers: securesystemslib's Envelope.sign, and a PAE built and signed by hand with cryptography.
        try runPython("""
            import base64, json
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec, ed25519
            from securesystemslib.dsse import Envelope
            from securesystemslib.signer import CryptoSigner
            key = \(generate)
            open("pub.pem", "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            payload = b'{"_type":"https://in-toto.io/Statement/v1","note":"made by Python \\xe2\\x9c\\x93"}'
            envelope = Envelope(payload, "application/vnd.in-toto+json", {})
            envelope.sign(CryptoSigner(key))
            open("sslib.json", "w").write(json.dumps(envelope.to_dict(), indent=2))
            ptype = b"http://example.com/HelloWorld"
            body = b"hello world"
            pae = b"DSSEv1 %d %b %d %b" % (len(ptype), ptype, len(body), body)
            assert pae == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
            sig = \(sign)
            manual = {"payloadType": ptype.decode(), "payload": base64.urlsafe_b64encode(body).decode().rstrip("="),
                      "signatures": [{"keyid": "python", "sig": base64.b64encode(sig).decode()}]}
            open("manual.json", "w").write(json.dumps(manual))
            """, in: dir)
        let publicKey = try KeyFile.loadVerificationKey(dir.path + "/pub.pem")
        #expect(publicKey.algorithm == algorithm.rawValue)

        let sslib = try DSSE.Envelope.decode(try FileSystem.read(dir.path + "/sslib.json"))
        #expect(sslib.payloadType == DSSE.inTotoPayloadType)
        let payload = try DSSE.verify(sslib, key: publicKey)
        #expect(String(decoding: payload, as: UTF8.self) == #"{"_type":"https://in-toto.io/Statement/v1","note":"made by Python ✓"}"#)

        let manual = try DSSE.Envelope.decode(try FileSystem.read(dir.path + "/manual.json"))
        #expect(try DSSE.verify(manual, key: publicKey) == Array("hello world".utf8))

        let stranger = SigningKey.generate(algorithm).publicKey
        #expect(attestationError { _ = try DSSE.verify(sslib, key: stranger) }?.message.contains(stranger.keyID) == true)
        #expect(attestationError { _ = try DSSE.verify(manual, key: stranger) }?.code == .signature)
    }
}
