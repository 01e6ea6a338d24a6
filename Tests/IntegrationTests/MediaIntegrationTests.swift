import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Media
import NIOCore
import SIPCore
import SIPTestSupport
import Testing

/// A SIPREC call placed from the test: INVITE with SDP and metadata, ACK, RTP on every
/// answered stream, BYE. Participant 1 sends label 1, participant 2 label 2; the m-lines are
/// listed label 2 first, so a channel that follows the metadata (not the m-line order) shows.
struct TestSIPRECCall {
    let client: SIPTestClient
    let callID = "media-\(UUID().uuidString)@example.com"
    let fromTag = "src\(UInt32.random(in: 1...UInt32.max))"
    var toTag = ""
    /// Answered port per label.
    var ports: [String: Int] = [:]

    /// SDES keys by label: the streams are offered as RTP/SAVP with them.
    let keys: [String: SRTPKey]
    /// Our address as the SDP and Via give it (`::1` for an IPv6 call).
    let host: String

    init(client: SIPTestClient, keys: [String: SRTPKey] = [:], host: String = "127.0.0.1") {
        self.client = client
        self.keys = keys
        self.host = host
    }

    var hostInURI: String { host.contains(":") ? "[\(host)]" : host }
    /// The Contact URI (the dialog's remote target); default: this client's address.
    var contactURI: String?

    func mediaLines(label: String, port: Int) -> [String] {
        let proto = keys[label] == nil ? "RTP/AVP" : "RTP/SAVP"
        return ["m=audio \(port) \(proto) 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"]
            + (keys[label].map { ["a=crypto:\($0.attribute)"] } ?? []) + ["a=label:\(label)", "a=sendonly"]
    }

    func invite() -> String {
        let family = host.contains(":") ? "IP6" : "IP4"
        let sdp = (["v=0", "o=src 1 1 IN \(family) \(host)", "s=-", "c=IN \(family) \(host)", "t=0 0"]
            + mediaLines(label: "2", port: 49172) + mediaLines(label: "1", port: 49170) + [""]).joined(separator: "\r\n")
        let metadata = """
        <?xml version="1.0" encoding="UTF-8"?>
        <recording xmlns="urn:ietf:params:xml:ns:recording:1">
        <datamode>complete</datamode>
        <session session_id="c2Vzc2lvbjE="><sipSessionID>ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2</sipSessionID></session>
        <participant participant_id="cGFydDE="><nameID aor="sip:+12025550101@example.com"/></participant>
        <participant participant_id="cGFydDI="><nameID aor="sip:+12025550102@example.com"/></participant>
        <stream stream_id="c3RyMQ==" session_id="c2Vzc2lvbjE="><label>1</label></stream>
        <stream stream_id="c3RyMg==" session_id="c2Vzc2lvbjE="><label>2</label></stream>
        <participantsessionassoc participant_id="cGFydDE=" session_id="c2Vzc2lvbjE="/>
        <participantsessionassoc participant_id="cGFydDI=" session_id="c2Vzc2lvbjE="/>
        <participantstreamassoc participant_id="cGFydDE="><send>c3RyMQ==</send><recv>c3RyMg==</recv></participantstreamassoc>
        <participantstreamassoc participant_id="cGFydDI="><send>c3RyMg==</send><recv>c3RyMQ==</recv></participantstreamassoc>
        </recording>
        """.replacingOccurrences(of: "\n", with: "\r\n")
        let body = "--b1\r\nContent-Type: application/sdp\r\n\r\n\(sdp)\r\n--b1\r\nContent-Type: application/rs-metadata+xml\r\n"
            + "Content-Disposition: recording-session\r\n\r\n\(metadata)\r\n--b1--\r\n"
        return [
            "INVITE sip:srs@\(hostInURI) SIP/2.0",
            "Via: SIP/2.0/UDP \(hostInURI):\(client.localPort);branch=z9hG4bK\(UUID().uuidString.prefix(12));rport",
            "Max-Forwards: 70", "From: <sip:src@example.com>;tag=\(fromTag)", "To: <sip:srs@example.com>",
            "Call-ID: \(callID)", "CSeq: 1 INVITE", "Contact: <\(contactURI ?? "sip:src@\(hostInURI):\(client.localPort)")>;+sip.src", "Require: siprec",
            "Content-Type: multipart/mixed;boundary=b1", "Content-Length: \(body.utf8.count)", "", body,
        ].joined(separator: "\r\n")
    }

    func inDialog(_ method: String, cseq: Int) -> String {
        [
            "\(method) sip:srs@\(hostInURI) SIP/2.0",
            "Via: SIP/2.0/UDP \(hostInURI):\(client.localPort);branch=z9hG4bK\(UUID().uuidString.prefix(12));rport",
            "Max-Forwards: 70", "From: <sip:src@example.com>;tag=\(fromTag)", "To: <sip:srs@example.com>;tag=\(toTag)",
            "Call-ID: \(callID)", "CSeq: \(cseq) \(method)", "Content-Length: 0", "", "",
        ].joined(separator: "\r\n")
    }

    /// The INVITE, and its final response (nil if none came within 5 s).
    func sendInvite() async throws -> SIPResponse? {
        try await client.send(invite())
        while let response = await client.nextResponse(timeout: .seconds(5)) {
            if response.statusCode >= 200 { return response }
        }
        return nil
    }

    /// INVITE, 200 (ports by label), ACK.
    mutating func start() async throws {
        let answer = try #require(try await sendInvite())
        #expect(answer.statusCode == 200)
        toTag = answer.to?.tag ?? ""
        let sdp = String(buffer: answer.body ?? ByteBuffer())
        var index = 0
        for line in sdp.split(whereSeparator: \.isNewline) where line.hasPrefix("m=audio ") {
            // Answer m-lines are in offer order: label 2, then label 1.
            if let port = Int(line.split(separator: " ")[1]), port != 0 { ports[index == 0 ? "2" : "1"] = port }
            index += 1
        }
        try await client.send(inDialog("ACK", cseq: 1))
    }

    func bye() async throws -> Int? {
        try await client.send(inDialog("BYE", cseq: 2))
        while let response = await client.nextResponse(timeout: .seconds(5)) {
            if response.statusCode >= 200 { return response.statusCode }
        }
        return nil
    }
}

/// Sends RTP from one socket, paced by the clock like a real source (20 ms per packet).
final class RTPSource {
    let ipv6: Bool
    let fd: Int32
    /// Per stream (by index), the context its packets are protected with.
    let srtp: [Int: SRTPContext]
    deinit { close(fd) }

    init(srtp: [Int: SRTPContext] = [:], ipv6: Bool = false) {
        self.srtp = srtp
        self.ipv6 = ipv6
        fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    }

    static func packet(pt: UInt8 = 0, seq: UInt16, ts: UInt32, ssrc: UInt32, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80, pt, UInt8(seq >> 8), UInt8(seq & 0xFF)]
        for shift in [24, 16, 8, 0] { bytes.append(UInt8((ts >> UInt32(shift)) & 0xFF)) }
        for shift in [24, 16, 8, 0] { bytes.append(UInt8((ssrc >> UInt32(shift)) & 0xFF)) }
        return bytes + payload
    }

    func send(_ bytes: [UInt8], to port: Int) {
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            _ = inet_pton(AF_INET6, "::1", &address.sin6_addr)
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            return
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// `packets` of each stream, every 20 ms; stream `i` carries µ-law code `codes[i]` throughout.
    func stream(to ports: [Int], codes: [UInt8], packets: Int, dtmfAt: Int? = nil) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<packets {
            for (stream, port) in ports.enumerated() {
                let ts = UInt32((sent + index) * 160)
                let packet = Self.packet(seq: nextSequence(stream), ts: ts, ssrc: UInt32(stream + 1), payload: Array(repeating: codes[stream], count: 160))
                if let context = srtp[stream] {
                    send(try #require(context.protect(packet)), to: port)
                } else {
                    send(packet, to: port)
                }
            }
            if let dtmfAt, index == dtmfAt, let port = ports.first {
                // Digit 7, 100 ms, end bit: an RFC 4733 event on the first stream.
                send(Self.packet(pt: 101, seq: nextSequence(0), ts: UInt32((sent + index) * 160), ssrc: 1, payload: [7, 0x80, 0x03, 0x20]), to: port)
            }
            try await Task.sleep(until: start.advanced(by: .milliseconds(20 * (index + 1))), clock: clock)
        }
        sent += packets
    }

    private var sequences: [Int: UInt16] = [:]
    private var sent = 0

    private func nextSequence(_ stream: Int) -> UInt16 {
        let value = sequences[stream, default: 1000]
        sequences[stream] = value &+ 1
        return value
    }
}

@Suite("Media: calls recorded to files", .serialized)
struct MediaIntegrationTests {
    static let yaml = "media:\n  rtp-ports: 43000-43999\n"

    /// Reads a WAV's channels (16-bit PCM after the data chunk) and checks its sizes.
    static func channels(of path: String) throws -> [[Int16]] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(String(decoding: bytes[0..<4], as: UTF8.self) == "RIFF")
        #expect(Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24) == bytes.count - 8)
        var offset = 12
        var channels = 1
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = Int(UInt32(bytes[offset + 4]) | UInt32(bytes[offset + 5]) << 8 | UInt32(bytes[offset + 6]) << 16 | UInt32(bytes[offset + 7]) << 24)
            if id == "fmt " { channels = Int(bytes[offset + 10]) }
            if id == "data" {
                #expect(size == bytes.count - offset - 8)
                let samples = stride(from: offset + 8, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
                return (0..<channels).map { channel in stride(from: channel, to: samples.count, by: channels).map { samples[$0] } }
            }
            offset += 8 + size + size % 2
        }
        Issue.record("no data chunk")
        return []
    }

    /// µ-law code 0x10 and 0x90: the same loudness, opposite signs.
    static let codes: [UInt8] = [0x10, 0x90]
    static func decoded(_ code: UInt8) -> Int16 {
        let value = ~code
        let magnitude = ((Int(value & 0x0F) << 3) + 0x84) << Int((value >> 4) & 0x07)
        return Int16(value & 0x80 != 0 ? 0x84 - magnitude : magnitude - 0x84)
    }

    @Test("a SIPREC call's two streams become one stereo WAV in the archive: caller left, callee right, by the metadata")
    func stereoRecording() async throws {
        let server = try ServerProcess(yaml: Self.yaml)
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        var call = TestSIPRECCall(client: client)
        let began = Date()
        try await call.start()
        let label1 = try #require(call.ports["1"]), label2 = try #require(call.ports["2"])
        // Label 1 (participant 1, the caller) sends code 0x10, label 2 sends 0x90; 60 packets = 1.2 s.
        let source = RTPSource()
        try await source.stream(to: [label1, label2], codes: Self.codes, packets: 60, dtmfAt: 30)
        // A sender report for label 1 on its RTCP port (RTP + 1): 61 packets sent.
        source.send([0x80, 200, 0, 6, 0, 0, 0, 1, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25, 0x80, 0, 0, 0, 61, 0, 0, 0x26, 0x20], to: label1 + 1)
        #expect(try await call.bye() == 200)
        let callSeconds = Date().timeIntervalSince(began)
        await client.close()
        let records = try server.stopAndReadRecords(removeData: false)
        defer { try? FileManager.default.removeItem(at: server.directory) }
        let record = try #require(records.first)
        let file = try #require(record["file"] as? [String: Any], "server log:\n\(server.log)")
        #expect(file["location"] as? String == "archive")
        #expect(file["channels"] as? Int == 2)
        #expect(file["channelRoles"] as? [String] == ["caller", "callee"])
        let path = try #require(file["path"] as? String)
        #expect(path.hasPrefix(server.dataDirectory.appendingPathComponent("archive").path))
        let seconds = try #require(file["audioSeconds"] as? Double)
        #expect(abs(seconds - callSeconds) < 0.5, "audio \(seconds) s for a call of \(callSeconds) s")
        let channels = try Self.channels(of: path)
        // Every packet's samples are in its channel, and only there.
        #expect(channels[0].filter { $0 == Self.decoded(0x10) }.count == 60 * 160)
        #expect(channels[1].filter { $0 == Self.decoded(0x90) }.count == 60 * 160)
        #expect(!channels[0].contains(Self.decoded(0x90)))
        #expect(!channels[1].contains(Self.decoded(0x10)))
        // The two parties' first samples are at the same place (sent in the same 20 ms tick).
        let first0 = try #require(channels[0].firstIndex(of: Self.decoded(0x10)))
        let first1 = try #require(channels[1].firstIndex(of: Self.decoded(0x90)))
        #expect(abs(first0 - first1) <= 160)
        // Streams: quality counted, channels noted.
        let streams = try #require(record["streams"] as? [[String: Any]])
        for stream in streams {
            let quality = try #require(stream["quality"] as? [String: Any])
            #expect(quality["packets"] as? Int == (stream["label"] as? String == "1" ? 61 : 60))
            #expect(quality["lost"] as? Int == 0)
            #expect(stream["channel"] as? Int == (stream["label"] as? String == "1" ? 0 : 1))
            if stream["label"] as? String == "1" {
                #expect(quality["rtcpPackets"] as? Int == 1)
                #expect(quality["senderReportedPackets"] as? Int == 61)
            }
        }
        let dtmf = try #require(record["dtmf"] as? [[String: Any]])
        #expect(dtmf.map { $0["event"] as? String } == ["7"])
        #expect(dtmf.first?["durationMs"] as? Int == 100)
        #expect(file["sha256"] as? String == (try Checksum.sha256sum(path)))
    }

    @Test("an SRTP SIPREC call is decrypted and recorded; the record names each stream's suite", arguments: [
        (SRTPSuite.aesCM128HMACSHA1_80, SRTPSuite.aesCM128HMACSHA1_32), (.aeadAES256GCM, .aes256CMHMACSHA1_80),
    ])
    func srtpRecording(first: SRTPSuite, second: SRTPSuite) async throws {
        let server = try ServerProcess(yaml: Self.yaml + "  srtp: require\n")
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        let keys = ["1": SRTPKey.random(tag: 1, suite: first), "2": SRTPKey.random(tag: 7, suite: second)]
        var call = TestSIPRECCall(client: client, keys: keys)
        try await call.start()
        let ports = [try #require(call.ports["1"]), try #require(call.ports["2"])]
        let source = RTPSource(srtp: [0: try SRTPContext(key: keys["1"]!, outbound: true), 1: try SRTPContext(key: keys["2"]!, outbound: true)])
        try await source.stream(to: ports, codes: Self.codes, packets: 25)
        #expect(try await call.bye() == 200)
        await client.close()
        let records = try server.stopAndReadRecords(removeData: false)
        defer { try? FileManager.default.removeItem(at: server.directory) }
        let record = try #require(records.first)
        let streams = try #require(record["streams"] as? [[String: Any]])
        #expect(Set(streams.compactMap { $0["srtpSuite"] as? String }) == [first.name, second.name])
        for stream in streams {
            let quality = try #require(stream["quality"] as? [String: Any])
            #expect(quality["packets"] as? Int == 25)
            #expect(quality["srtpFailures"] as? Int == 0)
        }
        let file = try #require(record["file"] as? [String: Any])
        let channels = try Self.channels(of: try #require(file["path"] as? String))
        #expect(channels[0].filter { $0 == Self.decoded(0x10) }.count == 25 * 160)
        #expect(channels[1].filter { $0 == Self.decoded(0x90) }.count == 25 * 160)
    }

    @Test("media.srtp require: a plain RTP offer gets 488")
    func srtpRequired() async throws {
        let server = try ServerProcess(yaml: Self.yaml + "  srtp: require\n")
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        let call = TestSIPRECCall(client: client)
        let final = try await call.sendInvite()
        #expect(final?.statusCode == 488)
        await client.close()
    }

    @Test("recording.layout per-stream: a mono file per stream, each named in the record with the streams it holds")
    func perStreamFiles() async throws {
        let server = try ServerProcess(yaml: Self.yaml + "recording:\n  layout: per-stream\n")
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        var call = TestSIPRECCall(client: client)
        try await call.start()
        let label1 = try #require(call.ports["1"]), label2 = try #require(call.ports["2"])
        try await RTPSource().stream(to: [label1, label2], codes: Self.codes, packets: 20)
        #expect(try await call.bye() == 200)
        await client.close()
        let records = try server.stopAndReadRecords(removeData: false)
        defer { try? FileManager.default.removeItem(at: server.directory) }
        let record = try #require(records.first)
        #expect(record["file"] == nil)
        let files = try #require(record["files"] as? [[String: Any]], "log:\n\(server.log)")
        #expect(files.count == 2)
        for file in files {
            #expect(file["channels"] as? Int == 1)
            #expect(file["location"] as? String == "archive")
            let roles = try #require(file["channelRoles"] as? [String])
            #expect(roles.count == 1)
            let samples = try Self.channels(of: try #require(file["path"] as? String))[0]
            // The file of label 1's stream holds code 0x10, label 2's holds 0x90.
            let code: UInt8 = roles == ["1"] ? 0x10 : 0x90
            #expect(samples.filter { $0 == Self.decoded(code) }.count == 20 * 160, "\(roles)")
        }
    }

    @Test("over IPv6: the SDP answers with an IPv6 address and the media on [::1] is recorded")
    func ipv6() async throws {
        let server = try ServerProcess(yaml: Self.yaml, listen: ["udp:[::1]:0"])
        let client = try await SIPTestClient.udp(port: server.port("udp"), host: "::1")
        var call = TestSIPRECCall(client: client, host: "::1")
        try await call.start()
        let ports = [try #require(call.ports["1"]), try #require(call.ports["2"])]
        try await RTPSource(ipv6: true).stream(to: ports, codes: Self.codes, packets: 20)
        #expect(try await call.bye() == 200)
        await client.close()
        let records = try server.stopAndReadRecords(removeData: false)
        defer { try? FileManager.default.removeItem(at: server.directory) }
        let record = try #require(records.first, "log:\n\(server.log)")
        let file = try #require(record["file"] as? [String: Any], "log:\n\(server.log)")
        let channels = try Self.channels(of: try #require(file["path"] as? String))
        #expect(channels[0].filter { $0 == Self.decoded(0x10) }.count == 20 * 160)
        #expect(channels[1].filter { $0 == Self.decoded(0x90) }.count == 20 * 160)
    }

    @Test("a call that sends no media for recording.no-media-timeout-s is ended with a BYE and recorded as such")
    func noMediaTimeout() async throws {
        let server = try ServerProcess(yaml: Self.yaml + "recording:\n  no-media-timeout-s: 1\n")
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        var call = TestSIPRECCall(client: client)
        try await call.start()
        var bye: SIPRequest?
        while let message = await client.nextMessage(timeout: .seconds(6)) {
            if case .request(let request) = message, request.method == .bye { bye = request; break }
        }
        let request = try #require(bye, "no BYE within 6 s; log:\n\(server.log)")
        #expect(request.headers[.reason]?.contains("no media") == true)
        // Answer it as an SRC would.
        var response = request.headers.filter { [.via, .from, .to, .callID, .cseq].contains($0.name) }.map { "\($0.rawName): \($0.value)" }
        response.insert("SIP/2.0 200 OK", at: 0)
        try await client.send(response.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
        await client.close()
        let records = try server.stopAndReadRecords()
        let record = try #require(records.first)
        #expect(SIPServerIntegrationTests.strings(record, "dialogs", "endReason") == ["no media"])
        #expect(record["file"] == nil)
    }

    @Test("sessions.tenants: a recording belongs to the tenant of its SRC's network, and the API lists it under that tenant")
    func tenantBySource() async throws {
        let token = "tenant-test-secret"
        let server = try ServerProcess(yaml: Self.yaml + "sessions:\n  tenants:\n    - name: branch-7\n      sources: [192.0.2.0/24]\n    - name: bank\n      sources: [127.0.0.0/8]\n",
                                       environment: ["SIPRECD_API_TOKEN": token])
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        var call = TestSIPRECCall(client: client)
        try await call.start()
        #expect(try await call.bye() == 200)
        await client.close()
        var items: [[String: Any]] = []
        try await DrainIntegrationTests.waitUntil(timeout: 10, "the recording to be catalogued") {
            items = (try await CatalogIntegrationTests.get(server.httpPort, "/api/v1/recordings?tenant=bank", token: token)).json["items"] as? [[String: Any]] ?? []
            return items.count == 1
        }
        #expect(items.first?["tenant"] as? String == "bank")
        let other = try await CatalogIntegrationTests.get(server.httpPort, "/api/v1/recordings?tenant=default", token: token)
        #expect((other.json["items"] as? [[String: Any]])?.isEmpty == true)
        let records = try server.stopAndReadRecords()
        #expect(records.first?["tenant"] as? String == "bank")
    }

    @Test("a spool short of space: new INVITEs and the SBC's OPTIONS keepalives get 503 with Retry-After (it records elsewhere)")
    func spoolShortOfSpace() async throws {
        // More free space asked for than any disk has.
        let server = try ServerProcess(yaml: Self.yaml + "recording:\n  spool-min-free-mb: 1000000000\n")
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        let call = TestSIPRECCall(client: client)
        let final = try await call.sendInvite()
        #expect(final?.statusCode == 503)
        #expect(final?.headers[.retryAfter] != nil)
        try await client.send(SIPText.options(port: client.localPort))
        let options = await client.nextResponse()
        #expect(options?.statusCode == 503)
        #expect(options?.headers[.retryAfter] == "30")
        #expect(options?.headers.firstValue(.warning)?.contains("spool short of space") == true)
        // Readiness says which check fails.
        let ready = try await CatalogIntegrationTests.get(server.httpPort, "/readyz", token: nil)
        #expect(ready.status == 503)
        #expect((ready.json["checks"] as? [String: String])?["spool"] == "spool short of space or not writable")
        await client.close()
    }

    /// siprec-loadgen beside the siprecd under test (`make test` builds both).
    static var loadgen: String {
        if let path = ProcessInfo.processInfo.environment["SIPREC_LOADGEN"] { return path }
        return (ServerProcess.binary as NSString).deletingLastPathComponent + "/siprec-loadgen"
    }

    @Test("siprec-loadgen's calls (tones per stream, SIPREC and Built-in-Bridge, plain and SRTP) are recorded and verified: length, channels, alignment, SHA-256",
          arguments: [["--mode", "siprec", "--streams", "2"], ["--mode", "bib", "--srtp", "AES_CM_128_HMAC_SHA1_80"], ["--mode", "siprec", "--streams", "3", "--srtp", "AEAD_AES_128_GCM"]])
    func loadgenVerifies(arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(Self.loadgen): run `make test`")
            return
        }
        let server = try ServerProcess(yaml: Self.yaml)
        defer { server.stop() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "240", Self.loadgen, "--target", "127.0.0.1:\(server.port("udp"))", "--calls", "3", "--rate", "3", "--duration", "7",
                             "--verify", server.dataDirectory.path, "--verify-timeout", "30", "--json", "--quiet"] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let summary = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "loadgen: \(summary)\nserver log:\n\(server.log.suffix(3000))")
        let report = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any], "\(summary)")
        #expect(report["recordingsVerified"] as? Int == 3, "\(report)")
    }

    @Test("after kill -9 mid-call, the next start repairs the spool file, archives it and marks the recording recovered",
          arguments: [false, true])
    func crashRecovery(recordLost: Bool) async throws {
        let server = try ServerProcess(yaml: Self.yaml)
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        var call = TestSIPRECCall(client: client)
        try await call.start()
        let ports = [try #require(call.ports["1"]), try #require(call.ports["2"])]
        // Audio until the spool file holds some (the first flush comes a second after the start).
        let spool = server.dataDirectory.appendingPathComponent("spool").path
        let source = RTPSource()
        var sent = 0
        while sent < 250 {
            try await source.stream(to: ports, codes: Self.codes, packets: 10)
            sent += 10
            let files = (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []
            let sizes = files.compactMap { try? FileManager.default.attributesOfItem(atPath: spool + "/" + $0)[.size] as? Int }
            if sizes.contains(where: { $0 > 8000 }) { break }
        }
        #expect(sent < 250, "no audio reached the spool in 5 s")
        server.kill()
        await client.close()
        if recordLost {
            // The process died before the call's record reached the journal (it is flushed
            // at most once a second): only the spool file tells of the call.
            try? FileManager.default.removeItem(at: server.dataDirectory.appendingPathComponent("recordings"))
        }
        let restarted = try ServerProcess(yaml: Self.yaml, reuse: server.directory)
        let records = try restarted.stopAndReadRecords(removeData: false)
        defer { try? FileManager.default.removeItem(at: server.directory) }
        let record = try #require(records.first)
        #expect(record["state"] as? String == "recovered")
        #expect((record["problems"] as? [String])?.contains { $0.hasPrefix("recovered after") } == true)
        if recordLost {
            #expect((record["problems"] as? [String])?.contains { $0.contains("rebuilt from the spool file") } == true, "\(record)")
            #expect(SIPServerIntegrationTests.strings(record, "dialogs", "callID") == [call.callID])
        }
        let file = try #require(record["file"] as? [String: Any], "log:\n\(restarted.log)")
        #expect(file["location"] as? String == "archive")
        let path = try #require(file["path"] as? String)
        let channels = try Self.channels(of: path)
        #expect(channels.count == 2)
        #expect(channels[0].contains(Self.decoded(0x10)))
        #expect((file["audioSeconds"] as? Double ?? 0) > 0.1)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: spool))?.filter { !$0.hasPrefix(".") }.isEmpty == true)
        try await DrainIntegrationTests.waitUntil(timeout: 10, "the log line of the recovery") { restarted.log.contains("recording recovered from the spool") }
    }
}
