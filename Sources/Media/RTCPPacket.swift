/// What siprecd keeps of an RTCP compound packet (RFC 3550 §6.4): sender reports' counts and
/// report blocks' loss and jitter. Other packet types (SDES, BYE, APP, XR) are skipped by
/// their length. Pure; never reads past the bytes it is given.
public struct RTCPCompound: Equatable, Sendable {
    public struct SenderInfo: Equatable, Sendable {
        public var ssrc: UInt32
        public var packetCount: UInt32
        public var octetCount: UInt32
        public init(ssrc: UInt32, packetCount: UInt32, octetCount: UInt32) {
            self.ssrc = ssrc
            self.packetCount = packetCount
            self.octetCount = octetCount
        }
    }

    public struct ReportBlock: Equatable, Sendable {
        public var ssrc: UInt32
        /// Fraction lost since the last report, 0...1.
        public var fractionLost: Double
        /// Cumulative packets lost (24-bit signed).
        public var cumulativeLost: Int32
        /// Interarrival jitter in timestamp units.
        public var jitter: UInt32
        public init(ssrc: UInt32, fractionLost: Double, cumulativeLost: Int32, jitter: UInt32) {
            self.ssrc = ssrc
            self.fractionLost = fractionLost
            self.cumulativeLost = cumulativeLost
            self.jitter = jitter
        }
    }

    public var senders: [SenderInfo] = []
    public var reports: [ReportBlock] = []

    public struct ParseError: Error, Equatable {}

    public init(parsing bytes: UnsafeRawBufferPointer) throws(ParseError) {
        var offset = 0
        var packets = 0
        while offset + 4 <= bytes.count {
            let first = bytes[offset]
            guard first >> 6 == 2 else { throw ParseError() }
            let count = Int(first & 0x1F)
            let type = bytes[offset + 1]
            let length = (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]) + 1) * 4
            guard offset + length <= bytes.count else { throw ParseError() }
            let body = offset + 4
            func word(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
            }
            var blocks = -1
            if type == 200, length >= 28 {
                senders.append(SenderInfo(ssrc: word(body), packetCount: word(body + 16), octetCount: word(body + 20)))
                blocks = body + 24
            } else if type == 201, length >= 8 {
                blocks = body + 4
            }
            if blocks >= 0 {
                for index in 0..<count {
                    let block = blocks + index * 24
                    guard block + 24 <= offset + length else { break }
                    let lost = word(block + 4) & 0x00FF_FFFF
                    reports.append(ReportBlock(ssrc: word(block), fractionLost: Double(bytes[block + 4]) / 256,
                                               cumulativeLost: Int32(bitPattern: lost << 8) >> 8, jitter: word(block + 12)))
                }
            }
            offset += length
            packets += 1
        }
        guard packets > 0 else { throw ParseError() }
    }
}
