/// A DNS response read from its wire form (RFC 1035 §4.1): the header fields the locator
/// needs and the answer, authority and additional records. Every read is bounds-checked and
/// name compression cannot loop: bad input gives a `DNSParseError`, never a trap.
public struct DNSMessage: Hashable, Sendable {
    public struct Question: Hashable, Sendable {
        public var name: String
        public var type: DNSRecordType
    }

    /// RFC 1035 §4.1.1 RCODE values the locator tells apart.
    public enum ResponseCode: Hashable, Sendable {
        case noError, formatError, serverFailure, nameError, notImplemented, refused
        case other(UInt8)

        init(_ value: UInt8) {
            switch value {
            case 0: self = .noError
            case 1: self = .formatError
            case 2: self = .serverFailure
            case 3: self = .nameError
            case 4: self = .notImplemented
            case 5: self = .refused
            default: self = .other(value)
            }
        }
    }

    public var id: UInt16
    public var isAuthoritative: Bool
    public var isTruncated: Bool
    public var responseCode: ResponseCode
    public var questions: [Question]
    public var answers: [DNSRecord]
    public var authority: [DNSRecord]
    public var additional: [DNSRecord]

    /// Reads a response. Bytes after the last record the header counts are ignored (the
    /// resolver hands over a buffer larger than a negative answer).
    public init(parsing bytes: [UInt8]) throws(DNSParseError) {
        var reader = DNSWireReader(bytes: bytes)
        id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        guard flags & 0x8000 != 0 else { throw DNSParseError(.notAResponse, offset: 2) }
        isAuthoritative = flags & 0x0400 != 0
        isTruncated = flags & 0x0200 != 0
        responseCode = ResponseCode(UInt8(flags & 0x000F))
        let questionCount = try reader.readUInt16()
        let answerCount = try reader.readUInt16()
        let authorityCount = try reader.readUInt16()
        let additionalCount = try reader.readUInt16()

        var questions: [Question] = []
        for _ in 0..<questionCount {
            let name = try reader.readName()
            let type = try reader.readUInt16()
            _ = try reader.readUInt16()  // class
            questions.append(Question(name: name, type: DNSRecordType(rawValue: type)))
        }
        self.questions = questions
        answers = try reader.readRecords(count: answerCount)
        authority = try reader.readRecords(count: authorityCount)
        additional = try reader.readRecords(count: additionalCount)
    }

    /// How long a negative answer may be cached: the authority section's SOA TTL, capped by
    /// its MINIMUM field (RFC 2308 §5); nil without an SOA.
    public var negativeTTL: UInt32? {
        for record in authority {
            if case .soa(let soa) = record.data { return min(record.ttl, soa.minimum) }
        }
        return nil
    }
}
