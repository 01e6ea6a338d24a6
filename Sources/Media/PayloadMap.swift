import CMediaIO

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
        /// G.722 (its RTP clock is 8 kHz by RFC 3551 §4.5.2; decoded to 8 kHz).
        case g722
        /// G.729 and Annex B (10-byte frames, 2-byte SID).
        case g729
        /// G.726 at 16/24/32/40 kbit/s, RFC 3551 packing (`G726-32`) and AAL2 packing
        /// (`AAL2-G726-32`, RFC 3551 §4.5.4).
        case g726_16, g726_24, g726_32, g726_40
        case aal2G726_16, aal2G726_24, aal2G726_32, aal2G726_40
        /// Opus (RFC 7587: the RTP clock is 48 kHz whatever the audio).
        case opus
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
            case 9: kinds[9] = .g722
            case 18: kinds[18] = .g729
            case 2: kinds[2] = .g726_32  // RFC 1890's static G721, still sent by some equipment
            case 3, 4, 15:
                kinds[Int(format)] = .notDecoded
                notDecodedNames[format] = [3: "GSM", 4: "G723", 15: "G728"][format]
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
        case "G722": return clockRate == 8000 ? .g722 : .notDecoded
        case "G729", "G729A", "G729AB": return clockRate == 8000 ? .g729 : .notDecoded
        case "G726-16": return .g726_16
        case "G726-24": return .g726_24
        case "G726-32", "G721": return .g726_32
        case "G726-40": return .g726_40
        case "AAL2-G726-16": return .aal2G726_16
        case "AAL2-G726-24": return .aal2G726_24
        case "AAL2-G726-32": return .aal2G726_32
        case "AAL2-G726-40": return .aal2G726_40
        case "OPUS": return clockRate == 48000 ? .opus : .notDecoded
        case "TELEPHONE-EVENT": return .telephoneEvent
        case "CN": return .comfortNoise
        default: return .notDecoded
        }
    }

    @inline(__always)
    public subscript(payloadType: UInt8) -> Kind { kinds[Int(payloadType & 0x7F)] }
}

extension PayloadMap.Kind {
    /// RTP timestamp units per 8 kHz sample.
    var timestampsPerSample: Int64 { self == .opus ? 6 : 1 }

    /// The decoder behind a stateful codec: (codec, bit rate, packing) for `mio_decoder_create`.
    var decoder: (codec: Int32, bitrate: Int32, packing: Int32)? {
        switch self {
        case .g722: return (1, 64000, 0)
        case .g729: return (2, 8000, 0)
        case .g726_16: return (3, 16000, 0)
        case .g726_24: return (3, 24000, 0)
        case .g726_32: return (3, 32000, 0)
        case .g726_40: return (3, 40000, 0)
        case .aal2G726_16: return (3, 16000, 1)
        case .aal2G726_24: return (3, 24000, 1)
        case .aal2G726_32: return (3, 32000, 1)
        case .aal2G726_40: return (3, 40000, 1)
        case .opus: return (4, 0, 0)
        default: return nil
        }
    }
}

/// An encoder for the codecs with state (the load generator's and the tests' side).
public final class AudioEncoder {
    private let pointer: OpaquePointer
    public let kind: PayloadMap.Kind

    public init?(_ kind: PayloadMap.Kind) {
        guard let spec = kind.decoder, let made = mio_encoder_create(spec.codec, spec.bitrate, spec.packing) else { return nil }
        pointer = made
        self.kind = kind
    }

    deinit { mio_encoder_destroy(pointer) }

    /// One packet's payload from 8 kHz samples.
    public func encode(_ samples: [Int16]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 1500)
        let written = samples.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { mio_encoder_encode(pointer, input.baseAddress, Int32(input.count), $0.baseAddress, Int32($0.count)) }
        }
        return written > 0 ? Array(out[0..<Int(written)]) : nil
    }
}
