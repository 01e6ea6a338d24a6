import Media
import Testing

/// Builds RTP datagrams for the capture tests.
enum RTP {
    static func packet(pt: UInt8 = 0, seq: UInt16, ts: UInt32, ssrc: UInt32 = 0x1234_5678, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80, (marker ? 0x80 : 0) | pt, UInt8(seq >> 8), UInt8(seq & 0xFF)]
        for shift in [24, 16, 8, 0] { bytes.append(UInt8((ts >> UInt32(shift)) & 0xFF)) }
        for shift in [24, 16, 8, 0] { bytes.append(UInt8((ssrc >> UInt32(shift)) & 0xFF)) }
        return bytes + payload
    }

    /// µ-law bytes whose decoded value is `G711.ulawTable[code]`.
    static func ulaw(_ code: UInt8, count: Int = 160) -> [UInt8] { Array(repeating: code, count: count) }

    static let pcmu = PayloadMap(formats: [0, 8, 13, 101], rtpmap: [(101, "telephone-event", 8000, 1)])
}

extension StreamCapture {
    func receive(_ bytes: [UInt8], arrival: Int64) {
        bytes.withUnsafeBytes { receive($0, arrival: arrival) }
    }

    /// Takes samples up to `end` as one mono channel.
    func takeMono(upTo end: Int64) -> [Int32] {
        let count = Int(end - takenUpTo)
        var out = [Int32](repeating: 0, count: max(0, count))
        out.withUnsafeMutableBufferPointer { take(upTo: end, into: $0.baseAddress!, channels: 1, channel: 0) }
        return out
    }
}

@Suite("Stream capture: packets placed on the timeline")
struct StreamCaptureTests {
    static let loud: UInt8 = 0x00      // µ-law code with a large negative value
    static let quiet: UInt8 = 0xFF     // µ-law silence (0)
    static var loudValue: Int32 { Int32(G711.ulawTable[Int(loud)]) }

    @Test("the first packet sits where it arrived; the next ones where their timestamps say")
    func placement() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 1, ts: 1000, payload: RTP.ulaw(Self.loud)), arrival: 800)
        capture.receive(RTP.packet(seq: 2, ts: 1160, payload: RTP.ulaw(Self.loud)), arrival: 965)
        let out = capture.takeMono(upTo: 1200)
        #expect(out[0..<800].allSatisfy { $0 == 0 })
        #expect(out[800..<1120].allSatisfy { $0 == Self.loudValue })
        #expect(out[1120...].allSatisfy { $0 == 0 })
        #expect(capture.statistics.packets == 2)
        #expect(capture.statistics.lost == 0)
    }

    @Test("reordered packets land in their places; duplicates are counted and change nothing")
    func reorderAndDuplicates() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 10, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 0)
        capture.receive(RTP.packet(seq: 12, ts: 320, payload: RTP.ulaw(Self.loud)), arrival: 330)
        capture.receive(RTP.packet(seq: 11, ts: 160, payload: RTP.ulaw(Self.loud)), arrival: 340)
        capture.receive(RTP.packet(seq: 11, ts: 160, payload: RTP.ulaw(Self.loud)), arrival: 345)
        let out = capture.takeMono(upTo: 480)
        #expect(out.allSatisfy { $0 == Self.loudValue })
        #expect(capture.statistics.duplicates == 1)
        #expect(capture.statistics.lost == 0)
    }

    @Test("a lost packet leaves silence and is counted")
    func loss() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 65535, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 0)
        capture.receive(RTP.packet(seq: 1, ts: 320, payload: RTP.ulaw(Self.loud)), arrival: 320)
        let out = capture.takeMono(upTo: 480)
        #expect(out[0..<160].allSatisfy { $0 == Self.loudValue })
        #expect(out[160..<320].allSatisfy { $0 == 0 })
        #expect(out[320..<480].allSatisfy { $0 == Self.loudValue })
        // Sequence 0 (across the wrap) never came.
        #expect(capture.statistics.lost == 1)
    }

    @Test("one stray packet with a sequence number far off does not make thousands look lost")
    func straySequence() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 100, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 0)
        capture.receive(RTP.packet(seq: 50_100, ts: 160, payload: RTP.ulaw(Self.loud)), arrival: 160)
        capture.receive(RTP.packet(seq: 101, ts: 320, payload: RTP.ulaw(Self.loud)), arrival: 320)
        #expect(capture.statistics.lost == 0)
    }

    @Test("a packet for samples already taken is late: counted, not written")
    func late() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 0)
        capture.receive(RTP.packet(seq: 3, ts: 320, payload: RTP.ulaw(Self.loud)), arrival: 320)
        _ = capture.takeMono(upTo: 480)
        capture.receive(RTP.packet(seq: 2, ts: 160, payload: RTP.ulaw(Self.loud)), arrival: 700)
        #expect(capture.statistics.late == 1)
        #expect(capture.takeMono(upTo: 800).allSatisfy { $0 == 0 })
    }

    @Test("timestamps across the 32-bit wrap continue the timeline")
    func timestampWrap() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 1, ts: UInt32.max - 159, payload: RTP.ulaw(Self.loud)), arrival: 0)
        capture.receive(RTP.packet(seq: 2, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 160)
        #expect(capture.takeMono(upTo: 320).allSatisfy { $0 == Self.loudValue })
        #expect(capture.statistics.timestampJumps == 0)
    }

    @Test("a new SSRC (the SRC restarted the stream) starts again where it arrives")
    func sourceChange() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 1, ts: 0, ssrc: 1, payload: RTP.ulaw(Self.loud)), arrival: 0)
        capture.receive(RTP.packet(seq: 900, ts: 777_777, ssrc: 2, payload: RTP.ulaw(Self.loud)), arrival: 1600)
        let out = capture.takeMono(upTo: 1760)
        #expect(out[0..<160].allSatisfy { $0 == Self.loudValue })
        #expect(out[160..<1600].allSatisfy { $0 == 0 })
        #expect(out[1600..<1760].allSatisfy { $0 == Self.loudValue })
        #expect(capture.statistics.sourceChanges == 1)
        #expect(capture.statistics.lost == 0)
    }

    @Test("a timestamp jump (hold with frozen timestamps) re-anchors at the arrival time")
    func timestampJump() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 0)
        // 3 s later the timestamp has moved only 20 ms.
        capture.receive(RTP.packet(seq: 2, ts: 160, payload: RTP.ulaw(Self.loud)), arrival: 24000)
        #expect(capture.statistics.timestampJumps == 1)
        _ = capture.takeMono(upTo: 20000)
        let out = capture.takeMono(upTo: 24160)
        #expect(out[4000..<4160].allSatisfy { $0 == Self.loudValue })
    }

    @Test("over a one-hour call, a sender clock 100 ppm off stays within 20 ms of the wall clock", arguments: [-100.0, 100.0])
    func clockDrift(ppm: Double) {
        let capture = StreamCapture(payloads: RTP.pcmu)
        // Packets sent every 20 ms of the sender's clock, which runs `ppm` off ours, with up
        // to 5 ms of network jitter (a fixed sequence, so the test repeats exactly).
        var jitter: UInt64 = 0x9E37_79B9_7F4A_7C15
        var worst: Int64 = 0
        let payload = RTP.ulaw(0x00)
        for index in 0..<180_000 {
            let sent = Double(index) * 160 * (1 + ppm / 1_000_000)
            jitter = jitter &* 6364136223846793005 &+ 1442695040888963407
            let arrival = Int64(sent) + Int64(jitter >> 58)
            capture.receive(RTP.packet(seq: UInt16(truncatingIfNeeded: index), ts: UInt32(truncatingIfNeeded: index * 160), payload: payload), arrival: arrival)
            worst = max(worst, abs(capture.writtenUpTo - 160 - Int64(sent)))
            if index % 50 == 49 { _ = capture.takeMono(upTo: arrival - 2400) }
        }
        #expect(worst <= 160, "placement strayed \(worst) samples from the sender's real time")
        #expect(capture.statistics.clockCorrections > 0)
        #expect(capture.statistics.timestampJumps == 0)
    }

    @Test("DTMF events are kept with their place; comfort noise and unknown payloads are silence")
    func eventsAndOtherPayloads() {
        let capture = StreamCapture(payloads: RTP.pcmu)
        capture.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(Self.loud)), arrival: 0)
        // Digit 5 starting at timestamp 800, three packets of one event (the last with E).
        for (index, duration) in [160, 320, 480].enumerated() {
            capture.receive(RTP.packet(pt: 101, seq: UInt16(2 + index), ts: 800,
                                       payload: [5, index == 2 ? 0x80 : 0, UInt8(duration >> 8), UInt8(duration & 0xFF)]), arrival: 800 + Int64(index) * 160)
        }
        capture.receive(RTP.packet(pt: 13, seq: 5, ts: 1600, payload: [40]), arrival: 1600)
        capture.receive(RTP.packet(pt: 99, seq: 6, ts: 1760, payload: RTP.ulaw(Self.loud)), arrival: 1760)
        #expect(capture.dtmf == [StreamCapture.DTMFEvent(position: 800, event: 5, durationSamples: 480)])
        #expect(capture.statistics.comfortNoise == 1)
        #expect(capture.statistics.unknownPayload == 1)
        #expect(capture.takeMono(upTo: 2000)[160...].allSatisfy { $0 == 0 })
    }

    @Test("A-law and L16 decode; malformed datagrams are counted")
    func decoders() {
        let payloads = PayloadMap(formats: [8, 96], rtpmap: [(96, "L16", 8000, 1)])
        let capture = StreamCapture(payloads: payloads)
        capture.receive(RTP.packet(pt: 8, seq: 1, ts: 0, payload: Array(repeating: 0xD5, count: 160)), arrival: 0)
        capture.receive(RTP.packet(pt: 96, seq: 2, ts: 160, payload: [0x12, 0x34, 0xFF, 0xFE]), arrival: 160)
        capture.receive([0x80, 0x00, 0x01], arrival: 200)
        let out = capture.takeMono(upTo: 162)
        #expect(out[0] == Int32(G711.alawTable[0xD5]))
        #expect(out[160] == 0x1234)
        #expect(out[161] == -2)
        #expect(capture.statistics.malformed == 1)
    }

    @Test("codecs this build does not decode are counted and named")
    func notDecoded() {
        let payloads = PayloadMap(formats: [3, 97], rtpmap: [(97, "AMR", 8000, 1)])
        #expect(payloads.notDecodedNames == [3: "GSM", 97: "AMR"])
        let capture = StreamCapture(payloads: payloads)
        capture.receive(RTP.packet(pt: 97, seq: 1, ts: 0, payload: Array(repeating: 1, count: 20)), arrival: 0)
        #expect(capture.statistics.undecodable == 1)
        #expect(capture.notDecodedSeen == [97])
    }
}

@Suite("Capture recording: streams mixed into channels")
struct CaptureRecordingTests {
    @Test("nothing is produced before the first packet; the first chunk owes the silence since the start")
    func leadingSilence() throws {
        let recording = CaptureRecording(id: "r1", channels: 2)
        let left = recording.add(key: "1", channel: 0, payloads: RTP.pcmu)
        let right = recording.add(key: "2", channel: 1, payloads: RTP.pcmu)
        #expect(recording.drain(upTo: 8000) == nil)
        left.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0x00)), arrival: 8100)
        right.receive(RTP.packet(seq: 1, ts: 0, ssrc: 9, payload: RTP.ulaw(0x80)), arrival: 8100)
        let chunk = try #require(recording.drain(upTo: 8400))
        #expect(chunk.leadingSilenceFrames == 8000)
        #expect(chunk.samples.count == 800)
        // Frame 100 (position 8100): left from stream 1, right from stream 2.
        #expect(chunk.samples[200] == G711.ulawTable[0x00])
        #expect(chunk.samples[201] == G711.ulawTable[0x80])
        #expect(chunk.samples[0] == 0 && chunk.samples[1] == 0)
    }

    @Test("two streams on one channel are added, with saturation")
    func mixing() throws {
        let recording = CaptureRecording(id: "r2", channels: 1)
        let a = recording.add(key: "1", channel: 0, payloads: RTP.pcmu)
        let b = recording.add(key: "2", channel: 0, payloads: RTP.pcmu)
        a.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0x00)), arrival: 0)
        b.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0x00)), arrival: 0)
        let chunk = try #require(recording.drain(upTo: 160))
        #expect(chunk.samples.allSatisfy { $0 == Int16.min })
    }

    @Test("a removed stream gives what it holds to the next drain, then leaves")
    func removal() throws {
        let recording = CaptureRecording(id: "r3", channels: 1)
        let a = recording.add(key: "1", channel: 0, payloads: RTP.pcmu)
        a.receive(RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0x00)), arrival: 0)
        recording.remove(a)
        let chunk = try #require(recording.drain(upTo: 160))
        #expect(chunk.samples.allSatisfy { $0 == G711.ulawTable[0x00] })
        #expect(recording.streams.count == 1)
        #expect(recording.writtenUpTo == 160)
    }
}

@Suite("RTCP and jitter")
struct RTCPTests {
    /// An SR (one report block) followed by an SDES, as an SRC sends them.
    static func senderReport(packets: UInt32, fractionLost: UInt8 = 64, cumulative: Int32 = -2, jitter: UInt32 = 80) -> [UInt8] {
        func word(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
        var sr: [UInt8] = [0x81, 200, 0, 12] + word(0x1111)
        sr += word(0xE000_0000) + word(0) + word(16000) + word(packets) + word(packets * 160)
        let lost = UInt32(bitPattern: cumulative) & 0x00FF_FFFF
        sr += word(0x2222) + [fractionLost, UInt8(lost >> 16), UInt8((lost >> 8) & 0xFF), UInt8(lost & 0xFF)] + word(100) + word(jitter) + word(0) + word(0)
        let sdes: [UInt8] = [0x81, 202, 0, 2] + word(0x1111) + [1, 2, 0x61, 0]
        return sr + sdes
    }

    @Test("a sender report's count and a report block's loss and jitter are kept; SDES is skipped")
    func compound() throws {
        let bytes = Self.senderReport(packets: 500)
        let compound = try bytes.withUnsafeBytes { try RTCPCompound(parsing: $0) }
        #expect(compound.senders == [.init(ssrc: 0x1111, packetCount: 500, octetCount: 80000)])
        #expect(compound.reports == [.init(ssrc: 0x2222, fractionLost: 0.25, cumulativeLost: -2, jitter: 80)])
        let capture = StreamCapture(payloads: RTP.pcmu)
        bytes.withUnsafeBytes { capture.receiveRTCP($0) }
        #expect(capture.statistics.rtcp == 1)
        #expect(capture.statistics.senderReportedPackets == 500)
        #expect(capture.statistics.reportedFractionLost == 0.25)
        #expect(capture.statistics.reportedJitter == 80)
    }

    @Test("truncated or foreign bytes are refused and counted as malformed", arguments: [
        [UInt8](), [0x81, 200, 0, 12, 0, 0], [0x41, 200, 0, 0], [0x81, 201, 0xFF, 0xFF, 1, 2, 3, 4],
    ])
    func malformed(bytes: [UInt8]) {
        let capture = StreamCapture(payloads: RTP.pcmu)
        bytes.withUnsafeBytes { capture.receiveRTCP($0) }
        #expect(capture.statistics.malformed == 1)
        #expect(capture.statistics.rtcp == 0)
    }

    @Test("interarrival jitter: none for a steady stream, the RFC 3550 estimate for an uneven one")
    func jitter() {
        let steady = StreamCapture(payloads: RTP.pcmu)
        let uneven = StreamCapture(payloads: RTP.pcmu)
        for index in 0..<200 {
            steady.receive(RTP.packet(seq: UInt16(index), ts: UInt32(index * 160), payload: RTP.ulaw(0)), arrival: Int64(index * 160))
            // Alternately 0 and 80 samples (10 ms) late: |D| = 80 every packet, so J tends to 80.
            uneven.receive(RTP.packet(seq: UInt16(index), ts: UInt32(index * 160), payload: RTP.ulaw(0)), arrival: Int64(index * 160 + (index % 2) * 80))
            if index % 40 == 39 {
                _ = steady.takeMono(upTo: Int64(index * 160 - 1000))
                _ = uneven.takeMono(upTo: Int64(index * 160 - 1000))
            }
        }
        #expect(steady.statistics.jitter == 0)
        #expect(abs(uneven.statistics.jitter - 80) < 1)
    }
}
