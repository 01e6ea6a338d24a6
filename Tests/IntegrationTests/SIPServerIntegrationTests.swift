import Foundation
import NIOCore
import NIOSSL
import SIPCore
import SIPTestSupport
import Testing

/// End-to-end tests against the built siprecd binary: sipp scenarios for the RFC 3261 flows,
/// our own client for bad input, TCP framing limits and TLS. They run one after another in
/// one process (each test starts its own server with the configuration it needs).
@Suite("siprecd over the network", .serialized)
struct SIPServerIntegrationTests {
    // MARK: - sipp scenarios

    func runSipp(_ scenario: String, yaml: String = "", transport: String, calls: Int = 1, rate: Int = 5) throws {
        let server = try ServerProcess(yaml: yaml)
        defer { server.stop() }
        let port = server.port(transport == "t1" ? "tcp" : "udp")
        let result = try Sipp.run(scenario, port: port, transport: transport, calls: calls, rate: rate)
        #expect(result.status == 0, "sipp \(scenario) -t \(transport) exited \(result.status)\n\(result.errors)\n\(result.output)\nserver log:\n\(server.log)")
        #expect(server.isRunning)
    }

    @Test("sipp: OPTIONS over UDP and TCP get 200 with Allow, Accept and Supported: siprec", arguments: ["u1", "t1"])
    func options(transport: String) throws {
        try runSipp("options.xml", transport: transport)
    }

    @Test("sipp: INVITE/200/ACK/BYE over UDP")
    func basicCallUDP() throws {
        try runSipp("basic-call.xml", transport: "u1", calls: 5, rate: 10)
    }

    @Test("sipp: several calls on one TCP connection")
    func basicCallTCP() throws {
        try runSipp("basic-call.xml", transport: "t1", calls: 8, rate: 20)
    }

    @Test("sipp: CANCEL before the answer gets 200 and 487", arguments: ["u1", "t1"])
    func cancel(transport: String) throws {
        try runSipp("cancel.xml", yaml: "sip:\n  answer-delay-ms: 1500\n", transport: transport, calls: 3, rate: 10)
    }

    @Test("sipp: an INVITE retransmitted after a lost 200 gets the same 200 again")
    func lost200() throws {
        try runSipp("invite-retransmit-lost-200.xml", transport: "u1", calls: 3, rate: 10)
    }

    @Test("sipp: a SIPREC INVITE with a two-stream multipart offer is answered with two m-lines and leaves a completed record")
    func siprecCall() throws {
        let server = try ServerProcess()
        let result = try Sipp.run("siprec-call.xml", port: server.port("udp"), transport: "u1", calls: 2, rate: 10)
        #expect(result.status == 0, "sipp exited \(result.status)\n\(result.errors)\n\(result.output)\nserver log:\n\(server.log)")
        let records = try server.stopAndReadRecords()
        #expect(records.count == 2)
        for record in records {
            #expect(record["state"] as? String == "completed")
            #expect(record["source"] as? String == "siprec")
            #expect(record["sessionIDs"] as? [String] == ["02TjuTOqTxqrJJwQ5Nf7mw=="])
            let participants = record["participants"] as? [[String: Any]] ?? []
            #expect(participants.map { $0["aor"] as? String } == ["sip:+12025550101@example.com", "sip:+12025550102@example.com"])
            #expect(participants.map { $0["sends"] as? [String] } == [["1"], ["2"]])
            let streams = record["streams"] as? [[String: Any]] ?? []
            #expect(streams.map { $0["label"] as? String } == ["1", "2"])
            #expect(streams.allSatisfy { ($0["localPort"] as? Int ?? 0) > 0 })
            let dialogs = record["dialogs"] as? [[String: Any]] ?? []
            #expect(dialogs.map { $0["endReason"] as? String } == ["remoteBye"])
        }
        // Both calls carry the same communication-session id: the second is the next segment.
        let ordered = records.sorted { ($0["segment"] as? Int ?? 0) < ($1["segment"] as? Int ?? 0) }
        #expect(ordered.map { $0["segment"] as? Int } == [1, 2])
        #expect(ordered.last?["previousRecordingID"] as? String == ordered.first?["recordingID"] as? String)
        #expect(ordered.last?["interactionID"] as? String == ordered.first?["interactionID"] as? String)
    }

    // MARK: - Bad input

    /// Points the fixture's top Via at our client so the UDP response comes back to it.
    static func aimVia(_ text: String, port: Int) -> String {
        guard let range = text.range(of: #"(Via|v): ?SIP/2\.0/[A-Za-z]+ [^;\r\n]+"#, options: [.regularExpression, .caseInsensitive]) else { return text }
        return text.replacingCharacters(in: range, with: "Via: SIP/2.0/UDP 127.0.0.1:\(port)")
    }

    /// Sends a fixture request (its Via aimed at `client`) and returns its text and the final
    /// response, if one came within 3 s.
    static func sendFixture(_ path: String, with client: SIPTestClient) async throws -> (String, SIPResponse?) {
        let raw = try String(contentsOf: Fixtures.root.appendingPathComponent(path), encoding: .isoLatin1)
        var bytes = ByteBuffer()
        bytes.writeBytes(aimVia(raw, port: client.localPort).unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        try await client.send(bytes)
        while let response = await client.nextResponse(timeout: .seconds(3)) {
            if response.statusCode >= 200 { return (raw, response) }
        }
        return (raw, nil)
    }

    static func mediaLines(_ text: String) -> Int {
        text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("m=") }.count
    }

    @Test("storage that cannot take records: INVITE and OPTIONS get 503 with Retry-After (SBCs fail over); the server goes on")
    func storageFailure() async throws {
        // A plain file where the records folder belongs.
        let server = try ServerProcess { data in try Data("blocked".utf8).write(to: data.appendingPathComponent("recordings")) }
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        let (_, final) = try await Self.sendFixture("siprec/cube/invite.sip", with: client)
        #expect(final?.statusCode == 503)
        #expect(final?.headers[.retryAfter] != nil)
        try await DrainIntegrationTests.waitUntil(timeout: 10, "the log line of the refusal") { server.log.contains("recording records cannot be written") }
        try await client.send(SIPText.options(port: client.localPort))
        let options = await client.nextResponse()
        #expect(options?.statusCode == 503)
        #expect(options?.headers.firstValue(.warning)?.contains("records cannot be written") == true)
        // Each refusal reason is counted.
        let metrics = String(decoding: try await CatalogIntegrationTests.get(server.httpPort, "/metrics", token: nil).body, as: UTF8.self)
        #expect(metrics.contains(#"siprecd_sip_rejected_total{reason="recordsNotWritable"} 1"#), "\(metrics)")
        await client.close()
        #expect(server.isRunning)
    }

    @Test("every vendor's recording INVITE, as sent on the wire, is answered 200 with one m-line per offered one")
    func vendorInvites() async throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let folder = Fixtures.root.appendingPathComponent("siprec")
        let vendors = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.contains(".") }.sorted()
        #expect(vendors.count >= 11)
        for vendor in vendors {
            let file = vendor == "cucm-bib" ? "invite-nearend.sip" : "invite.sip"
            let client = try await SIPTestClient.udp(port: server.port("udp"))
            let (raw, final) = try await Self.sendFixture("siprec/\(vendor)/\(file)", with: client)
            let offered = Self.mediaLines(raw)
            #expect(final?.statusCode == 200, "\(vendor)")
            let answer = final?.body.map { String(buffer: $0) } ?? ""
            #expect(Self.mediaLines(answer) == max(offered, 1), "\(vendor): \(answer)")
            let isSIPREC = raw.contains("siprec") || raw.contains("rs-metadata")
            #expect((final?.contacts.first?.parameters.has("+sip.srs") ?? false) == isSIPREC, "\(vendor)")
            await client.close()
        }
        #expect(server.isRunning)
    }

    @Test("invalid datagrams get the parser's status and a reason naming the problem; nothing crashes")
    func invalidDatagrams() async throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        defer { Task { await client.close() } }
        let manifest = Fixtures.manifest("messages").filter { $0["kind"] as? String == "error" && $0["file"] as? String != "invalid/message-too-large.sip" }
        #expect(manifest.count >= 15)
        for entry in manifest {
            let file = try #require(entry["file"] as? String)
            let raw = try String(contentsOf: Fixtures.root.appendingPathComponent("messages/\(file)"), encoding: .isoLatin1)
            var bytes = ByteBuffer()
            bytes.writeBytes(Self.aimVia(raw, port: client.localPort).unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            try await client.send(bytes)
            if entry["looksLikeRequest"] as? Bool == false {
                // Responses are never answered: the next thing we hear is the OPTIONS below.
                continue
            }
            let response = await client.nextResponse()
            #expect(response?.statusCode == entry["status"] as? Int, "\(file)")
            let code = SIPParseError.Code(rawValue: entry["error"] as? String ?? "")
            let header = entry["header"] as? String
            #expect(response?.reasonPhrase == code.map { SIPParseError($0, header: header).reasonPhrase }, "\(file)")
        }
        try await client.send(SIPText.options(port: client.localPort))
        let alive = await client.nextResponse()
        #expect(alive?.statusCode == 200)
        #expect(alive?.cseq?.method == .options)
        #expect(server.isRunning)
    }

    @Test("a 40 KB datagram arrives whole (no cut at a receive-buffer slice)")
    func largeDatagram() async throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        let padded = SIPText.options(port: client.localPort).replacingOccurrences(of: "Content-Length: 0", with: "X-Padding: \(String(repeating: "a", count: 40_000))\r\nContent-Length: 0")
        try await client.send(padded)
        #expect(await client.nextResponse()?.statusCode == 200)
        await client.close()
    }

    @Test("unknown method 501; over the size limit 513; untrusted source 403")
    func rejections() async throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        try await client.send(SIPText.options(port: client.localPort, method: "FROBNICATE"))
        #expect(await client.nextResponse()?.statusCode == 501)
        await client.close()
        let limited = try ServerProcess(yaml: "sip:\n  limits:\n    max-message-size: 2048\n")
        defer { limited.stop() }
        let sender = try await SIPTestClient.udp(port: limited.port("udp"))
        let big = SIPText.options(port: sender.localPort).replacingOccurrences(of: "Content-Length: 0", with: "X-Padding: \(String(repeating: "a", count: 3000))\r\nContent-Length: 0")
        try await sender.send(big)
        let tooLarge = await sender.nextResponse()
        #expect(tooLarge?.statusCode == 513)
        await sender.close()

        let strict = try ServerProcess(yaml: "sip:\n  trusted-networks: [198.51.100.0/24]\n")
        defer { strict.stop() }
        let outsider = try await SIPTestClient.udp(port: strict.port("udp"))
        try await outsider.send(SIPText.options(port: outsider.localPort))
        #expect(await outsider.nextResponse()?.statusCode == 403)
        await outsider.close()
        // Over TCP an untrusted peer's connection is closed on accept.
        let tcpOutsider = try await SIPTestClient.tcp(port: strict.port("tcp"))
        #expect(await tcpOutsider.waitForClose(timeout: .seconds(5)))
    }

    @Test("an offer with more m-lines than max-streams-per-call gets 488; the server goes on")
    func tooManyStreams() async throws {
        let server = try ServerProcess(yaml: "sip:\n  max-streams-per-call: 2\n")
        defer { server.stop() }
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        let media = (0..<3).map { "m=audio \(20000 + 2 * $0) RTP/AVP 0\r\na=label:\($0)\r\na=sendonly\r\n" }.joined()
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + media
        let invite = SIPText.options(port: client.localPort, method: "INVITE")
            .replacingOccurrences(of: "Content-Length: 0\r\n", with: "Content-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n") + sdp
        try await client.send(invite)
        var statuses: [Int] = []
        while let response = await client.nextResponse(timeout: .seconds(3)) {
            statuses.append(response.statusCode)
            if response.statusCode >= 200 { break }
        }
        #expect(statuses == [488])
        #expect(server.isRunning)
        await client.close()
    }

    @Test("TCP: oversize message gets 513 and the connection closes; other connections are not disturbed")
    func tcpOversize() async throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let bystander = try await SIPTestClient.tcp(port: server.port("tcp"))
        let client = try await SIPTestClient.tcp(port: server.port("tcp"))
        let big = try Fixtures.bytes("messages", "invalid/message-too-large.sip")
        try await client.send(big)
        #expect(await client.nextResponse()?.statusCode == 513)
        #expect(await client.waitForClose(timeout: .seconds(5)))
        try await bystander.send(SIPText.options(transport: "TCP"))
        #expect(await bystander.nextResponse()?.statusCode == 200)
        await bystander.close()
    }

    @Test("TCP: missing Content-Length gets 400 and a close; a stalled partial message is cut off after the bounded wait")
    func tcpFraming() async throws {
        let server = try ServerProcess(yaml: "sip:\n  incomplete-message-timeout-ms: 300\n")
        defer { server.stop() }
        let client = try await SIPTestClient.tcp(port: server.port("tcp"))
        try await client.send(SIPText.options(transport: "TCP").replacingOccurrences(of: "Content-Length: 0\r\n", with: ""))
        let response = await client.nextResponse()
        #expect(response?.statusCode == 400)
        #expect(response?.reasonPhrase == "Missing Content-Length")
        #expect(await client.waitForClose(timeout: .seconds(5)))

        let staller = try await SIPTestClient.tcp(port: server.port("tcp"))
        try await staller.send(SIPText.options(transport: "TCP").replacingOccurrences(of: "Content-Length: 0", with: "Content-Length: 100"))
        #expect(await staller.waitForClose(timeout: .seconds(5)))

        let pinger = try await SIPTestClient.tcp(port: server.port("tcp"))
        try await pinger.send("\r\n\r\n")
        #expect(await pinger.nextBytes().map { String(buffer: $0) } == "\r\n")
        try await pinger.send(SIPText.options(transport: "TCP"))
        #expect(await pinger.nextResponse()?.statusCode == 200)
        await pinger.close()
    }

    @Test("SIGTERM stops the server cleanly")
    func gracefulStop() throws {
        let server = try ServerProcess()
        #expect(server.stop() == 0)
        #expect(server.log.contains("SIP listeners closing"))
    }
}
