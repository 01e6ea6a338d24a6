/// A cursor over a message's bytes; every read checks the bounds first.
struct DNSWireReader {
    let bytes: [UInt8]
    var offset = 0

    /// RFC 1035 §2.3.4.
    static let maxNameOctets = 255
    /// A name cannot legitimately take more jumps than it has octets.
    static let maxPointerJumps = 127

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func readUInt8() throws(DNSParseError) -> UInt8 {
        guard offset < bytes.count else { throw DNSParseError(.truncated, offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSParseError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw DNSParseError(.truncated, offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32() throws(DNSParseError) -> UInt32 {
        let high = try readUInt16()
        let low = try readUInt16()
        return UInt32(high) << 16 | UInt32(low)
    }

    /// A <character-string> (RFC 1035 §3.3): a length octet and that many octets.
    mutating func readCharacterString() throws(DNSParseError) -> String {
        let length = Int(try readUInt8())
        guard offset + length <= bytes.count else { throw DNSParseError(.truncated, offset: offset) }
        defer { offset += length }
        return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    }

    /// A domain name at the cursor, following compression pointers (RFC 1035 §4.1.4). The
    /// cursor moves past the name as it appears here (up to and including its first pointer).
    /// Each pointer must point before the start of the labels that led to it, so the jumps go
    /// strictly backwards and end.
    mutating func readName() throws(DNSParseError) -> String {
        var labels: [String] = []
        var position = offset
        var segmentStart = offset
        var resumeOffset: Int?
        var octets = 1  // the root label
        var jumps = 0
        while true {
            guard position < bytes.count else { throw DNSParseError(.truncated, offset: position) }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = resumeOffset ?? position + 1
                    return labels.isEmpty ? "." : labels.joined(separator: ".")
                }
                let count = Int(length)
                octets += count + 1
                guard octets <= Self.maxNameOctets else { throw DNSParseError(.nameTooLong, offset: position) }
                guard position + 1 + count <= bytes.count else { throw DNSParseError(.truncated, offset: position) }
                labels.append(Self.labelText(bytes[(position + 1)..<(position + 1 + count)]))
                position += 1 + count
            case 0xC0:
                guard position + 2 <= bytes.count else { throw DNSParseError(.truncated, offset: position) }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                jumps += 1
                guard target < segmentStart, jumps <= Self.maxPointerJumps else {
                    throw DNSParseError(.invalidPointer, offset: position)
                }
                if resumeOffset == nil { resumeOffset = position + 2 }
                position = target
                segmentStart = target
            default:
                throw DNSParseError(.invalidLabel, offset: position)
            }
        }
    }

    /// A label as master-file text (RFC 1035 §5.1): dots, backslashes and unprintable octets
    /// escaped, so a hostile label cannot pose as two.
    static func labelText(_ label: ArraySlice<UInt8>) -> String {
        var text = ""
        for byte in label {
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: "\\"):
                text.append("\\")
                text.append(Character(Unicode.Scalar(byte)))
            case 0x21...0x7E:
                text.append(Character(Unicode.Scalar(byte)))
            default:
                let digits = String(byte)
                text.append("\\" + String(repeating: "0", count: 3 - digits.count) + digits)
            }
        }
        return text
    }

    mutating func readRecords(count: UInt16) throws(DNSParseError) -> [DNSRecord] {
        var records: [DNSRecord] = []
        for _ in 0..<count {
            records.append(try readRecord())
        }
        return records
    }

    mutating func readRecord() throws(DNSParseError) -> DNSRecord {
        let name = try readName()
        let type = DNSRecordType(rawValue: try readUInt16())
        let recordClass = try readUInt16()
        let rawTTL = try readUInt32()
        let length = Int(try readUInt16())
        let start = offset
        let end = start + length
        guard end <= bytes.count else { throw DNSParseError(.truncated, offset: start) }
        // RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
        let ttl = rawTTL & 0x8000_0000 == 0 ? rawTTL : 0
        let data: DNSRecord.Data
        if recordClass != 1 {
            data = .other(type)
        } else {
            data = try readData(type: type, end: end)
        }
        offset = end
        return DNSRecord(name: name, ttl: ttl, data: data)
    }

    private mutating func readData(type: DNSRecordType, end: Int) throws(DNSParseError) -> DNSRecord.Data {
        let start = offset
        func expectEnd(_ reader: DNSWireReader) throws(DNSParseError) {
            guard reader.offset == end else { throw DNSParseError(.invalidRecordData, offset: start) }
        }
        switch type {
        case .a:
            guard end - start == 4 else { throw DNSParseError(.invalidRecordData, offset: start) }
            return .a(bytes[start..<end].map(String.init).joined(separator: "."))
        case .aaaa:
            guard end - start == 16 else { throw DNSParseError(.invalidRecordData, offset: start) }
            return .aaaa(IPAddressText.ipv6(Array(bytes[start..<end])))
        case .srv:
            let priority = try readUInt16()
            let weight = try readUInt16()
            let port = try readUInt16()
            let target = try readName()
            try expectEnd(self)
            return .srv(SRVRecord(priority: priority, weight: weight, port: port, target: target))
        case .naptr:
            let order = try readUInt16()
            let preference = try readUInt16()
            let flags = try readCharacterString()
            let service = try readCharacterString()
            let regexp = try readCharacterString()
            let replacement = try readName()
            try expectEnd(self)
            return .naptr(NAPTRRecord(order: order, preference: preference, flags: flags, service: service,
                                      regexp: regexp, replacement: replacement))
        case .cname:
            let name = try readName()
            try expectEnd(self)
            return .cname(name)
        case .soa:
            let primary = try readName()
            _ = try readName()  // RNAME
            for _ in 0..<4 { _ = try readUInt32() }  // serial, refresh, retry, expire
            let minimum = try readUInt32()
            try expectEnd(self)
            return .soa(SOARecord(primaryServer: primary, minimum: minimum))
        default:
            return .other(type)
        }
    }
}
