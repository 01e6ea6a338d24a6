/// What each RTP payload type of one stream carries, from its SDP (static types, then the
/// `a=rtpmap` lines, RFC 3551 §6 and RFC 4566 §6): a table of 128 entries, so the hot path
/// looks a packet's type up by index.
public struct PayloadMap: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        /// Not in the SDP: counted and dropped.
        case unknown
        case pcmu, pcma
        /// L16 at 8 kHz, mono (RFC 3551 §4.5.11): big-endian samples.
        case l16
        /// RFC 4733 named events (DTMF).
        case telephoneEvent
        /// RFC 3389 comfort noise: recorded as silence.
        case comfortNoise
        /// A codec the SDP names that this build does not decode yet: the stream is recorded
        /// as silence and the record says why.
        case notDecoded
    }

    private var kinds: [Kind]
    /// Encoding names of the `notDecoded` types, for the record.
    public private(set) var notDecodedNames: [UInt8: String] = [:]

    public init() {
        kinds = Array(repeating: .unknown, count: 128)
    }

    /// `entries` are (payload type, encoding name, clock rate, channels) as the SDP gives them;
    /// static types the SDP lists without an rtpmap get their RFC 3551 meaning.
    public init(formats: [UInt8], rtpmap: [(payloadType: UInt8, name: String, clockRate: Int, channels: Int)]) {
        self.init()
        for format in formats where format < 128 {
            switch format {
            case 0: kinds[0] = .pcmu
            case 8: kinds[8] = .pcma
            case 13: kinds[13] = .comfortNoise
            case 3, 4, 9, 15, 18:
                kinds[Int(format)] = .notDecoded
                notDecodedNames[format] = [3: "GSM", 4: "G723", 9: "G722", 15: "G728", 18: "G729"][format]
            default: break
            }
        }
        for entry in rtpmap where entry.payloadType < 128 {
            let kind = Self.kind(name: entry.name, clockRate: entry.clockRate, channels: entry.channels)
            kinds[Int(entry.payloadType)] = kind
            if kind == .notDecoded { notDecodedNames[entry.payloadType] = entry.name.uppercased() }
            else { notDecodedNames[entry.payloadType] = nil }
        }
    }

    static func kind(name: String, clockRate: Int, channels: Int) -> Kind {
        switch name.uppercased() {
        case "PCMU": return clockRate == 8000 ? .pcmu : .notDecoded
        case "PCMA": return clockRate == 8000 ? .pcma : .notDecoded
        case "L16": return clockRate == 8000 && channels <= 1 ? .l16 : .notDecoded
        case "TELEPHONE-EVENT": return .telephoneEvent
        case "CN": return .comfortNoise
        default: return .notDecoded
        }
    }

    @inline(__always)
    public subscript(payloadType: UInt8) -> Kind { kinds[Int(payloadType & 0x7F)] }
}
