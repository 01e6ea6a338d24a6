import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOCore
import SIPCore
import SIPTestSupport
import Testing

/// A BYE the recorder sends to a remote target that names a host goes where RFC 3263 locates
/// it (SRV, priority first), and moves to the next target when one does not answer.
@Suite("BYE located by DNS", .serialized)
struct LocatedBYEIntegrationTests {
    static let token = "located-bye-secret"

    @Test("stopping a call whose Contact names a host: the BYE tries the SRV targets in order, the silent one first, then reaches the SRC")
    func byeFollowsSRV() async throws {
        // A port with nothing behind it is the first SRV choice; the SRC's own port the second.
        let dead = try Sipp.freeUDPPort()
        // The SRC's receiving socket first, so its port can go into the DNS records.
        let src = try await SIPTestClient.udp(port: 9)
        defer { Task { await src.close() } }
        let dns = try TestDNSServer.start(records: [
            .srv("_sip._udp.src.example.com", target: "gone.example.com", port: UInt16(dead), priority: 10, weight: 100),
            .srv("_sip._udp.src.example.com", target: "here.example.com", port: UInt16(src.localPort), priority: 20, weight: 100),
            .host("gone.example.com", address: "127.0.0.1"),
            .host("here.example.com", address: "127.0.0.1"),
        ])
        defer { dns.stop() }
        // T1 of 50 ms: a BYE that nobody answers gives up after 64*T1 = 3.2 s.
        let running = try ServerProcess(yaml: MediaIntegrationTests.yaml + "sip:\n  timers: {t1-ms: 50}\ndns:\n  server: \(dns.address)\n",
                                        environment: ["SIPRECD_API_TOKEN": Self.token])
        defer { running.stop() }
        let caller = try await SIPTestClient.udp(port: running.port("udp"))
        defer { Task { await caller.close() } }
        var call = TestSIPRECCall(client: caller)
        call.contactURI = "sip:src@src.example.com"
        try await call.start()

        // Stop the recording through the API: the recorder sends the BYE.
        let calls = try await CatalogIntegrationTests.get(running.httpPort, "/api/v1/calls", token: Self.token)
        let id = try #require((calls.json["items"] as? [[String: Any]])?.first?["recordingId"] as? String)
        #expect(try await CatalogIntegrationTests.post(running.httpPort, "/api/v1/calls/\(id)/stop", token: Self.token).status == 202)
        let sent = Date()

        // It reaches the SRC at its second SRV target, after the first timed out.
        let bye = try #require(await src.nextMessage(timeout: .seconds(10)), "no BYE reached the SRC's located address")
        guard case .request(let byeRequest) = bye else {
            Issue.record("expected a BYE, got \(bye)")
            return
        }
        #expect(byeRequest.method == .bye)
        #expect(byeRequest.callID == call.callID)
        #expect(Date().timeIntervalSince(sent) >= 3, "the silent first target was not tried first")
        // The server's output reaches the test through a pipe: the line may trail the BYE.
        try await DrainIntegrationTests.waitUntil(timeout: 10, "the log line of the failover") { running.log.contains("trying the next") }
        #expect(dns.queryLog.contains("_sip._udp.src.example.com"))
    }
}
