import Foundation
import Media
import Testing

@Suite("Codecs: every decoded codec gives back the tone that was sent")
struct CodecTests {
    /// Energy of `frequency` in `samples` at 8 kHz (Goertzel).
    static func energy(_ samples: ArraySlice<Int32>, at frequency: Double) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * frequency / 8000)
        var previous = 0.0, beforePrevious = 0.0
        for sample in samples {
            let current = Double(sample) + coefficient * previous - beforePrevious
            beforePrevious = previous
            previous = current
        }
        return previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious
    }

    static func tone(_ frequency: Double, samples: Int) -> [Int16] {
        (0..<samples).map { Int16(8000 * sin(2 * Double.pi * frequency * Double($0) / 8000)) }
    }

    /// (rtpmap name, clock rate, payload kind, samples per 20 ms packet's timestamp step)
    static let codecs: [(String, Int, PayloadMap.Kind, UInt32)] = [
        ("G722", 8000, .g722, 160), ("G729", 8000, .g729, 160), ("G726-32", 8000, .g726_32, 160),
        ("G726-16", 8000, .g726_16, 160), ("AAL2-G726-40", 8000, .aal2G726_40, 160), ("opus", 48000, .opus, 960),
    ]

    @Test("a 1 kHz tone through encoder, RTP and stream capture comes out as a 1 kHz tone", arguments: 0..<6)
    func roundTrip(index: Int) throws {
        let (name, clock, kind, step) = Self.codecs[index]
        let encoder = try #require(AudioEncoder(kind), "\(name) encoder")
        let payloads = PayloadMap(formats: [96], rtpmap: [(96, name, clock, 1)])
        let capture = StreamCapture(payloads: payloads)
        let input = Self.tone(1000, samples: 8000)
        for packet in 0..<50 {
            let payload = try #require(encoder.encode(Array(input[(packet * 160)..<((packet + 1) * 160)])), "\(name) packet \(packet)")
            capture.receive(RTP.packet(pt: 96, seq: UInt16(packet), ts: UInt32(packet) * step, payload: payload), arrival: Int64(packet * 160))
        }
        #expect(capture.statistics.packets == 50)
        #expect(capture.statistics.malformed == 0 && capture.statistics.undecodable == 0, "\(name)")
        let output = capture.takeMono(upTo: 8000)
        // Past the codecs' start-up, the tone dominates: far more energy at 1 kHz than at 600 Hz or 2.2 kHz.
        let steady = output[2000..<8000]
        let tone = Self.energy(steady, at: 1000)
        #expect(tone > 20 * Self.energy(steady, at: 600), "\(name)")
        #expect(tone > 20 * Self.energy(steady, at: 2200), "\(name)")
        // And it is as loud as what went in (within 6 dB).
        let rms = sqrt(steady.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(steady.count))
        #expect(rms > 8000 / sqrt(2) / 2 && rms < 8000 / sqrt(2) * 2, "\(name): RMS \(rms)")
    }

    @Test("a G.729 packet with an Annex B SID frame decodes to comfort noise, not an error")
    func g729SID() throws {
        let capture = StreamCapture(payloads: PayloadMap(formats: [18], rtpmap: []))
        capture.receive(RTP.packet(pt: 18, seq: 1, ts: 0, payload: Array(repeating: 0x55, count: 20) + [0x12, 0x34]), arrival: 0)
        #expect(capture.statistics.malformed == 0)
        #expect(capture.writtenUpTo == 240)
    }
}
