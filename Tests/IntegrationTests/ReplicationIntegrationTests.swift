import Catalog
import Foundation
import SIPTestSupport
import Testing

/// Two siprecd nodes, each with its own SQLite catalog and archive: node A records the calls
/// and replicates them to node B, which is down while the calls are recorded and starts later.
/// B catches up from A's outbox and then holds and serves every recording, byte for byte,
/// marked with its origin.
@Suite("Replication between nodes", .serialized)
struct ReplicationIntegrationTests {
    static let tokenA = "node-a-admin-secret"
    static let tokenB = "node-b-admin-secret"

    static func items(_ port: Int, token: String) async -> [[String: Any]] {
        guard let page = try? await CatalogIntegrationTests.get(port, "/api/v1/recordings?limit=100", token: token), page.status == 200 else { return [] }
        return page.json["items"] as? [[String: Any]] ?? []
    }

    static func metric(_ text: String, _ name: String) -> Int? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
    }

    @Test("a peer that was down catches up: every recording of node A ends up on node B with the same SHA-256, marked with its origin")
    func peerCatchesUp() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let portB = try Sipp.freeTCPPort()
        let yamlA = MediaIntegrationTests.yaml + """
            catalog:
              node: node-a
            replication:
              peers:
                - name: node-b
                  url: http://127.0.0.1:\(portB)
                  token-env: PEER_B_TOKEN
                  max-kbps: 80000

            """
        let nodeA = try ServerProcess(yaml: yamlA, environment: ["SIPRECD_API_TOKEN": Self.tokenA, "PEER_B_TOKEN": Self.tokenB])
        defer { nodeA.stop() }

        let calls = 5
        let loadgen = try DrainIntegrationTests.LoadgenRun(target: "127.0.0.1:\(nodeA.port("udp"))", calls: calls, rate: 5, duration: 2,
                                                           verify: [nodeA.dataDirectory])
        let run = try await loadgen.finish()
        #expect(run.report["recordingsVerified"] as? Int == calls, "\(run.summary)")

        // B is down: A keeps every recording in its outbox for B and says so.
        try await DrainIntegrationTests.waitUntil(timeout: 20, "node A's outbox to hold every recording") {
            let metrics = String(decoding: try await CatalogIntegrationTests.get(nodeA.httpPort, "/metrics", token: nil).body, as: UTF8.self)
            return Self.metric(metrics, #"siprecd_replication_pending{peer="node-b"}"#) == calls
                && Self.metric(metrics, #"siprecd_replication_failing{peer="node-b"}"#) == 1
        }
        let onA = await Self.items(nodeA.httpPort, token: Self.tokenA)
        #expect(onA.count == calls)

        // B starts on the port A was told: A's sender retries and B catches up.
        let yamlB = MediaIntegrationTests.yaml.replacingOccurrences(of: "43000-43999", with: "43500-43999") + "catalog:\n  node: node-b\n"
        let nodeB = try ServerProcess(yaml: yamlB, environment: ["SIPRECD_API_TOKEN": Self.tokenB],
                                      extraArguments: ["--http-listen", "127.0.0.1:\(portB)"])
        defer { nodeB.stop() }
        #expect(nodeB.httpPort == portB)
        var onB: [[String: Any]] = []
        try await DrainIntegrationTests.waitUntil(timeout: 60, "node B to hold every recording") {
            onB = await Self.items(portB, token: Self.tokenB)
            return onB.count == calls
        }
        for itemA in onA {
            let id = try #require(itemA["id"] as? String)
            let fileA = try #require(itemA["file"] as? [String: Any])
            let itemB = try #require(onB.first { $0["id"] as? String == id }, "\(id) missing on node B")
            let fileB = try #require(itemB["file"] as? [String: Any])
            #expect(fileB["sha256"] as? String == fileA["sha256"] as? String)
            #expect(fileB["bytes"] as? Int == fileA["bytes"] as? Int)
            // B serves the audio from its own archive: the same bytes.
            let audio = try await CatalogIntegrationTests.get(portB, "/api/v1/recordings/\(id)/audio", token: Self.tokenB)
            #expect(audio.status == 200)
            #expect(SHA256.hex([UInt8](audio.body)) == fileA["sha256"] as? String)
            #expect(audio.body.count == fileA["bytes"] as? Int)
            let detail = try await CatalogIntegrationTests.get(portB, "/api/v1/recordings/\(id)", token: Self.tokenB)
            let record = try #require(detail.json["record"] as? [String: Any])
            #expect(record["origin"] as? String == "node-a")
            #expect((record["file"] as? [String: Any])?["path"] as? String != fileA["path"] as? String)
        }
        // A's outbox drains; B counted what it received.
        try await DrainIntegrationTests.waitUntil(timeout: 20, "node A's outbox to empty") {
            let metrics = String(decoding: try await CatalogIntegrationTests.get(nodeA.httpPort, "/metrics", token: nil).body, as: UTF8.self)
            return Self.metric(metrics, #"siprecd_replication_pending{peer="node-b"}"#) == 0
                && Self.metric(metrics, #"siprecd_replication_sent_total{peer="node-b"}"#) == calls
        }
        let metricsB = String(decoding: try await CatalogIntegrationTests.get(portB, "/metrics", token: nil).body, as: UTF8.self)
        #expect(Self.metric(metricsB, "siprecd_replication_received_total") == calls)
        // Pushing needs a token.
        let refused = try await CatalogIntegrationTests.get(portB, "/api/v1/replication/recordings/x/files/0", token: nil)
        #expect(refused.status == 401)
    }

    @Test("a peer named by DNS: SRV _http._tcp orders its targets, and a target that does not answer is skipped for the next")
    func peerLocatedBySRV() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let nodeB = try ServerProcess(yaml: MediaIntegrationTests.yaml.replacingOccurrences(of: "43000-43999", with: "43500-43999")
                                        + "catalog:\n  node: node-b\n", environment: ["SIPRECD_API_TOKEN": Self.tokenB])
        defer { nodeB.stop() }
        // The first choice (priority 10) has nothing listening; node B is the second (20).
        let dead = try Sipp.freeTCPPort()
        let dns = try TestDNSServer.start(records: [
            .srv("_http._tcp.peers.example.com", target: "gone.example.com", port: UInt16(dead), priority: 10, weight: 100),
            .srv("_http._tcp.peers.example.com", target: "nodeb.example.com", port: UInt16(nodeB.httpPort), priority: 20, weight: 100),
            .host("gone.example.com", address: "127.0.0.1"),
            .host("nodeb.example.com", address: "127.0.0.1"),
        ])
        defer { dns.stop() }
        let yamlA = MediaIntegrationTests.yaml + """
            catalog:
              node: node-a
            dns:
              server: \(dns.address)
            replication:
              peers:
                - name: node-b
                  url: http://peers.example.com
                  token-env: PEER_B_TOKEN

            """
        let nodeA = try ServerProcess(yaml: yamlA, environment: ["SIPRECD_API_TOKEN": Self.tokenA, "PEER_B_TOKEN": Self.tokenB])
        defer { nodeA.stop() }
        let calls = 3
        let run = try await DrainIntegrationTests.LoadgenRun(target: "127.0.0.1:\(nodeA.port("udp"))", calls: calls, rate: 3, duration: 2,
                                                             verify: [nodeA.dataDirectory]).finish()
        #expect(run.report["recordingsVerified"] as? Int == calls, "\(run.summary)")
        try await DrainIntegrationTests.waitUntil(timeout: 30, "node B to hold every recording") {
            await Self.items(nodeB.httpPort, token: Self.tokenB).count == calls
        }
        let metrics = String(decoding: try await CatalogIntegrationTests.get(nodeA.httpPort, "/metrics", token: nil).body, as: UTF8.self)
        #expect(Self.metric(metrics, #"siprecd_replication_sent_total{peer="node-b"}"#) == calls)
        #expect(dns.queryLog.contains("_http._tcp.peers.example.com"), "\(dns.queryLog)")
    }
}
