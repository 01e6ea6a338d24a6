import Foundation
import SIPTestSupport
import Media
import Testing

@Suite("RTP packet parsing (RFC 3550 §5.1)")
struct RTPPacketTests {
    static func header(marker: Bool = false, payloadType: UInt8 = 0, sequence: UInt16 = 1, timestamp: UInt32 = 160,
                       ssrc: UInt32 = 0x1234_5678, csrcs: Int = 0, padding: Bool = false, extension: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | (padding ? 0x20 : 0) | (`extension` ? 0x10 : 0) | UInt8(csrcs), (marker ? 0x80 : 0) | payloadType]
        bytes += [UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: timestamp >> $0) }
        bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: ssrc >> $0) }
        bytes += Array(repeating: 0xCC, count: 4 * csrcs)
        return bytes
    }

    @Test("fixed header fields and the payload's place")
    func fields() throws {
        let bytes = Self.header(marker: true, payloadType: 8, sequence: 0xFFFE, timestamp: 0xDEAD_BEEF, ssrc: 0xCAFE_F00D) + Array(repeating: 0xD5, count: 160)
        let packet = try RTPPacket(parsing: bytes)
        #expect(packet.marker)
        #expect(packet.payloadType == 8)
        #expect(packet.sequenceNumber == 0xFFFE)
        #expect(packet.timestamp == 0xDEAD_BEEF)
        #expect(packet.ssrc == 0xCAFE_F00D)
        #expect(packet.payloadOffset == 12 && packet.payloadLength == 160)
    }

    @Test("CSRCs, a header extension and padding move and shrink the payload")
    func csrcExtensionPadding() throws {
        var bytes = Self.header(csrcs: 2, padding: true, extension: true)
        bytes += [0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4]   // one-word extension
        bytes += Array(repeating: 0x7F, count: 20)       // payload
        bytes += [0, 0, 3]                               // three bytes of padding
        let packet = try RTPPacket(parsing: bytes)
        #expect(packet.csrcCount == 2 && packet.hasExtension)
        #expect(packet.payloadOffset == 12 + 8 + 8)
        #expect(packet.payloadLength == 20)
    }

    @Test("broken packets are refused with a code, never read past the end", arguments: [
        ([UInt8](repeating: 0x80, count: 11), RTPPacket.ParseError.Code.tooShort),
        ([0x40] + [UInt8](repeating: 0, count: 11), .notVersion2),
        ([0x8F] + [UInt8](repeating: 0, count: 11), .truncatedCSRCs),
        ([0x90] + [UInt8](repeating: 0, count: 11) + [0xBE, 0xDE, 0x00, 0x09], .truncatedExtension),
        ([0xA0] + [UInt8](repeating: 0, count: 11) + [1, 2, 9], .badPadding),
        ([0xA0] + [UInt8](repeating: 0, count: 11) + [1, 2, 0], .badPadding),
        ([0x80, 200] + [UInt8](repeating: 0, count: 10), .rtcp),
    ])
    func broken(bytes: [UInt8], code: RTPPacket.ParseError.Code) {
        #expect(throws: RTPPacket.ParseError(code: code)) { try RTPPacket(parsing: bytes) }
    }
}

@Suite("G.711 decoding")
struct G711Tests {
    @Test("µ-law and A-law code points decode to the G.711 values; both tables are odd-symmetric and monotonic per sign")
    func values() {
        #expect(G711.ulawTable[0xFF] == 0 && G711.ulawTable[0x7F] == 0)
        #expect(G711.ulawTable[0x00] == -32124 && G711.ulawTable[0x80] == 32124)
        #expect(G711.alawTable[0xD5] == 8 && G711.alawTable[0x55] == -8)
        #expect(G711.alawTable[0xAA] == 32256 && G711.alawTable[0x2A] == -32256)
        for code in 0..<128 {
            #expect(G711.ulawTable[code] == -G711.ulawTable[code | 0x80])
            #expect(G711.alawTable[code] == -G711.alawTable[code | 0x80])
        }
        // µ-law: larger codes are closer to zero within each sign half.
        for code in 0x80..<0xFF { #expect(G711.ulawTable[code] > G711.ulawTable[code + 1]) }
    }

    @Test("decoding a payload appends one sample per byte")
    func decodePayload() {
        var samples: [Int16] = [1]
        [UInt8]([0xFF, 0x80, 0x00]).withUnsafeBytes { G711.decode(ulaw: $0, into: &samples) }
        #expect(samples == [1, 0, 32124, -32124])
        [UInt8]([0xD5]).withUnsafeBytes { G711.decode(alaw: $0, into: &samples) }
        #expect(samples.last == 8)
    }
}

@Suite("RTP fuzz corpus")
struct RTPFuzzCorpusTests {
    /// sip-fixtures/fuzz/rtp seeds `make fuzz`: each parses or is refused with a code.
    @Test("every seed parses as RTP or is refused with a code; the RTCP one is refused as RTCP")
    func replay() throws {
        let folder = Fixtures.root.appendingPathComponent("fuzz/rtp")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files.count >= 5)
        var refused: [String: RTPPacket.ParseError.Code] = [:]
        for file in files {
            let bytes = Array(try Data(contentsOf: folder.appendingPathComponent(file)))
            do {
                let packet = try RTPPacket(parsing: bytes)
                #expect(packet.payloadOffset + packet.payloadLength <= bytes.count, "\(file)")
            } catch {
                refused[file] = error.code
            }
        }
        #expect(refused == ["rtcp-sender-report.rtp": .rtcp])
    }
}
