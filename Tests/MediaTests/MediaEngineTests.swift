import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Media
import Testing

/// Keeps what the engine hands over.
final class CollectingSink: AudioSink, @unchecked Sendable {
    private let lock = NSLock()
    private var chunks: [String: [CaptureRecording.Chunk]] = [:]
    func audio(recordingID: String, chunk: CaptureRecording.Chunk, channels: Int) {
        lock.lock(); chunks[recordingID, default: []].append(chunk); lock.unlock()
    }
    func samples(_ id: String) -> (silence: Int64, samples: [Int16]) {
        lock.lock(); defer { lock.unlock() }
        let list = chunks[id] ?? []
        return (list.first?.leadingSilenceFrames ?? 0, list.flatMap(\.samples))
    }
}

@Suite("Media engine: sockets to recordings")
struct MediaEngineTests {
    static func send(_ datagrams: [[UInt8]], to port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for datagram in datagrams {
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    @Test("packets on two sockets end up in their channels; the end reports every stream")
    func twoStreams() async throws {
        let sink = CollectingSink()
        let engine = try MediaEngine(sink: sink)
        engine.start()
        defer { engine.stop() }
        let left = try engine.bind(host: "127.0.0.1", port: 0).get()
        let right = try engine.bind(host: "127.0.0.1", port: 0).get()
        engine.begin(recordingID: "rec", channels: 2, startNanos: MediaEngine.monotonicNanos())
        engine.attach(fd: left, recordingID: "rec", streamKey: "1", channel: 0, payloads: RTP.pcmu)
        engine.attach(fd: right, recordingID: "rec", streamKey: "2", channel: 1, payloads: RTP.pcmu)
        // Five packets (100 ms) per stream, and a datagram that is not RTP.
        Self.send((0..<5).map { RTP.packet(seq: UInt16($0), ts: UInt32($0 * 160), ssrc: 1, payload: RTP.ulaw(0x00)) }, to: try #require(MediaEngine.localPort(of: left)))
        // Plus a datagram that is not RTP and one longer than the receive buffer (2,048 bytes).
        Self.send((0..<5).map { RTP.packet(seq: UInt16($0), ts: UInt32($0 * 160), ssrc: 2, payload: RTP.ulaw(0x80)) } + [[1, 2, 3], [UInt8](repeating: 0x80, count: 3000)],
                  to: try #require(MediaEngine.localPort(of: right)))
        // The engine reads what arrived before it runs the end command only if the packets are
        // already queued on the sockets, which they are once sendto returned on loopback.
        let (reports, frames) = await withCheckedContinuation { continuation in
            engine.end(recordingID: "rec") { continuation.resume(returning: ($0, $1)) }
        }
        let byKey = Dictionary(uniqueKeysWithValues: reports.map { ($0.key, $0) })
        #expect(byKey["1"]?.statistics.packets == 5)
        #expect(byKey["2"]?.statistics.packets == 5)
        #expect(byKey["2"]?.statistics.malformed == 2)
        let (silence, samples) = sink.samples("rec")
        #expect(Int64(samples.count / 2) + silence == frames)
        let left0 = stride(from: 0, to: samples.count, by: 2).filter { samples[$0] == G711.ulawTable[0x00] }.count
        let right1 = stride(from: 1, to: samples.count, by: 2).filter { samples[$0] == G711.ulawTable[0x80] }.count
        #expect(left0 == 800)
        #expect(right1 == 800)
    }

    @Test("RTCP on the stream's RTCP port is read into its statistics")
    func rtcpPort() async throws {
        let engine = try MediaEngine(sink: CollectingSink())
        engine.start()
        defer { engine.stop() }
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        let rtcp = try engine.bind(host: "127.0.0.1", port: 0).get()
        engine.begin(recordingID: "q", channels: 1, startNanos: MediaEngine.monotonicNanos())
        engine.attach(fd: fd, rtcp: .bound(rtcp), recordingID: "q", streamKey: "1", channel: 0, payloads: RTP.pcmu)
        Self.send([RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0))], to: try #require(MediaEngine.localPort(of: fd)))
        Self.send([RTCPTests.senderReport(packets: 42)], to: try #require(MediaEngine.localPort(of: rtcp)))
        let reports = await withCheckedContinuation { continuation in
            engine.end(recordingID: "q") { reports, _ in continuation.resume(returning: reports) }
        }
        #expect(reports.first?.statistics.senderReportedPackets == 42)
        #expect(reports.first?.statistics.rtcp == 1)
        #expect(reports.first?.statistics.packets == 1)
    }

    @Test("live statistics: a running recording's counters so far, by recording; an engine not running answers at once with none")
    func liveStatistics() async throws {
        let idle = try MediaEngine(sink: CollectingSink())
        let none = await withCheckedContinuation { continuation in idle.statistics { continuation.resume(returning: $0) } }
        #expect(none.isEmpty)

        let engine = try MediaEngine(sink: CollectingSink())
        engine.start()
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        engine.begin(recordingID: "live", channels: 1, startNanos: MediaEngine.monotonicNanos())
        engine.attach(fd: fd, recordingID: "live", streamKey: "1", channel: 0, payloads: RTP.pcmu)
        Self.send((0..<3).map { RTP.packet(seq: UInt16($0), ts: UInt32($0 * 160), payload: RTP.ulaw(0)) }, to: try #require(MediaEngine.localPort(of: fd)))
        // The packets are queued on the socket once sendto returned; the engine reads them
        // within its next wake-up, so ask until they are counted (bounded).
        var packets = 0
        for _ in 0..<200 where packets < 3 {
            let stats = await withCheckedContinuation { continuation in engine.statistics { continuation.resume(returning: $0) } }
            #expect(Set(stats.keys) == ["live"])
            packets = stats["live"]?.first?.statistics.packets ?? 0
            if packets < 3 { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(packets == 3)
        engine.stop()
        let afterStop = await withCheckedContinuation { continuation in engine.statistics { continuation.resume(returning: $0) } }
        #expect(afterStop.isEmpty)
    }

    @Test("a packet that waited on its socket is placed when the kernel received it, not when the thread read it")
    func placedAtKernelArrival() async throws {
        let engine = try MediaEngine(sink: CollectingSink())
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        let start = MediaEngine.monotonicNanos()
        engine.begin(recordingID: "late", channels: 1, startNanos: start)
        MediaEngineTests.send([RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0))], to: try #require(MediaEngine.localPort(of: fd)))
        let sent = MediaEngine.monotonicNanos()
        // The condition under test: the media thread gets to the socket 100 ms after the
        // packet came (here it is not even running yet).
        try await Task.sleep(for: .milliseconds(100))
        engine.attach(fd: fd, recordingID: "late", streamKey: "1", channel: 0, payloads: RTP.pcmu)
        engine.start()
        defer { engine.stop() }
        let reports = await withCheckedContinuation { continuation in
            engine.end(recordingID: "late") { reports, _ in continuation.resume(returning: reports) }
        }
        let first = try #require(reports.first?.statistics.firstArrival)
        // In 8 kHz samples since the start: at most 1 ms after the send returned.
        #expect(first <= Int64((sent - start) / 125_000) + 8)
    }

    @Test("a port in use is refused with its errno")
    func bindFailure() throws {
        let engine = try MediaEngine(sink: CollectingSink())
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(MediaEngine.localPort(of: fd))
        #expect(throws: POSIXError.self) { try engine.bind(host: "127.0.0.1", port: port).get() }
        #expect(throws: POSIXError.self) { try engine.bind(host: "not-an-address", port: 0).get() }
        close(fd)
    }
}

final class ReplyFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

@Suite("Media engine: SRTP")
struct MediaEngineSRTPTests {
    static func key(_ suite: SRTPSuite, seed: UInt8, mki: [UInt8]? = nil) -> SRTPKey {
        SRTPKey(tag: 1, suite: suite, keyAndSalt: (0..<suite.keyLength).map { UInt8(truncatingIfNeeded: Int($0) * 7 + Int(seed)) }, mki: mki)
    }

    /// Sends `count` protected packets (µ-law `code`), starting at sequence `first`.
    static func packets(_ key: SRTPKey, code: UInt8, first: Int, count: Int) throws -> [[UInt8]] {
        let sender = try SRTPContext(key: key, outbound: true)
        return try (first..<(first + count)).map { index in
            try #require(sender.protect(RTP.packet(seq: UInt16(index), ts: UInt32(index * 160), ssrc: 77, payload: RTP.ulaw(code))))
        }
    }

    static func run(_ key: SRTPKey?, attachKey: SRTPKey?, datagrams: [[UInt8]], update: (SRTPKey, [[UInt8]])? = nil) async throws -> ([MediaEngine.StreamReport], [Int16]) {
        let sink = CollectingSink()
        let engine = try MediaEngine(sink: sink)
        engine.start()
        defer { engine.stop() }
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(MediaEngine.localPort(of: fd))
        engine.begin(recordingID: "s", channels: 1, startNanos: MediaEngine.monotonicNanos())
        engine.attach(fd: fd, recordingID: "s", streamKey: "1", channel: 0, payloads: RTP.pcmu, srtp: attachKey)
        MediaEngineTests.send(datagrams, to: port)
        if let (newKey, more) = update {
            engine.update(fd: fd, payloads: RTP.pcmu, srtp: newKey)
            MediaEngineTests.send(more, to: port)
        }
        let reports = await withCheckedContinuation { continuation in
            engine.end(recordingID: "s") { reports, _ in continuation.resume(returning: reports) }
        }
        return (reports, sink.samples("s").samples)
    }

    @Test("every SDES suite decrypts; the audio is what was sent", arguments: SRTPSuite.allCases)
    func suites(suite: SRTPSuite) async throws {
        let key = Self.key(suite, seed: 3)
        let (reports, samples) = try await Self.run(key, attachKey: key, datagrams: try Self.packets(key, code: 0x22, first: 0, count: 5))
        #expect(reports.first?.statistics.packets == 5)
        #expect(reports.first?.statistics.srtpFailures == 0)
        #expect(samples.filter { $0 == G711.ulawTable[0x22] }.count == 800)
    }

    @Test("with an MKI in every packet")
    func mki() async throws {
        let key = Self.key(.aesCM128HMACSHA1_80, seed: 9, mki: [0, 0, 0, 1])
        let (reports, samples) = try await Self.run(key, attachKey: key, datagrams: try Self.packets(key, code: 0x22, first: 0, count: 5))
        #expect(reports.first?.statistics.packets == 5)
        #expect(samples.filter { $0 == G711.ulawTable[0x22] }.count == 800)
    }

    @Test("tampered packets, a wrong key and replays are counted as failures and never reach the file")
    func failures() async throws {
        let key = Self.key(.aesCM128HMACSHA1_80, seed: 1)
        var datagrams = try Self.packets(key, code: 0x22, first: 0, count: 4)
        var tampered = datagrams[3]
        tampered[20] ^= 0xFF
        datagrams[3] = tampered
        datagrams.append(datagrams[0])  // a replay
        datagrams += try Self.packets(Self.key(.aesCM128HMACSHA1_80, seed: 2), code: 0x33, first: 10, count: 2)  // another key
        datagrams.append(RTP.packet(seq: 20, ts: 3200, ssrc: 77, payload: RTP.ulaw(0x44)))  // plain RTP
        let (reports, samples) = try await Self.run(key, attachKey: key, datagrams: datagrams)
        #expect(reports.first?.statistics.packets == 3)
        #expect(reports.first?.statistics.srtpFailures == 5)
        #expect(samples.filter { $0 == G711.ulawTable[0x22] }.count == 480)
        #expect(!samples.contains(G711.ulawTable[0x33]))
        #expect(!samples.contains(G711.ulawTable[0x44]))
    }

    @Test("decryption follows the sequence number across its 16-bit wrap (the rollover counter)", arguments: [SRTPSuite.aesCM128HMACSHA1_80, .aes256CMHMACSHA1_32, .aeadAES128GCM])
    func rollover(suite: SRTPSuite) throws {
        let key = Self.key(suite, seed: 11)
        let sender = try SRTPContext(key: key, outbound: true)
        let receiver = try SRTPContext(key: key)
        var decrypted = 0
        var last: [UInt8] = []
        for index in 65_500..<65_700 {
            let protected = try #require(sender.protect(RTP.packet(seq: UInt16(truncatingIfNeeded: index), ts: UInt32(index * 160), ssrc: 5, payload: RTP.ulaw(0x22))))
            var packet = protected
            let length = packet.withUnsafeMutableBytes { receiver.unprotect($0.baseAddress!, length: $0.count) }
            if let length, Array(packet[12..<length]) == RTP.ulaw(0x22) { decrypted += 1 }
            last = protected
        }
        #expect(decrypted == 200)
        // The same packet again is a replay.
        #expect(last.withUnsafeMutableBytes { receiver.unprotect($0.baseAddress!, length: $0.count) } == nil)
    }

    @Test("forged packets with new SSRCs do not push the real stream's state (its rollover counter) out")
    func forgedSources() throws {
        let key = Self.key(.aesCM128HMACSHA1_80, seed: 13)
        let sender = try SRTPContext(key: key, outbound: true)
        let receiver = try SRTPContext(key: key)
        func deliver(_ index: Int) throws -> Bool {
            var packet = try #require(sender.protect(RTP.packet(seq: UInt16(truncatingIfNeeded: index), ts: UInt32(truncatingIfNeeded: index * 160), ssrc: 9, payload: RTP.ulaw(0x22))))
            return packet.withUnsafeMutableBytes { receiver.unprotect($0.baseAddress!, length: $0.count) } != nil
        }
        var delivered = 0
        for index in 65_500..<65_600 where try deliver(index) { delivered += 1 }
        // Sixteen junk packets from sources nobody keyed.
        for ssrc in 100..<116 {
            var junk = RTP.packet(seq: 7, ts: 7, ssrc: UInt32(ssrc), payload: Array(repeating: 0xAB, count: 40))
            #expect(junk.withUnsafeMutableBytes { receiver.unprotect($0.baseAddress!, length: $0.count) } == nil)
        }
        for index in 65_600..<65_700 where try deliver(index) { delivered += 1 }
        #expect(delivered == 200)
    }

    @Test("stopping the engine right after ending a recording still runs the end and replies")
    func stopAfterEnd() throws {
        let engine = try MediaEngine(sink: CollectingSink())
        engine.start()
        engine.begin(recordingID: "e", channels: 1, startNanos: MediaEngine.monotonicNanos())
        let replied = ReplyFlag()
        engine.end(recordingID: "e") { _, _ in replied.set() }
        engine.stop()
        #expect(replied.isSet)
    }

    @Test("SRTCP from the SRC is decrypted with the stream's key", arguments: [SRTPSuite.aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32, .aeadAES256GCM])
    func srtcp(suite: SRTPSuite) throws {
        let key = Self.key(suite, seed: 12, mki: suite == .aesCM128HMACSHA1_32 ? [7, 7] : nil)
        let sender = try SRTPContext(key: key, outbound: true)
        let receiver = try SRTPContext(key: key)
        let plain = RTCPTests.senderReport(packets: 99)
        // libsrtp needs the stream's first RTP packet before RTCP.
        _ = sender.protect(RTP.packet(seq: 1, ts: 0, ssrc: 0x1111, payload: RTP.ulaw(0)))
        var packet = try #require(sender.protectRTCP(plain))
        let length = try #require(packet.withUnsafeMutableBytes { receiver.unprotectRTCP($0.baseAddress!, length: $0.count) })
        #expect(Array(packet[0..<length]) == plain)
        packet[9] ^= 1
        #expect(packet.withUnsafeMutableBytes { receiver.unprotectRTCP($0.baseAddress!, length: $0.count) } == nil)
    }

    @Test("a re-INVITE's new key takes over from the next packet")
    func rekey() async throws {
        let first = Self.key(.aesCM128HMACSHA1_80, seed: 4)
        let second = Self.key(.aeadAES128GCM, seed: 5)
        let (reports, samples) = try await Self.run(first, attachKey: first, datagrams: try Self.packets(first, code: 0x22, first: 0, count: 3),
                                                    update: (second, try Self.packets(second, code: 0x33, first: 3, count: 3)))
        #expect(reports.first?.statistics.packets == 6)
        #expect(reports.first?.statistics.srtpFailures == 0)
        #expect(samples.filter { $0 == G711.ulawTable[0x33] }.count == 480)
    }
}
