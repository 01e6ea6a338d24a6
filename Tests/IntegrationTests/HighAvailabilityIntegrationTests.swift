import Catalog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import SIPTestSupport
import Testing

/// Two siprecd nodes on 127.0.0.1 and 127.0.0.2 with one PostgreSQL catalog, replicating to
/// each other, found by siprec-loadgen (the SBC) through DNS SRV records served by a real
/// dnsmasq on loopback.
@Suite("High availability", .serialized)
struct HighAvailabilityIntegrationTests {
    static let tokenA = "ha-node-a-secret"
    static let tokenB = "ha-node-b-secret"

    struct Cluster {
        let database: String
        let sipA: Int
        let sipB: Int
        let httpA: Int
        let httpB: Int

        init() throws {
            database = try TestPostgres.freshDatabase()
            sipA = try Sipp.freeUDPPort()
            sipB = try Sipp.freeUDPPort()
            httpA = try Sipp.freeTCPPort()
            httpB = try Sipp.freeTCPPort()
        }

        func yaml(node: String, peer: String, peerHTTP: String, ports: String) -> String {
            """
            media:
              rtp-ports: \(ports)
            catalog:
              node: \(node)
            replication:
              peers:
                - name: \(peer)
                  url: http://\(peerHTTP)
                  token-env: PEER_TOKEN

            """
        }

        func startA(reuse: URL? = nil) throws -> ServerProcess {
            try ServerProcess(yaml: yaml(node: "node-a", peer: "node-b", peerHTTP: "127.0.0.2:\(httpB)", ports: "43000-43499"),
                              listen: ["udp:127.0.0.1:\(sipA)"],
                              environment: ["SIPRECD_API_TOKEN": HighAvailabilityIntegrationTests.tokenA, "PEER_TOKEN": HighAvailabilityIntegrationTests.tokenB],
                              reuse: reuse, extraArguments: ["--database", database, "--http-listen", "127.0.0.1:\(httpA)"])
        }

        func startB() throws -> ServerProcess {
            try ServerProcess(yaml: yaml(node: "node-b", peer: "node-a", peerHTTP: "127.0.0.1:\(httpA)", ports: "43500-43999"),
                              listen: ["udp:127.0.0.2:\(sipB)"],
                              environment: ["SIPRECD_API_TOKEN": HighAvailabilityIntegrationTests.tokenB, "PEER_TOKEN": HighAvailabilityIntegrationTests.tokenA],
                              extraArguments: ["--database", database, "--http-listen", "127.0.0.2:\(httpB)"])
        }

        /// SRV: node A first (priority 10), node B the backup (20).
        func dns() throws -> TestDNSServer {
            try TestDNSServer.start(records: [
                .srv("_sip._udp.recorder.example.com", target: "node1.example.com", port: UInt16(sipA), priority: 10, weight: 100),
                .srv("_sip._udp.recorder.example.com", target: "node2.example.com", port: UInt16(sipB), priority: 20, weight: 100),
                .host("node1.example.com", address: "127.0.0.1"),
                .host("node2.example.com", address: "127.0.0.2"),
            ])
        }
    }

    static func liveCalls(_ port: Int, host: String = "127.0.0.1", token: String) async -> Int {
        var request = URLRequest(url: URL(string: "http://\(host):\(port)/api/v1/calls")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 5
        guard let (data, _) = try? await URLSession.shared.data(for: request),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return -1 }
        return (object["items"] as? [[String: Any]])?.count ?? -1
    }

    /// `<id>.wav` → SHA-256 of every archived file under `data/archive`.
    static func archivedFiles(_ data: URL) -> [String: String] {
        var files: [String: String] = [:]
        let root = data.appendingPathComponent("archive")
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [:] }
        for case let url as URL in walker where url.pathExtension == "wav" {
            if let bytes = FileManager.default.contents(atPath: url.path) {
                files[url.deletingPathExtension().lastPathComponent] = SHA256.hex([UInt8](bytes))
            }
        }
        return files
    }

    static func listing(_ data: URL) -> [String] {
        (FileManager.default.enumerator(atPath: data.path)?.allObjects as? [String] ?? []).filter { !$0.hasSuffix(".jsonl") }.sorted()
    }

    /// Every record a node journalled itself (not received by replication): id → startedAt.
    static func ownRecordings(_ data: URL) -> [String: Date] {
        var found: [String: Date] = [:]
        let root = data.appendingPathComponent("recordings")
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [:] }
        for case let url as URL in walker where url.lastPathComponent == "records.jsonl" {
            for line in ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n") {
                if let entry = try? CatalogEntry(journalLine: Array(line.utf8)) { found[entry.id] = entry.startedAt }
            }
        }
        return found
    }

    @Test("the primary is killed mid-load: new calls go to the backup found by SRV, the primary's spool is recovered on restart, and both nodes hold every recording")
    func primaryKilled() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let cluster = try Cluster()
        let dns = try cluster.dns()
        defer { dns.stop() }
        var nodeA = try cluster.startA()
        let nodeB = try cluster.startB()
        defer {
            nodeA.stop()
            nodeB.stop()
        }
        let calls = 24
        let loadgen = try DrainIntegrationTests.LoadgenRun(
            target: "sip:recorder.example.com", calls: calls, rate: 3, duration: 3, verify: [nodeA.dataDirectory, nodeB.dataDirectory],
            // The calls cut by the kill cannot be archived while the primary is down: do not wait long for them.
            extra: ["--dns-server", dns.address, "--options-interval", "1", "--failover-timeout", "2", "--verify-timeout", "8"])
        defer { if loadgen.process.isRunning { loadgen.process.terminate() } }
        // Calls flow to the primary; kill it while several are in progress.
        try await DrainIntegrationTests.waitUntil(timeout: 20, "calls in progress on the primary") {
            await Self.liveCalls(cluster.httpA, token: Self.tokenA) >= 4
        }
        #expect(await Self.liveCalls(cluster.httpB, host: "127.0.0.2", token: Self.tokenB) == 0)
        let killed = Date()
        nodeA.kill()

        let run = try await loadgen.finish(timeout: 120)
        let targets = run.report["targets"] as? [[String: Any]] ?? []
        let answeredByB = targets.first { ($0["target"] as? String)?.contains("127.0.0.2") == true }?["callsAnswered"] as? Int ?? 0
        let answeredByA = targets.first { ($0["target"] as? String)?.contains("127.0.0.1") == true }?["callsAnswered"] as? Int ?? 0
        #expect(answeredByA > 0 && answeredByB > 0, "\(run.summary)")
        #expect(answeredByA + answeredByB == calls, "\(run.summary)")
        // Failover time: the primary's death to the first call recorded on the backup.
        let firstOnB = try #require(Self.ownRecordings(nodeB.dataDirectory).values.min())
        let failover = firstOnB.timeIntervalSince(killed)
        print("HA measurement: failover \(String(format: "%.2f", failover)) s from SIGKILL to the first call recorded on the backup")
        #expect(failover < 10, "the backup took its first call \(failover) s after the primary died")

        // The primary comes back on its data folder: the spool of the cut calls is recovered,
        // and replication both ways gives each node every recording.
        let restarted = Date()
        nodeA = try cluster.startA(reuse: nodeA.directory)
        var expected = Set<String>()
        var onA: [String: String] = [:]
        var onB: [String: String] = [:]
        do {
            try await DrainIntegrationTests.waitUntil(timeout: 90, "both nodes to hold every recording") {
                expected = Set(Self.ownRecordings(nodeA.dataDirectory).keys).union(Self.ownRecordings(nodeB.dataDirectory).keys)
                onA = Self.archivedFiles(nodeA.dataDirectory)
                onB = Self.archivedFiles(nodeB.dataDirectory)
                return expected.count == calls && Set(onA.keys).isSuperset(of: expected) && Set(onB.keys).isSuperset(of: expected)
            }
        } catch {
            Issue.record("""
                \(error): \(expected.count) recordings journalled for \(calls) calls; missing on A: \(expected.subtracting(onA.keys).sorted()); \
                missing on B: \(expected.subtracting(onB.keys).sorted())
                files of A: \(Self.listing(nodeA.dataDirectory))
                node A log:
                \(nodeA.log.suffix(6000))
                node B log:
                \(nodeB.log.split(separator: "\n").filter { !$0.contains(" info ") }.suffix(40).joined(separator: "\n"))
                """)
            return
        }
        print("HA measurement: both nodes held all \(expected.count) recordings \(String(format: "%.1f", Date().timeIntervalSince(restarted))) s after the primary restarted")
        // Same audio on both nodes, and the shared catalog knows every recording with that SHA-256.
        for id in expected {
            #expect(onA[id] == onB[id], "\(id) differs between the nodes")
            let detail = try await CatalogIntegrationTests.get(cluster.httpA, "/api/v1/recordings/\(id)", token: Self.tokenA)
            let file = (detail.json["file"] as? [String: Any]) ?? ((detail.json["files"] as? [[String: Any]])?.first ?? [:])
            #expect(file["sha256"] as? String == onA[id], "\(id): \(detail.json)")
        }
        let recovered = try await CatalogIntegrationTests.get(cluster.httpA, "/api/v1/recordings?state=recovered&limit=100", token: Self.tokenA)
        #expect((recovered.json["items"] as? [[String: Any]])?.isEmpty == false, "the calls cut by the kill are recorded as recovered")
    }

    @Test("a node drained with SIGTERM under load: its calls in progress finish, it takes no new call, and every call lands on a node")
    func drainUnderLoadWithBackup() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let cluster = try Cluster()
        let nodeA = try cluster.startA()
        let nodeB = try cluster.startB()
        defer {
            nodeA.stop()
            nodeB.stop()
        }
        let calls = 18
        let loadgen = try DrainIntegrationTests.LoadgenRun(
            target: "127.0.0.1:\(cluster.sipA),127.0.0.2:\(cluster.sipB)", calls: calls, rate: 3, duration: 3,
            verify: [nodeA.dataDirectory, nodeB.dataDirectory], extra: ["--options-interval", "1", "--failover-timeout", "2"])
        defer { if loadgen.process.isRunning { loadgen.process.terminate() } }
        try await DrainIntegrationTests.waitUntil(timeout: 20, "calls in progress on node A") {
            await Self.liveCalls(cluster.httpA, token: Self.tokenA) >= 3
        }
        let drained = Date()
        kill(nodeA.process.processIdentifier, SIGTERM)
        let run = try await loadgen.finish(timeout: 120)
        #expect(run.status == 0, "\(run.summary)")
        #expect(run.report["recordingsVerified"] as? Int == calls, "\(run.summary)")
        let targets = run.report["targets"] as? [[String: Any]] ?? []
        let answeredByB = targets.first { ($0["target"] as? String)?.contains("127.0.0.2") == true }?["callsAnswered"] as? Int ?? 0
        #expect(answeredByB > 0, "\(run.summary)")
        #expect(try await DrainIntegrationTests.exitStatus(nodeA, timeout: 30) == 0)
        // Node A took no call after the drain began, and none of its calls was cut.
        let records = try nodeA.stopAndReadRecords(removeData: false)
        #expect(!records.isEmpty)
        for record in records {
            let dialogs = record["dialogs"] as? [[String: Any]] ?? []
            #expect(dialogs.allSatisfy { $0["endReason"] as? String == "remoteBye" }, "\(dialogs)")
            if let started = (record["startedAt"] as? String).flatMap(CatalogDate.parse) {
                #expect(started < drained, "node A accepted a call after SIGTERM")
            }
        }
        try? FileManager.default.removeItem(at: nodeA.directory)
    }
}
