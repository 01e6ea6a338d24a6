import Foundation
import Logging
import NIOCore
import SDP
import SIPCore
import SIPRECMetadata
import SIPStack
import SIPTestSupport
import Testing
@testable import SIPRECServer

/// Whole vendor flows through the pure per-recording logic: what the record says after each
/// request of the fixtures in sip-fixtures/siprec/.
@Suite("Recording session records")
struct RecordingSessionTests {
    static let peer = SIPPeer(transport: .tcp, remoteAddress: try! SocketAddress(ipAddress: "192.0.2.10", port: 5060))
    static let start = Date(timeIntervalSince1970: 1_717_510_000)

    static func body(_ request: SIPRequest) throws -> SessionBody {
        try SessionBody.parse(request).get()
    }

    /// Starts a session from a vendor's INVITE the way the controller does.
    static func begin(_ vendor: String, _ file: String = "invite.sip", source: RecordingRecord.Source = .siprec,
                      leg: BuiltInBridgeLeg? = nil) throws -> (RecordingSession, [Int?]) {
        let request = try VendorFixtureTests.request(vendor, file)
        let parsed = try body(request)
        var session = RecordingSession(recordingID: "r1", interactionID: "i1", source: source, request: request, peer: peer,
                                       leg: leg, at: start, metadataLimits: MetadataLimits())
        if let metadata = parsed.metadata { session.applyMetadata(metadata, gtd: parsed.gtd, method: "INVITE", at: start) }
        var ports: [Int?] = []
        if let sdp = parsed.sdp {
            ports = sdp.media.enumerated().map { SDPAnswerer.isRecordable($0.element) ? 30000 + 2 * $0.offset : nil }
            session.applySDP(sdp, ports: ports, leg: leg?.side.rawValue, method: "INVITE", at: start)
        }
        return (session, ports)
    }

    static func leg(_ request: SIPRequest) -> BuiltInBridgeLeg? {
        request.from.flatMap(BuiltInBridgeLeg.init(from:))
    }

    @Test("every vendor's INVITE: the record's vendor ids, session ids and participants are what expected.json says",
          arguments: VendorFixtureTests.vendors)
    func vendorRecord(vendor: String) throws {
        let expected = VendorFixtureTests.expected(vendor)
        let file = vendor == "cucm-bib" ? "invite-nearend.sip" : "invite.sip"
        let request = try VendorFixtureTests.request(vendor, file)
        let source: RecordingRecord.Source = vendor == "cucm-bib" ? .builtInBridge : vendor == "cube-nbr" ? .ciscoNetworkBased : .siprec
        let (session, _) = try Self.begin(vendor, file, source: source, leg: Self.leg(request))
        let record = session.record
        let ids = try #require(expected["vendorIDs"] as? [String: Any])
        #expect(record.vendorIDs.ucid == ids["ucid"] as? String, "\(vendor)")
        #expect(record.vendorIDs.ciscoGuid == ids["ciscoGuid"] as? String, "\(vendor)")
        #expect(record.vendorIDs.extTrackingID == ids["extTrackingID"] as? String, "\(vendor)")
        #expect(record.vendorIDs.sessionID == ids["sessionID"] as? String, "\(vendor)")
        for (key, value) in ids where !["ucid", "ciscoGuid", "extTrackingID", "sessionID", "ucidRaw"].contains(key) {
            #expect(record.vendorIDs.extra[key] == (value as? String) ?? (value as? Bool).map { "\($0)" }, "\(vendor) \(key)")
        }
        #expect(record.sessionIDs == expected["sessionIDs"] as? [String] ?? [], "\(vendor)")
        #expect(record.groupID == expected["groupID"] as? String, "\(vendor)")
        let participants = expected["participants"] as? [[String: Any]] ?? []
        #expect(record.participants.map(\.aor) == participants.map { $0["aor"] as? String }, "\(vendor)")
        if source == .siprec {
            #expect(record.participants.map(\.name) == participants.map { $0["name"] as? String }, "\(vendor)")
            #expect(record.participants.map(\.sends) == participants.map { $0["sends"] as? [String] ?? [] }, "\(vendor)")
            #expect(record.participants.map(\.receives) == participants.map { $0["receives"] as? [String] ?? [] }, "\(vendor)")
            #expect(record.metadataVersions.map(\.error) == [nil], "\(vendor)")
        }
        #expect(record.problems.isEmpty, "\(vendor): \(record.problems)")
    }

    @Test("CUBE: participants by label from metadata, video refused, transfer re-INVITE, final metadata in the BYE")
    func cubeTransfer() throws {
        var (session, _) = try Self.begin("cube")
        let expected = VendorFixtureTests.expected("cube")
        #expect(session.record.sessionIDs == expected["sessionIDs"] as? [String])
        #expect(session.record.vendorIDs.ciscoGuid == "2086225619-2395804143-2746336482-3656391207")
        let participants = try #require(expected["participants"] as? [[String: Any]])
        #expect(session.record.participants.map(\.aor) == participants.map { $0["aor"] as? String })
        #expect(session.record.participants.map(\.sends) == participants.map { $0["sends"] as? [String] ?? [] })
        #expect(session.record.streams.map(\.id) == ["1", "2", "3", "4"])
        #expect(session.record.streams.map { $0.localPort != nil } == [true, true, false, false])
        #expect(session.record.metadataVersions.count == 1 && session.record.metadataVersions[0].error == nil)
        #expect(session.record.changes.isEmpty)

        let later = Self.start.addingTimeInterval(60)
        let reinvite = try VendorFixtureTests.request("cube", "reinvite-transfer.sip")
        let update = try Self.body(reinvite)
        session.applyMetadata(try #require(update.metadata), method: "INVITE", at: later)
        session.applySDP(try #require(update.sdp), ports: [30000, 30002, nil, nil], leg: nil, method: "INVITE", at: later)
        let afterTransfer = try #require((expected["followUps"] as? [[String: Any]])?.first?["participants"] as? [[String: Any]])
        #expect(session.record.participants.map(\.aor) == afterTransfer.map { $0["aor"] as? String })
        #expect(session.record.participants.map(\.associated) == afterTransfer.map { $0["associated"] as? Bool ?? true })
        #expect(session.record.metadataVersions.count == 2)
        #expect(session.record.changes.contains { $0.at == later && $0.what.contains("metadata") })

        let end = Self.start.addingTimeInterval(300)
        let bye = try VendorFixtureTests.request("cube", "bye.sip")
        session.applyMetadata(try #require(try Self.body(bye).metadata), method: "BYE", at: end)
        let disassociated = try #require((expected["followUps"] as? [[String: Any]])?.last?["disassociated"] as? [String])
        #expect(!disassociated.isEmpty)
        // Everyone who was on the call stays in the record: the transferred-away party too.
        #expect(session.record.participants.count == 3)
        #expect(session.record.participants.allSatisfy { !$0.associated })
        for id in disassociated {
            #expect(session.record.participants.first { $0.id == id }?.associated == false, "\(id)")
        }
        let complete = session.endDialog(callID: reinvite.callID ?? "", reason: "remoteBye", at: end)
        #expect(complete)
        #expect(session.record.state == .completed)
        #expect(session.record.durationSeconds == 300)
        #expect(session.record.metadataVersions.map(\.method) == ["INVITE", "INVITE", "BYE"])
    }

    @Test("BroadWorks: pause and resume re-INVITEs mark the stream paused and active again")
    func broadworksPauseResume() throws {
        var (session, ports) = try Self.begin("broadworks")
        #expect(session.record.streams.map(\.state) == ["active"])
        #expect(session.record.participants.count >= 2)
        let pause = try Self.body(try VendorFixtureTests.request("broadworks", "reinvite-pause.sip"))
        session.applySDP(try #require(pause.sdp), ports: ports, leg: nil, method: "INVITE", at: Self.start.addingTimeInterval(10))
        #expect(session.record.streams.map(\.state) == ["paused"])
        let resume = try Self.body(try VendorFixtureTests.request("broadworks", "reinvite-resume.sip"))
        session.applySDP(try #require(resume.sdp), ports: ports, leg: nil, method: "INVITE", at: Self.start.addingTimeInterval(20))
        #expect(session.record.streams.map(\.state) == ["active"])
        #expect(session.record.changes.map(\.what) == [["hold 1"], ["resume 1"]])
        // The same offer again (a session refresh) changes nothing.
        session.applySDP(try #require(resume.sdp), ports: ports, leg: nil, method: "INVITE", at: Self.start.addingTimeInterval(30))
        #expect(session.record.changes.count == 2)
    }

    @Test("Avaya SBCE: a metadata-only UPDATE is a new metadata version; UCID normalised")
    func avayaMetadataUpdate() throws {
        var (session, _) = try Self.begin("avaya-sbce")
        #expect(session.record.vendorIDs.ucid == "000C0012665E7A3B")
        let update = try Self.body(try VendorFixtureTests.request("avaya-sbce", "update-metadata-only.sip"))
        #expect(update.sdp == nil)
        session.applyMetadata(try #require(update.metadata), method: "UPDATE", at: Self.start.addingTimeInterval(5))
        #expect(session.record.metadataVersions.count == 2)
        #expect(session.record.metadataVersions.allSatisfy { $0.error == nil })
        #expect(session.record.changes.last?.method == "UPDATE")
    }

    @Test("CUCM Built-in-Bridge: two delayed-offer legs make one recording, near end and far end")
    func builtInBridge() throws {
        let near = try VendorFixtureTests.request("cucm-bib", "invite-nearend.sip")
        let far = try VendorFixtureTests.request("cucm-bib", "invite-farend.sip")
        let nearLeg = try #require(Self.leg(near))
        let farLeg = try #require(Self.leg(far))
        #expect(nearLeg.pairingKey == farLeg.pairingKey)
        var (session, _) = try Self.begin("cucm-bib", "invite-nearend.sip", source: .builtInBridge, leg: nearLeg)
        #expect(session.state.dialogs.map(\.leg) == ["nearend"])
        session.addDialog(far, peer: Self.peer, leg: farLeg, at: Self.start.addingTimeInterval(0.2))
        #expect(session.state.dialogs.map(\.leg) == ["nearend", "farend"])
        let ack = try Self.body(try VendorFixtureTests.request("cucm-bib", "ack-nearend.sip"))
        session.applySDP(try #require(ack.sdp), ports: [30000], leg: "nearend", method: "ACK", at: Self.start.addingTimeInterval(0.3))
        #expect(session.record.streams.map(\.id) == ["nearend"])
        #expect(session.record.streams.first?.remote == "203.0.113.40:24680")
        let participants = session.record.participants
        #expect(participants.map(\.role) == ["nearend", "farend"])
        #expect(participants.map(\.aor) == ["+12025550121", "+12025550192"])
        #expect(participants.first?.name == "Sam Agent")
        #expect(participants.first?.sends == ["nearend"])
        #expect(participants.last?.receives == ["nearend"])
        let nearOnlyEnded = session.endDialog(callID: near.callID ?? "", reason: "remoteBye", at: Self.start.addingTimeInterval(30))
        #expect(!nearOnlyEnded)
        #expect(session.record.state == .active)
        let bothEnded = session.endDialog(callID: far.callID ?? "", reason: "remoteBye", at: Self.start.addingTimeInterval(31))
        #expect(bothEnded)
        #expect(session.record.state == .completed)
        #expect(session.record.problems.isEmpty)
    }

    @Test("CUCM Built-in-Bridge: a leg that never came is noted on the recording")
    func builtInBridgeOneLeg() throws {
        let near = try VendorFixtureTests.request("cucm-bib", "invite-nearend.sip")
        var (session, _) = try Self.begin("cucm-bib", "invite-nearend.sip", source: .builtInBridge, leg: Self.leg(near))
        let complete = session.endDialog(callID: near.callID ?? "", reason: "remoteBye", at: Self.start.addingTimeInterval(30))
        #expect(complete)
        #expect(session.record.problems == ["the farend leg never arrived"])
    }

    @Test("CUBE network-based recording: parties from X-Cisco-Recording-Participant by m-line; a transfer names a new one")
    func ciscoNetworkBased() throws {
        var (session, ports) = try Self.begin("cube-nbr", source: .ciscoNetworkBased)
        #expect(session.record.participants.map(\.aor) == ["sip:+12025550111@192.0.2.16", "sip:+12025550112@203.0.113.21"])
        #expect(session.record.participants.map(\.sends) == [["m0"], ["m1"]])
        #expect(session.record.participants.map(\.receives) == [["m1"], ["m0"]])
        let reinvite = try VendorFixtureTests.request("cube-nbr", "reinvite-transfer.sip")
        session.applyCiscoParticipants(reinvite)
        session.applySDP(try #require(try Self.body(reinvite).sdp), ports: ports, leg: nil, method: "INVITE", at: Self.start.addingTimeInterval(40))
        #expect(session.record.participants.filter(\.associated).map(\.aor) == ["sip:+12025550111@192.0.2.16", "sip:+12025550113@203.0.113.21"])
        #expect(session.record.participants.filter { !$0.associated }.map(\.aor) == ["sip:+12025550112@203.0.113.21"])
        #expect(session.record.changes.contains { $0.what.contains("media address m1") })
    }

    @Test("a plain INVITE: caller from P-Asserted-Identity (else From), callee from To")
    func plainCall() throws {
        var headers = SIPHeaders()
        headers.add(.via, "SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKplain1")
        headers.add(.from, "\"Front Desk\" <sip:+12025550141@192.0.2.30>;tag=a1")
        headers.add(.to, "<sip:+12025550142@198.51.100.10>")
        headers.add(.callID, "plain-1@192.0.2.30")
        headers.add(.cseq, "1 INVITE")
        var request = SIPRequest(method: .invite, uri: SIPURI(user: "+12025550142", host: "198.51.100.10"), headers: headers)
        var session = RecordingSession(recordingID: "r", interactionID: "i", source: .plain, request: request, peer: Self.peer,
                                       leg: nil, at: Self.start, metadataLimits: MetadataLimits())
        #expect(session.record.participants.map(\.aor) == ["sip:+12025550141@192.0.2.30", "sip:+12025550142@198.51.100.10"])
        #expect(session.record.participants.map(\.name) == ["Front Desk", nil])
        #expect(session.record.participants.map(\.role) == ["caller", "callee"])
        #expect(session.participants == session.record.participants, "what a call's end names the archive by")
        request.headers.add(SIPHeaderField(rawName: "P-Asserted-Identity", value: "\"Reception\" <sip:+12025550149@192.0.2.30>"))
        session = RecordingSession(recordingID: "r", interactionID: "i", source: .plain, request: request, peer: Self.peer,
                                   leg: nil, at: Self.start, metadataLimits: MetadataLimits())
        #expect(session.record.participants.first?.aor == "sip:+12025550149@192.0.2.30")
        #expect(session.record.participants.first?.name == "Reception")
    }

    @Test("malformed or hostile metadata is kept raw and flagged; the recording goes on")
    func badMetadata() throws {
        var (session, _) = try Self.begin("cube")
        let participantsBefore = session.record.participants
        for (index, xml) in ["<recording xmlns='urn:ietf:params:xml:ns:recording:1'><participant>", "not xml at all",
                             "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaa'>]><recording>&a;</recording>"].enumerated() {
            session.applyMetadata(ByteBuffer(string: xml), method: "UPDATE", at: Self.start.addingTimeInterval(Double(index + 1)))
        }
        #expect(session.record.metadataVersions.count == 4)
        #expect(session.record.metadataVersions.dropFirst().allSatisfy { $0.error != nil })
        #expect(session.record.metadataVersions.last?.xml.contains("DOCTYPE") == true)
        #expect(session.record.problems.count == 3)
        // The last good metadata still stands.
        #expect(session.record.participants == participantsBefore)
        #expect(session.record.state == .active)
    }

    @Test("metadata versions are capped: the first and the latest kept, the rest counted")
    func metadataVersionCap() throws {
        let request = try VendorFixtureTests.request("cube", "invite.sip")
        var session = RecordingSession(recordingID: "r", interactionID: "r", source: .siprec, request: request, peer: Self.peer,
                                       leg: nil, at: Self.start, metadataLimits: MetadataLimits(), maxMetadataVersions: 3)
        let update = try #require(try Self.body(try VendorFixtureTests.request("cube", "reinvite-transfer.sip")).metadata)
        for second in 1...5 {
            session.applyMetadata(update, method: second == 1 ? "INVITE" : "UPDATE", at: Self.start.addingTimeInterval(Double(second)))
        }
        #expect(session.record.metadataVersions.map(\.receivedAt) == [1, 4, 5].map { Self.start.addingTimeInterval($0) })
        #expect(session.record.metadataVersionsDropped == 2)
    }

    @Test("interaction index: a known session id, group id or bridge key finds the latest segment; the least recently noted are forgotten")
    func interactionIndex() {
        var index = InteractionIndex(capacity: 3)
        index.note(InteractionIndex.keys(sessionIDs: ["cs1"], groupID: "g1", bibPairingKey: nil), .init(interactionID: "i1", recordingID: "r1", segment: 1))
        #expect(index.find(["session:cs1"])?.recordingID == "r1")
        #expect(index.find(["group:g1"])?.recordingID == "r1")
        #expect(index.find(["session:other"]) == nil)
        index.note(["session:cs1"], .init(interactionID: "i1", recordingID: "r2", segment: 2))
        #expect(index.find(["session:cs1", "group:g1"])?.recordingID == "r2")
        // An older segment of the same interaction does not replace a newer one.
        index.note(["session:cs1"], .init(interactionID: "i1", recordingID: "r1", segment: 1))
        #expect(index.find(["session:cs1"])?.recordingID == "r2")
        // cs1 was noted after g1: g1 goes first, then cs1 stays while x arrives.
        index.note(["session:x"], .init(interactionID: "i9", recordingID: "r9", segment: 1))
        #expect(index.count == 3)
        index.note(["session:y"], .init(interactionID: "i8", recordingID: "r8", segment: 1))
        #expect(index.count == 3)
        #expect(index.find(["group:g1"]) == nil)
        #expect(index.find(["session:cs1"])?.recordingID == "r2")
        #expect(index.find(["session:y"])?.recordingID == "r8")
    }
}

@Suite("Record writer")
struct RecordWriterTests {
    static func record(_ id: String) throws -> RecordingRecord {
        let request = try VendorFixtureTests.request("cube", "invite.sip")
        return RecordingSession(recordingID: id, interactionID: "i", source: .siprec, request: request, peer: RecordingSessionTests.peer,
                                leg: nil, at: RecordingSessionTests.start, metadataLimits: MetadataLimits()).record
    }

    static func lines(_ writer: RecordWriter, _ record: RecordingRecord) throws -> [[String: Any]] {
        let text = try String(contentsOf: writer.root.appendingPathComponent(RecordWriter.relativePath(of: record)), encoding: .utf8)
        return try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test("records are appended as JSON lines to the journal of their start day; storage that cannot be written makes the writer unhealthy until a probe succeeds")
    func writesAndHealth() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("siprecd-writer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // A file where the recordings folder should be: every write fails.
        let blocker = data.appendingPathComponent("recordings")
        try Data("not a folder".utf8).write(to: blocker)
        let writer = RecordWriter(dataDirectory: data.path, logger: Logger(label: "test"), flushInterval: .seconds(3600))
        #expect(!writer.isHealthy)
        writer.write(RecordingSession(record: try Self.record("r-1")))
        await writer.drain()
        #expect(!writer.isHealthy)
        writer.probe()
        await writer.drain()
        #expect(!writer.isHealthy)

        try FileManager.default.removeItem(at: blocker)
        writer.probe()
        await writer.drain()
        #expect(writer.isHealthy)
        // The record that could not be written then was kept and is written now.
        let first = try Self.lines(writer, try Self.record("r-1"))
        #expect(first.map { $0["recordingID"] as? String } == ["r-1"])
        var record = try Self.record("r-2")
        #expect(RecordWriter.relativePath(of: record) == "2024/06/04/records.jsonl")
        // Three states of one active recording before the delay: one line, the latest.
        writer.write(RecordingSession(record: record))
        record.problems = ["first"]
        writer.write(RecordingSession(record: record))
        record.problems = ["second"]
        writer.write(RecordingSession(record: record))
        await writer.drain()
        var lines = try Self.lines(writer, record).filter { $0["recordingID"] as? String == "r-2" }
        #expect(lines.map { $0["problems"] as? [String] } == [["second"]])
        #expect(lines.first?["startedAt"] as? String == "2024-06-04T14:06:40.000Z")
        // The final state is written at shutdown at the latest.
        record.state = .completed
        writer.write(RecordingSession(record: record))
        await writer.shutdown()
        lines = try Self.lines(writer, record).filter { $0["recordingID"] as? String == "r-2" }
        #expect(lines.map { $0["state"] as? String } == ["active", "completed"])
    }

    @Test("a journal line cut short (crash, disk full) is ended before the next one is appended")
    func tornLine() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("siprecd-writer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let record = try Self.record("r-3")
        let journal = data.appendingPathComponent("recordings").appendingPathComponent(RecordWriter.relativePath(of: record))
        try FileManager.default.createDirectory(at: journal.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("{\"recordingID\":\"r-0\",\"sta".utf8).write(to: journal)
        let writer = RecordWriter(dataDirectory: data.path, logger: Logger(label: "test"))
        var completed = record
        completed.state = .completed
        writer.write(RecordingSession(record: completed))
        await writer.shutdown()
        let text = try String(contentsOf: journal, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first == "{\"recordingID\":\"r-0\",\"sta")
        #expect((try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])?["recordingID"] as? String == "r-3")
    }
}

@Suite("Record JSON")
struct RecordJSONTests {
    /// The Codable encoding with the journal's date format, as the reference.
    static func codableObject(_ record: RecordingRecord) throws -> NSDictionary {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var bytes: [UInt8] = []
            JSONLineWriter.appendISO8601(date, to: &bytes)
            var container = encoder.singleValueContainer()
            try container.encode(String(decoding: bytes, as: UTF8.self))
        }
        return try #require(try JSONSerialization.jsonObject(with: encoder.encode(record)) as? NSDictionary)
    }

    @Test("the journal line has exactly the keys and values Codable gives, for every vendor flow's record")
    func sameAsCodable() throws {
        var records: [RecordingRecord] = []
        for vendor in VendorFixtureTests.vendors {
            let file = vendor == "cucm-bib" ? "invite-nearend.sip" : "invite.sip"
            let request = try VendorFixtureTests.request(vendor, file)
            let source: RecordingRecord.Source = vendor == "cucm-bib" ? .builtInBridge : vendor == "cube-nbr" ? .ciscoNetworkBased : .siprec
            var (session, _) = try RecordingSessionTests.begin(vendor, file, source: source, leg: RecordingSessionTests.leg(request))
            session.endDialog(callID: request.callID ?? "", reason: "remoteBye", at: RecordingSessionTests.start.addingTimeInterval(61.5))
            records.append(session.record)
        }
        // A finished recording: its file, each stream's quality, DTMF.
        var finished = records[0]
        finished.file = RecordingRecord.AudioFile(channel: nil, format: "wav-pcm16", sampleRate: 8000, channels: 2, channelRoles: ["caller", "callee"],
                                                  location: "archive", path: "/srv/a/2024/05/14/r.wav", bytes: 96044, sha256: String(repeating: "ab", count: 32),
                                                  audioSeconds: 6.002)
        for index in finished.streams.indices {
            finished.streams[index].channel = index % 2
            finished.streams[index].quality = RecordingRecord.StreamQuality(
                packets: 300, lost: 2, duplicates: 1, late: 0, sourceChanges: 0, timestampJumps: 1, clockCorrections: 0, undecodable: 0,
                unknownPayload: 0, malformed: 0, srtpFailures: 3, jitterMs: 1.25, rtcpPackets: 2, senderReportedPackets: index == 0 ? 302 : nil,
                reportedFractionLost: 0.5, reportedJitterMs: nil, firstPacketAt: RecordingSessionTests.start.addingTimeInterval(0.125),
                lastPacketAt: nil, notDecoded: ["G729"])
        }
        finished.dtmf = [RecordingRecord.DTMF(stream: "#0", event: "5", at: 1.5, durationMs: 100)]
        finished.state = .recovered
        var part = try #require(finished.file)
        part.channel = 1
        part.channels = 1
        part.channelRoles = ["2"]
        finished.files = [part]
        records.append(finished)
        // Escapes: quotes, backslashes, control characters and non-ASCII in values.
        var odd = records[0]
        odd.problems = ["quote \" backslash \\ tab \t newline \n bell \u{7} café 日本"]
        odd.previousRecordingID = "r/0"
        records.append(odd)
        for record in records {
            let line = record.jsonLine()
            #expect(!line.contains(0x0A), "one line")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? NSDictionary)
            #expect(object == (try Self.codableObject(record)), "\(record.source) \(record.recordingID)")
        }
    }

    @Test("dates: UTC ISO 8601 with milliseconds, across days, leap years and before 1970")
    func dates() {
        func text(_ seconds: Double) -> String {
            var bytes: [UInt8] = []
            JSONLineWriter.appendISO8601(Date(timeIntervalSince1970: seconds), to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(text(0) == "1970-01-01T00:00:00.000Z")
        #expect(text(1_717_510_000.123) == "2024-06-04T14:06:40.123Z")
        #expect(text(951_782_400) == "2000-02-29T00:00:00.000Z")
        #expect(text(1_709_251_199.999) == "2024-02-29T23:59:59.999Z")
        #expect(text(-1) == "1969-12-31T23:59:59.000Z")
        #expect(text(4_102_444_800) == "2100-01-01T00:00:00.000Z")
        #expect(RecordWriter.relativePath(day: RecordWriter.dayNumber(Date(timeIntervalSince1970: 1_709_251_199))) == "2024/02/29/records.jsonl")
    }
}

@Suite("Recording ids")
struct RecordingIDGeneratorTests {
    @Test("ids are version 7 UUIDs, distinct across batches, in the order of their times")
    func format() {
        var generator = RecordingIDGenerator(batch: 7)
        var seen = Set<String>()
        var previous = ""
        // 2026-12-01T00:00:00Z in milliseconds; five ids per millisecond.
        let base: UInt64 = 1_796_083_200_000
        for index in 0..<2000 {
            let milliseconds = base + UInt64(index / 5)
            let id = generator.next(milliseconds: milliseconds)
            let parsed = UUID(uuidString: id)
            #expect(parsed != nil, "\(id)")
            #expect(id == id.lowercased())
            let characters = Array(id)
            #expect(characters[14] == "7", "version nibble in \(id)")
            #expect("89ab".contains(characters[19]), "variant in \(id)")
            // The first 48 bits are the time, big-endian.
            let hex = String(characters[0..<8]) + String(characters[9..<13])
            #expect(UInt64(hex, radix: 16) == milliseconds, "time field of \(id)")
            if index % 5 == 0 { #expect(id > previous, "\(id) sorts after \(previous)") }
            previous = id
            seen.insert(id)
        }
        #expect(seen.count == 2000)
    }
}
