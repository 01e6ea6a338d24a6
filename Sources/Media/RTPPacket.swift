/// An RTP packet's fixed header and where its payload lies (RFC 3550 §5.1), read from bytes
/// without copying them: the hot path keeps the buffer and slices the payload when it decodes.
public struct RTPPacket: Hashable, Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcCount: Int
    public var hasExtension: Bool
    /// Where the payload starts and how long it is, in the parsed bytes (padding excluded).
    public var payloadOffset: Int
    public var payloadLength: Int

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public enum Code: String, Hashable, Sendable {
            case tooShort, notVersion2, truncatedCSRCs, truncatedExtension, badPadding, rtcp
        }
        public var code: Code
        public init(code: Code) { self.code = code }
        public var description: String { "RTP packet: \(code.rawValue)" }
    }

    /// Parses an RTP packet. Packets whose second byte says RTCP (payload types 200-204 with
    /// the marker bit, RFC 5761 §4) are refused here: they go to the RTCP handler.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(ParseError) {
        // RFC 3550 §5.1: 12 fixed bytes, then CSRCs, then the extension, then the payload.
        guard bytes.count >= 12 else { throw ParseError(code: .tooShort) }
        let first = bytes[0]
        guard first >> 6 == 2 else { throw ParseError(code: .notVersion2) }
        let second = bytes[1]
        if (200...204).contains(second) { throw ParseError(code: .rtcp) }
        let hasPadding = first & 0x20 != 0
        hasExtension = first & 0x10 != 0
        csrcCount = Int(first & 0x0F)
        marker = second & 0x80 != 0
        payloadType = second & 0x7F
        sequenceNumber = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = Self.uint32(bytes, at: 4)
        ssrc = Self.uint32(bytes, at: 8)
        var offset = 12 + 4 * csrcCount
        guard offset <= bytes.count else { throw ParseError(code: .truncatedCSRCs) }
        if hasExtension {
            // RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words.
            guard offset + 4 <= bytes.count else { throw ParseError(code: .truncatedExtension) }
            let words = Int(UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3]))
            offset += 4 + 4 * words
            guard offset <= bytes.count else { throw ParseError(code: .truncatedExtension) }
        }
        var end = bytes.count
        if hasPadding {
            // RFC 3550 §5.1: the last byte counts the padding, itself included.
            let padding = Int(bytes[bytes.count - 1])
            guard padding >= 1, end - padding >= offset else { throw ParseError(code: .badPadding) }
            end -= padding
        }
        payloadOffset = offset
        payloadLength = end - offset
    }

    public init(parsing bytes: [UInt8]) throws(ParseError) {
        let parsed = bytes.withUnsafeBytes { raw in
            Result { () throws(ParseError) -> RTPPacket in try RTPPacket(parsing: raw) }
        }
        self = try parsed.get()
    }

    private static func uint32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
