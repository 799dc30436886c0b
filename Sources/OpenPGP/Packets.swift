/// One OpenPGP packet: its tag and body.
struct Packet: Sendable {
    var tag: Int
    var body: [UInt8]
}

enum PacketTag {
    static let signature = 2
    static let secretKey = 5
    static let publicKey = 6
    static let secretSubkey = 7
    static let compressed = 8
    static let symmetricallyEncrypted = 9
    static let marker = 10
    static let literal = 11
    static let trust = 12
    static let userID = 13
    static let publicSubkey = 14
    static let userAttribute = 17
    static let encryptedProtected = 18
    static let aeadEncrypted = 20
    /// Packets that may use partial body lengths (RFC 4880 §4.2.2.4).
    static let partialAllowed: Set<Int> = [compressed, symmetricallyEncrypted, literal, encryptedProtected, aeadEncrypted]
}

enum PacketReader {
    /// Splits binary OpenPGP data into packets (old and new formats), within `Limits`.
    static func parse(_ bytes: [UInt8]) throws -> [Packet] {
        var reader = ByteReader(bytes, context: "packet header")
        var packets: [Packet] = []
        while !reader.isAtEnd {
            guard packets.count < Limits.maxPackets else { throw OpenPGPError.tooLarge("more than \(Limits.maxPackets) packets") }
            let offset = reader.position
            let header = try reader.u8()
            guard header & 0x80 != 0 else {
                throw OpenPGPError.malformed("byte \(offset): 0x\(hexString([header])) is not a packet header")
            }
            if header & 0x40 != 0 {
                let tag = Int(header & 0x3F)
                var body: [UInt8] = []
                while true {
                    let first = Int(try reader.u8())
                    var length: Int
                    var partial = false
                    switch first {
                    case 0..<192: length = first
                    case 192..<224: length = ((first - 192) << 8) + Int(try reader.u8()) + 192
                    case 255: length = Int(try reader.u32())
                    default:
                        length = 1 << (first & 0x1F)
                        partial = true
                    }
                    guard !partial || PacketTag.partialAllowed.contains(tag) else {
                        throw OpenPGPError.malformed("byte \(offset): partial body length on a packet of tag \(tag)")
                    }
                    guard length <= Limits.maxPacketSize, body.count + length <= Limits.maxPacketSize else {
                        throw OpenPGPError.tooLarge("byte \(offset): packet of tag \(tag) is over \(Limits.maxPacketSize) bytes")
                    }
                    guard length <= reader.remaining else {
                        throw OpenPGPError.malformed("byte \(offset): packet of tag \(tag) is truncated (\(length) bytes announced, \(reader.remaining) left)")
                    }
                    body += try reader.take(length)
                    if !partial { break }
                }
                packets.append(Packet(tag: tag, body: body))
            } else {
                let tag = Int(header >> 2 & 0x0F)
                let length: Int
                switch header & 3 {
                case 0: length = Int(try reader.u8())
                case 1: length = try reader.u16()
                case 2: length = Int(try reader.u32())
                default: length = reader.remaining
                }
                guard length <= Limits.maxPacketSize else {
                    throw OpenPGPError.tooLarge("byte \(offset): packet of tag \(tag) is over \(Limits.maxPacketSize) bytes")
                }
                guard length <= reader.remaining else {
                    throw OpenPGPError.malformed("byte \(offset): packet of tag \(tag) is truncated (\(length) bytes announced, \(reader.remaining) left)")
                }
                packets.append(Packet(tag: tag, body: try reader.take(length)))
            }
        }
        return packets
    }
}
