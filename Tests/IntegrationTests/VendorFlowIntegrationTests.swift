import Foundation
import Testing

/// sipp scenarios built from the vendor fixtures in sip-fixtures/siprec (see
/// sip-fixtures/sipp/README.md, "Vendor flow scenarios"). They stay in the serialized suite:
/// each test starts its own server.
extension SIPServerIntegrationTests {
    /// Runs a scenario against a fresh server and returns the records it wrote.
    func runSippReadingRecords(_ scenario: String, yaml: String = "", transport: String, calls: Int, rate: Int = 10) throws -> [[String: Any]] {
        let server = try ServerProcess(yaml: yaml)
        let result = try Sipp.run(scenario, port: server.port(transport == "t1" ? "tcp" : "udp"), transport: transport, calls: calls, rate: rate)
        #expect(result.status == 0, "sipp \(scenario) -t \(transport) exited \(result.status)\n\(result.errors)\n\(result.output)\nserver log:\n\(server.log)")
        #expect(server.isRunning)
        let records = try server.stopAndReadRecords()
        #expect(records.count == calls, "\(scenario): \(records.count) records for \(calls) calls")
        return records
    }

    static func strings(_ record: [String: Any], _ key: String, _ field: String) -> [String?] {
        (record[key] as? [[String: Any]] ?? []).map { $0[field] as? String }
    }

    @Test("sipp: Cisco CUBE audio+video offer (video refused with port 0, labels echoed), transfer re-INVITE, BYE with metadata",
          arguments: ["u1", "t1"])
    func sippCubeTransfer(transport: String) throws {
        let records = try runSippReadingRecords("cube-transfer.xml", transport: transport, calls: 3)
        // The calls carry the same communication-session id, so they chain as segments 1, 2, 3
        // of one interaction, each after the one that started before it; the transfer
        // re-INVITE's metadata (which names the same session again) must not re-link them.
        let bySegment = records.sorted { ($0["segment"] as? Int ?? 0) < ($1["segment"] as? Int ?? 0) }
        #expect(bySegment.map { $0["segment"] as? Int } == [1, 2, 3])
        #expect(Set(bySegment.map { $0["interactionID"] as? String }).count == 1)
        for (earlier, later) in zip(bySegment, bySegment.dropFirst()) {
            #expect(later["previousRecordingID"] as? String == earlier["recordingID"] as? String)
            #expect((earlier["startedAt"] as? String ?? "") <= (later["startedAt"] as? String ?? ""))
        }
        #expect(bySegment.first?["previousRecordingID"] == nil)
        for record in records {
            #expect(record["state"] as? String == "completed")
            #expect(Self.strings(record, "metadataVersions", "method") == ["INVITE", "INVITE", "BYE"])
            #expect(Self.strings(record, "metadataVersions", "error") == [nil, nil, nil])
            #expect(Self.strings(record, "streams", "label") == ["1", "2", "3", "4"])
            #expect((record["streams"] as? [[String: Any]] ?? []).map { $0["localPort"] != nil } == [true, true, false, false])
            // After the BYE's final metadata nobody is associated any more.
            let participants = record["participants"] as? [[String: Any]] ?? []
            #expect(participants.count == 3)
            #expect(participants.allSatisfy { $0["associated"] as? Bool == false })
            #expect((record["vendorIDs"] as? [String: Any])?["ciscoGuid"] as? String != nil)
        }
    }

    @Test("sipp: Avaya SBCE metadata-only UPDATE inside the recording dialog gets 200 without SDP", arguments: ["u1", "t1"])
    func sippAvayaUpdate(transport: String) throws {
        for record in try runSippReadingRecords("avaya-update.xml", transport: transport, calls: 3) {
            #expect(Self.strings(record, "metadataVersions", "method") == ["INVITE", "UPDATE"])
            #expect(Self.strings(record, "metadataVersions", "error") == [nil, nil])
            #expect((record["vendorIDs"] as? [String: Any])?["ucid"] as? String == "000C0012665E7A3B")
        }
    }

    @Test("sipp: BroadWorks pause (a=inactive) and resume (a=recvonly) by re-INVITE", arguments: ["u1", "t1"])
    func sippBroadWorksPauseResume(transport: String) throws {
        for record in try runSippReadingRecords("broadworks-pause-resume.xml", transport: transport, calls: 3) {
            let changes = (record["changes"] as? [[String: Any]] ?? []).map { $0["what"] as? [String] ?? [] }
            #expect(changes == [["hold 1"], ["resume 1"]])
            #expect(Self.strings(record, "streams", "state") == ["active"])
        }
    }

    @Test("sipp: CANCEL of a SIPREC multipart INVITE gets 200 and 487", arguments: ["u1", "t1"])
    func sippSiprecCancel(transport: String) throws {
        for record in try runSippReadingRecords("siprec-cancel.xml", yaml: "sip:\n  answer-delay-ms: 1500\n", transport: transport, calls: 3) {
            #expect(Self.strings(record, "dialogs", "endReason") == ["cancelled"])
            #expect(record["state"] as? String == "completed")
        }
    }

    @Test("sipp: CUCM Built-in-Bridge near-end and far-end delayed-offer legs at the same time", arguments: ["u1", "t1"])
    func sippCUCMBuiltInBridge(transport: String) throws {
        let server = try ServerProcess(yaml: "")
        let port = server.port(transport == "t1" ? "tcp" : "udp")
        let scenarios = ["cucm-bib-nearend.xml", "cucm-bib-farend.xml"]
        // Sipp.run blocks until sipp exits: one thread per leg, so both sipp processes run at once.
        let runs = ConcurrentSippRuns()
        for scenario in scenarios {
            runs.start(scenario, port: port, transport: transport, calls: 3, rate: 10)
        }
        let results = runs.waitForAll()
        for scenario in scenarios {
            switch results[scenario] {
            case .success(let result):
                #expect(result.status == 0, "sipp \(scenario) -t \(transport) exited \(result.status)\n\(result.errors)\n\(result.output)\nserver log:\n\(server.log)")
            case .failure(let error):
                Issue.record("sipp \(scenario) -t \(transport) did not run: \(error)")
            case nil:
                Issue.record("sipp \(scenario) -t \(transport): no result")
            }
        }
        #expect(server.isRunning)
        // Each pair of legs is one recording: near end and far end, both delayed offer.
        let records = try server.stopAndReadRecords()
        #expect(records.count == 3)
        for record in records {
            #expect(record["source"] as? String == "cucm-bib")
            #expect(Set(Self.strings(record, "dialogs", "leg")) == ["nearend", "farend"])
            #expect(Set(Self.strings(record, "streams", "id")) == ["nearend", "farend"])
            #expect(Self.strings(record, "participants", "role") == ["nearend", "farend"])
            // sipp sends no RTP here: the record says so, and there is no file.
            #expect((record["problems"] as? [String]) == ["no media was received: there is no audio file"])
            #expect(record["file"] == nil)
        }
    }
}

/// Runs Sipp.run calls on their own threads and collects their results.
final class ConcurrentSippRuns: @unchecked Sendable {
    private let lock = NSLock()
    private let group = DispatchGroup()
    private var results: [String: Swift.Result<Sipp.Result, any Error>] = [:]

    func start(_ scenario: String, port: Int, transport: String, calls: Int, rate: Int) {
        group.enter()
        Thread.detachNewThread { [self] in
            let result: Swift.Result<Sipp.Result, any Error>
            do {
                result = .success(try Sipp.run(scenario, port: port, transport: transport, calls: calls, rate: rate))
            } catch {
                result = .failure(error)
            }
            self.lock.lock()
            self.results[scenario] = result
            self.lock.unlock()
            self.group.leave()
        }
    }

    func waitForAll() -> [String: Swift.Result<Sipp.Result, any Error>] {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return results
    }
}
