#if canImport(Glibc)
import Glibc
#endif

/// G.711 µ-law, the one codec the load generator sends (PCMU, payload type 0).
enum MuLaw {
    /// µ-law of silence: what a PCMU sender emits for digital zero.
    static let silence: UInt8 = 0xFF

    /// Linear 16-bit PCM to µ-law (ITU-T G.711): add the bias, find the segment (exponent)
    /// from the highest set bit, keep the next four bits as mantissa, invert all bits.
    static func encode(_ sample: Int16) -> UInt8 {
        let bias = 0x84
        let clip = 32635
        var magnitude = Int(sample)
        let sign = magnitude < 0 ? 0x80 : 0
        if magnitude < 0 { magnitude = -magnitude }  // Int, so -(-32768) is fine
        magnitude = min(magnitude, clip) + bias
        var exponent = 7
        var mask = 0x4000
        while exponent > 0 && magnitude & mask == 0 {
            exponent -= 1
            mask >>= 1
        }
        let mantissa = (magnitude >> (exponent + 3)) & 0x0F
        return ~UInt8(sign | (exponent << 4) | mantissa)
    }
}

/// What every stream sends: a tone per stream label, interrupted by alignment gaps.
enum StreamAudio {
    static let sampleRate = 8000
    /// 20 ms of PCMU.
    static let samplesPerPacket = 160
    static let packetMilliseconds = 20

    /// Stream label K (1-based) sends tone K. Each one is a whole number of cycles per 20 ms
    /// packet (8, 20 and 34), so one precomputed payload repeats without a phase jump.
    static let frequencies: [Double] = [400, 1000, 1700]

    static func frequency(label: Int) -> Double {
        frequencies[(label - 1) % frequencies.count]
    }

    /// Peak amplitude of -12 dBFS.
    static let amplitude = 32767.0 * pow(10, -12.0 / 20)

    /// One packet's payload for each tone, indexed like `frequencies`.
    static let tonePayloads: [[UInt8]] = frequencies.map { frequency in
        (0..<samplesPerPacket).map { n in
            let value = amplitude * sin(2 * Double.pi * frequency * Double(n) / Double(sampleRate))
            return MuLaw.encode(Int16(value.rounded()))
        }
    }

    static let silencePayload = [UInt8](repeating: MuLaw.silence, count: samplesPerPacket)

    /// The alignment gaps: silence from 1.0 s to 1.2 s after a stream's first packet, then the
    /// same every 5 s (6.0-6.2, 11.0-11.2 ...). In packets: 50..<60 of every 250.
    static let gapStart = 1.0
    static let gapLength = 0.2
    static let gapPeriod = 5.0
    private static let gapFirstPacket = Int(gapStart * 1000) / packetMilliseconds
    private static let gapPackets = Int(gapLength * 1000) / packetMilliseconds
    private static let periodPackets = Int(gapPeriod * 1000) / packetMilliseconds

    /// Whether packet `index` (0 = the stream's first) falls in an alignment gap.
    @inline(__always)
    static func isGap(packetIndex index: Int) -> Bool {
        let phase = index % periodPackets
        return phase >= gapFirstPacket && phase < gapFirstPacket + gapPackets
    }
}
